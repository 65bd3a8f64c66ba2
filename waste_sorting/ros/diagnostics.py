"""A small /diagnostics publisher: one DiagnosticStatus per node, from a dict."""

from __future__ import annotations

from typing import Any

from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node

OK, WARN, ERROR = DiagnosticStatus.OK, DiagnosticStatus.WARN, DiagnosticStatus.ERROR


class Diagnostics:
    def __init__(self, node: Node, hardware_id: str = "") -> None:
        self.node = node
        self.hardware_id = hardware_id
        self.pub = node.create_publisher(DiagnosticArray, "/diagnostics", 10)

    def publish(self, level: bytes, message: str, values: dict[str, Any]) -> None:
        status = DiagnosticStatus(level=level, name=f"waste_sorting: {self.node.get_fully_qualified_name()}",
                                  message=message, hardware_id=self.hardware_id)
        status.values = [KeyValue(key=str(k), value=_fmt(v)) for k, v in values.items()]
        msg = DiagnosticArray()
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.status = [status]
        self.pub.publish(msg)


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)
