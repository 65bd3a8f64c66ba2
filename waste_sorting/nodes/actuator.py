"""actuator: picks/requested -> timed FIRE/PICK commands on the serial link -> picks/fired.

Every first request ends as exactly one picks/fired record (`cell.ActuateStage`
says how). The software stop (``~/enable``, SetBool) disarms the controller and
refuses new picks; the machine's emergency stop is hard-wired and never
depends on this link.
"""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import SetBool

from waste_sorting.cell import ActuateStage, LinkSender, ejector_geometry, link_config, specs
from waste_sorting.protocol.frames import MsgType
from waste_sorting.protocol.link import ControllerLink
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import ERROR, OK, WARN, Diagnostics
from waste_sorting.ros.graph import warn_on_foreign_publishers
from waste_sorting.ros.messages import cloud_to_items, items_to_cloud, to_stamp


class Actuator(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("actuator", **kwargs)
        self.values = parameters.declare(self, specs.ACTUATOR)
        self.link = ControllerLink(link_config(self.values), log=self.get_logger().info)
        self.link.want_armed = self.values["enabled"]
        self.stage = ActuateStage(ejector_geometry(self.values), self.values["min_lead"], self.values["enabled"],
                                  LinkSender(self.link), self._now, self._publish_fired)
        parameters.watch(self, specs.ACTUATOR, self.values, self._apply)
        self.sub = self.create_subscription(PointCloud2, "picks/requested", self._on_picks, 50)
        warn_on_foreign_publishers(self, "picks/requested")
        self.fired_pub = self.create_publisher(PointCloud2, "picks/fired", 50)
        self.srv = self.create_service(SetBool, "~/enable", self._on_enable)
        self.diag = Diagnostics(self, hardware_id=self.values["port"])
        self.link.start()
        self._diag_timer = self.create_timer(1.0, self._publish_status)

    def _apply(self, v: dict[str, Any]) -> None:
        geometry = ejector_geometry(v)
        if v["enabled"] != self.values["enabled"]:
            self.link.want_armed = v["enabled"]
            self.link.send(MsgType.ARM if v["enabled"] else MsgType.STOP)
        self.stage.geometry, self.stage.min_lead, self.stage.enabled = geometry, v["min_lead"], v["enabled"]

    def _on_enable(self, request: SetBool.Request, response: SetBool.Response) -> SetBool.Response:
        from rclpy.parameter import Parameter

        result = self.set_parameters([Parameter("enabled", value=bool(request.data))])[0]
        response.success = result.successful
        response.message = "firing enabled" if request.data else "firing disabled (software stop)"
        if not result.successful:
            response.message = result.reason
        return response

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_picks(self, msg: PointCloud2) -> None:
        try:
            picks = cloud_to_items(msg)
        except ValueError as exc:
            self.get_logger().warning(f"bad pick list: {exc}", throttle_duration_sec=5.0)
            return
        for rec in picks:
            self.stage.request(rec.copy())

    def _publish_fired(self, rec: np.void) -> None:
        self.fired_pub.publish(items_to_cloud(np.array([rec]), to_stamp(self._now())))

    @property
    def outcomes(self) -> dict[str, int]:
        return self.stage.counts()

    def _publish_status(self) -> None:
        st, connected, enabled = self.link.stats, self.link.connected, self.values["enabled"]
        level = OK if connected and enabled else (WARN if connected else ERROR)
        message = ("link up" if connected else "link down") + ("" if enabled else ", firing disabled")
        values: dict[str, Any] = {**self.outcomes, "sent": st.sent, "acked": st.acked, "naked": st.naked,
                                  "retries": st.retries, "timeouts": st.timeouts, "reconnects": st.reconnects,
                                  "controller_restarts": st.controller_restarts, "rtt_ms": st.rtt_ms}
        self.diag.publish(level, message, values)

    def destroy_node(self) -> None:
        """Disarm the controller (every valve closed, queued pulses dropped) before the link goes."""
        if getattr(self, "link", None) is None:  # a refused parameter stopped __init__ before the link
            super().destroy_node()
            return
        self.link.want_armed = False
        if self.link.connected:
            done = threading.Event()
            self.link.send(MsgType.STOP, on_result=lambda _result: done.set())
            done.wait(self.values["ack_timeout"] * (self.values["retries"] + 1) + 0.1)
        self.link.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from waste_sorting.ros.spin import spin_node

    spin_node(Actuator, args)


if __name__ == "__main__":
    main()
