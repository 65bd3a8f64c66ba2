"""Following every item along the belt: odometry, association, class fusion and pick decisions."""

from waste_sorting.tracking.odometry import BeltOdometry
from waste_sorting.tracking.tracker import (
    CLOSED_FLOOR,
    BinMap,
    ConveyorTracker,
    Decision,
    TrackerConfig,
    tracker_status,
)

__all__ = ["CLOSED_FLOOR", "BeltOdometry", "BinMap", "ConveyorTracker", "Decision", "TrackerConfig", "tracker_status"]
