"""`waste-sorting record`: record live topics into a rosbag2 bag (for machines without rosbag2).

Subscriptions are raw (serialized bytes, no decoding), so any message type
is recorded exactly as it travelled; types come from the ROS graph.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from waste_sorting.bags.io import BagWriter

RECORD_DEPTH = 1000  # a burst of frames waits here while the writer catches up, as in rosbag2


def matching_qos(node: Any, topic: str) -> Any:
    """What `ros2 bag record` does: reliable (and transient local) where every publisher offers it, so a
    reliable camera loses nothing; best effort where any publisher is best effort, or it would not match."""
    from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

    pubs = node.get_publishers_info_by_topic(topic)
    reliable = bool(pubs) and all(p.qos_profile.reliability == ReliabilityPolicy.RELIABLE for p in pubs)
    latched = bool(pubs) and all(p.qos_profile.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in pubs)
    return QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=RECORD_DEPTH,
                      reliability=ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
                      durability=DurabilityPolicy.TRANSIENT_LOCAL if latched else DurabilityPolicy.VOLATILE)


def record(out: Path, topics: list[str], duration: float, storage: str = "mcap", compress: bool = False,
           discovery: float = 2.0) -> dict[str, int]:
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from waste_sorting.bags.io import message_class

    own_context = not rclpy.ok()
    if own_context:
        rclpy.init()
    node = rclpy.create_node("bag_record")
    wanted = {"/" + t.lstrip("/") for t in topics}
    counts: dict[str, int] = {}
    subscribed: set[str] = set()
    writer = BagWriter(out, storage, compress)
    executor = SingleThreadedExecutor()
    executor.add_node(node)

    def subscribe_new() -> None:
        for name, types in node.get_topic_names_and_types():
            if name in subscribed or (wanted and name not in wanted) or name in ("/rosout", "/parameter_events"):
                continue
            msgtype = types[0]
            try:
                cls = message_class(msgtype)
            except ValueError:
                node.get_logger().warning(f"cannot record {name}: type {msgtype} not installed")
                subscribed.add(name)
                continue

            def on_msg(data: bytes, topic: str = name, mt: str = msgtype) -> None:
                writer.write_raw(topic, mt, data, node.get_clock().now().nanoseconds)
                counts[topic] = counts.get(topic, 0) + 1

            node.create_subscription(cls, name, on_msg, matching_qos(node, name), raw=True)
            subscribed.add(name)

    try:
        end = time.monotonic() + duration if duration > 0 else float("inf")
        next_scan = 0.0
        start = time.monotonic()
        while time.monotonic() < end:
            if time.monotonic() >= next_scan:
                subscribe_new()
                next_scan = time.monotonic() + (0.2 if time.monotonic() - start < discovery else 1.0)
            executor.spin_once(timeout_sec=0.05)
    except KeyboardInterrupt:
        pass
    finally:
        writer.close()
        node.destroy_node()
        if own_context:
            rclpy.shutdown()
    return counts
