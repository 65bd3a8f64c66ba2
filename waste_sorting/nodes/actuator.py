"""actuator: picks/requested -> timed FIRE/PICK commands on the serial link -> picks/fired.

Every request ends as exactly one picks/fired record: SORTED when the
controller acknowledged the command, else MISSED with the reason (too late,
link down, stopped, refused). An AMENDED request (the tracker re-planned a
released pulse) is sent only to replace a pulse the controller accepted; it is
counted in the diagnostics, not published again. The software stop (``~/enable``, SetBool)
disarms the controller and refuses new picks; the machine's emergency stop is
hard-wired and never depends on this link.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import numpy as np
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2
from std_srvs.srv import SetBool

from waste_sorting.itemlist import ItemFlags, ItemStatus, MissReason
from waste_sorting.nodes.common import ejector_geometry
from waste_sorting.params import EJECTOR_PARAMS, Param
from waste_sorting.protocol.frames import MsgType, NakReason
from waste_sorting.protocol.link import CommandResult, ControllerLink, LinkConfig, Outcome
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import ERROR, OK, WARN, Diagnostics
from waste_sorting.ros.graph import warn_on_foreign_publishers
from waste_sorting.ros.messages import cloud_to_items, items_to_cloud, to_stamp
from waste_sorting.scheduling.amendments import Amend, PulseBook
from waste_sorting.scheduling.commands import command_for

PARAMS = (
    Param("port", "/dev/ttyUSB0", "serial device of the valve controller / robot interface", read_only=True),
    Param("baudrate", 921600, "serial baud rate", "baud", 1200, 12_000_000, read_only=True),
    Param("ack_timeout", 0.03, "time to wait for ACK before resending", "s", 0.001, 1.0, read_only=True),
    Param("retries", 3, "resends before a command counts as lost", "", 0, 20, read_only=True),
    Param("heartbeat_period", 0.1, "heartbeat interval (controller watchdog trips after ~5 missed)", "s",
          0.01, 1.0, read_only=True),
    Param("min_lead", 0.005, "drop commands whose fire time is closer than this", "s", 0.0, 1.0),
    Param("enabled", True, "firing enabled (software stop when false)"),
    *EJECTOR_PARAMS,
)

_NAK_REASON = {NakReason.TOO_LATE: MissReason.TOO_LATE, NakReason.DISARMED: MissReason.STOPPED,
               NakReason.QUEUE_FULL: MissReason.EJECTOR_BUSY}


class Actuator(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("actuator", **kwargs)
        self.values = parameters.declare(self, PARAMS)
        self.geometry = ejector_geometry(self.values)
        parameters.watch(self, PARAMS, self.values, self._apply)
        self.link = ControllerLink(LinkConfig(
            port=self.values["port"], baudrate=self.values["baudrate"], ack_timeout_s=self.values["ack_timeout"],
            retries=self.values["retries"], heartbeat_s=self.values["heartbeat_period"]),
            log=self.get_logger().info)
        self.link.want_armed = self.values["enabled"]
        self.sub = self.create_subscription(PointCloud2, "picks/requested", self._on_picks, 50)
        warn_on_foreign_publishers(self, "picks/requested")
        self.fired_pub = self.create_publisher(PointCloud2, "picks/fired", 50)
        self.srv = self.create_service(SetBool, "~/enable", self._on_enable)
        self.diag = Diagnostics(self, hardware_id=self.values["port"])
        self._lock = threading.Lock()
        self.outcomes: dict[str, int] = {}
        self.book = PulseBook()
        self.link.start()
        self._diag_timer = self.create_timer(1.0, self._publish_status)

    def _apply(self, v: dict[str, Any]) -> None:
        geom = ejector_geometry(v)
        if v["enabled"] != self.values["enabled"]:
            self.link.want_armed = v["enabled"]
            self.link.send(MsgType.ARM if v["enabled"] else MsgType.STOP)
        self.geometry = geom

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
            if int(rec["flags"]) & ItemFlags.AMENDED:
                with self._lock:
                    verdict = self.book.offer(rec)
                if verdict == Amend.SEND:
                    self._amend(rec.copy())
                else:
                    self._count(f"AMEND_{verdict.name}")
            else:
                self._execute(rec.copy())

    def _send(self, rec: np.void, done: Callable[[CommandResult], None]) -> MissReason | None:
        """Send the command for ``rec`` (``done`` gets its result), or say why it cannot go."""
        now_ros, now_host = self._now(), time.monotonic()
        cmd = command_for(rec, now_ros, self.geometry, self.values["min_lead"], self.values["enabled"],
                          self.link.connected and self.link.synced)
        if isinstance(cmd, MissReason):
            return cmd
        rec["valve_first"], rec["valve_count"] = cmd.valve_first, cmd.valve_count
        self.link.send_timed(cmd, now_host + float(rec["fire_time"]) - now_ros, done)
        return None

    def _execute(self, rec: np.void) -> None:
        item = int(rec["item_id"])

        def done(result: CommandResult, rec: np.void = rec) -> None:
            self._settled(item, result.outcome == Outcome.ACKED)
            if result.outcome == Outcome.ACKED:
                self._finish(rec, ItemStatus.SORTED, MissReason.NONE)
            elif result.outcome == Outcome.TOO_LATE:
                self._finish(rec, ItemStatus.MISSED, MissReason.TOO_LATE)
            elif result.outcome == Outcome.NAKED:
                self._finish(rec, ItemStatus.MISSED, _NAK_REASON.get(result.nak_reason, MissReason.NAK))
            else:
                self._finish(rec, ItemStatus.MISSED, MissReason.LINK_DOWN)

        with self._lock:
            self.book.sending(item)
        why = self._send(rec, done)
        if why is not None:
            self._settled(item, False)
            self._finish(rec, ItemStatus.MISSED, why)

    def _amend(self, rec: np.void) -> None:
        """Replace an accepted pulse; a refused amendment leaves that pulse as it was."""
        item = int(rec["item_id"])

        def done(result: CommandResult) -> None:
            self._count("AMENDED" if result.outcome == Outcome.ACKED else f"AMEND_{result.outcome.name}")
            self._settled(item, result.outcome == Outcome.ACKED)

        why = self._send(rec, done)
        if why is not None:
            self._count(f"AMEND_{why.name}")
            self._settled(item, False)

    def _settled(self, item: int, acked: bool) -> None:
        with self._lock:
            waiting = self.book.settled(item, acked)
        if waiting is not None:
            self._amend(waiting)

    def _count(self, key: str) -> None:
        with self._lock:
            self.outcomes[key] = self.outcomes.get(key, 0) + 1

    def _finish(self, rec: np.void, status: ItemStatus, reason: MissReason) -> None:
        rec["status"], rec["reason"] = status, reason
        self._count(status.name if reason == MissReason.NONE else f"{status.name}_{reason.name}")
        self.fired_pub.publish(items_to_cloud(np.array([rec]), to_stamp(self._now())))

    def _publish_status(self) -> None:
        st = self.link.stats
        connected = self.link.connected
        level = OK if connected and self.values["enabled"] else (WARN if connected else ERROR)
        message = "link up" if connected else "link down"
        if not self.values["enabled"]:
            message += ", firing disabled"
        with self._lock:
            values: dict[str, Any] = dict(self.outcomes)
        values.update({"sent": st.sent, "acked": st.acked, "naked": st.naked, "retries": st.retries,
                       "timeouts": st.timeouts, "reconnects": st.reconnects,
                       "controller_restarts": st.controller_restarts, "rtt_ms": st.rtt_ms})
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
