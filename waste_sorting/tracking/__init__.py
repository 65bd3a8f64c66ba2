"""Following every item along the belt: odometry, association, class fusion and pick decisions."""

from waste_sorting.tracking.odometry import BeltOdometry
from waste_sorting.tracking.tracker import BinMap, ConveyorTracker, Decision, TrackerConfig, tracker_status

__all__ = ["BeltOdometry", "BinMap", "ConveyorTracker", "Decision", "TrackerConfig", "tracker_status"]
