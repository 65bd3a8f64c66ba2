"""The cell's stages, written once and wired by the nodes (live, over DDS) and the offline tools.

A frame goes through three stages: `DetectStage` (frame checks, segmentation,
classification), `TrackStage` (speed source, tracking, decisions) and
`ActuateStage` (commands, amendments, one outcome per item) with a
`CommandSender` behind it (`LinkSender` live, `ControllerSender` offline).
`specs` declares every node's parameters; `builders` turns their values into
core objects. Nothing here imports ROS.
"""

from waste_sorting.cell import specs
from waste_sorting.cell.actuate import NAK_REASONS, ActuateStage, CommandSender, outcome_name, outcome_of
from waste_sorting.cell.builders import (
    detector_settings,
    ejector_geometry,
    link_config,
    sim_config,
    tracker_settings,
)
from waste_sorting.cell.detect import Detected, DetectStage, DetectStats, Rejected, build_detect, class_names_warning
from waste_sorting.cell.senders import ControllerSender, LinkSender
from waste_sorting.cell.track import TrackStage

__all__ = [
    "NAK_REASONS",
    "ActuateStage",
    "CommandSender",
    "ControllerSender",
    "DetectStage",
    "DetectStats",
    "Detected",
    "LinkSender",
    "Rejected",
    "TrackStage",
    "build_detect",
    "class_names_warning",
    "detector_settings",
    "ejector_geometry",
    "link_config",
    "outcome_name",
    "outcome_of",
    "sim_config",
    "specs",
    "tracker_settings",
]
