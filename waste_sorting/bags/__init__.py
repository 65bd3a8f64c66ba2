"""rosbag2 bags without a ROS install: read and write them (rosbags), render simulated ones, replay and
record live topics (these two need rclpy, imported when called)."""

from waste_sorting.bags.io import (
    TYPESTORE,
    BagError,
    BagMessage,
    BagWriter,
    bag_name,
    custom_data,
    open_bag,
    read,
    topics,
    truth_class_names,
)
from waste_sorting.bags.record import record
from waste_sorting.bags.replay import replay
from waste_sorting.bags.simbag import BAG_EPOCH, render_bag, write_sim_bag

__all__ = [
    "BAG_EPOCH",
    "BagError",
    "BagMessage",
    "BagWriter",
    "TYPESTORE",
    "bag_name",
    "custom_data",
    "open_bag",
    "read",
    "record",
    "render_bag",
    "replay",
    "topics",
    "truth_class_names",
    "write_sim_bag",
]
