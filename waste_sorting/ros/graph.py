"""Two cells on one ROS domain and namespace read each other's topics: say so, once, with the fix."""

from __future__ import annotations

from rclpy.node import Node

CHECK_PERIOD_S = 2.0


def warn_on_foreign_publishers(node: Node, topic: str, expected: int = 1) -> None:
    """Warn once when ``topic`` has more publishers than one cell has (checked every 2 s)."""
    state = {"warned": False}

    def check() -> None:
        count = node.count_publishers(topic)
        if count > expected and not state["warned"]:
            state["warned"] = True
            node.get_logger().warning(
                f"{count} publishers on {node.resolve_topic_name(topic)} where this cell has {expected}: another "
                "cell (or a bag replay) is on this ROS_DOMAIN_ID and namespace, and its messages mix with this "
                "cell's; give each cell its own ROS_DOMAIN_ID or namespace (namespace:=NAME, run --namespace NAME)")

    node.create_timer(CHECK_PERIOD_S, check)
