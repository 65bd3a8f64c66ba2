"""tracker: items/detected -> items/tracked, picks/requested (once per item), items/decided."""

from __future__ import annotations

import time
from collections import deque
from typing import Any

import numpy as np
from geometry_msgs.msg import TwistStamped
from rclpy.node import Node
from sensor_msgs.msg import JointState, PointCloud2
from visualization_msgs.msg import MarkerArray

from waste_sorting.cell import TrackStage, specs
from waste_sorting.itemlist import ItemStatus
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import OK, WARN, Diagnostics
from waste_sorting.ros.graph import warn_on_foreign_publishers
from waste_sorting.ros.markers import cell_markers
from waste_sorting.ros.messages import cloud_to_items, items_to_cloud, to_sec, to_stamp
from waste_sorting.tracking.tracker import tracker_status

HISTORY = 10_000  # recent decisions and latencies kept for the run's report (a shift runs for hours)


class Tracker(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("tracker", **kwargs)
        self.values = parameters.declare(self, specs.TRACKER)
        self.stage = TrackStage(self.values)
        parameters.watch(self, specs.TRACKER, self.values, lambda v: self.stage.configure(v, self._now()))
        self.sub = self.create_subscription(PointCloud2, "items/detected", self._on_items, 10)
        warn_on_foreign_publishers(self, "items/detected")
        self.encoder_sub = self.create_subscription(JointState, "belt/encoder", self._on_encoder, 50)
        self.tracked_pub = self.create_publisher(PointCloud2, "items/tracked", 10)
        self.picks_pub = self.create_publisher(PointCloud2, "picks/requested", 50)
        self.decided_pub = self.create_publisher(PointCloud2, "items/decided", 50)
        self.speed_pub = self.create_publisher(TwistStamped, "belt/speed_estimate", 10)
        self.markers_pub = self.create_publisher(MarkerArray, "visualization", 10)
        self.diag = Diagnostics(self)
        self.decision_latency: deque[float] = deque(maxlen=HISTORY)
        self.decided: deque[np.void] = deque(maxlen=HISTORY)
        self.bad_messages = 0
        self._last_markers = 0.0
        self._last_diag = time.monotonic()
        self.timer = self.create_timer(0.005, self._poll)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _on_encoder(self, msg: JointState) -> None:
        problem = self.stage.on_encoder(to_sec(msg.header.stamp), msg.name, msg.position, msg.velocity)
        if problem:
            self.get_logger().warning(problem, throttle_duration_sec=10.0)

    def _on_items(self, msg: PointCloud2) -> None:
        try:
            items = cloud_to_items(msg)
        except ValueError as exc:
            self.bad_messages += 1
            self.get_logger().warning(f"bad item list: {exc}", throttle_duration_sec=5.0)
            return
        stamp = to_sec(msg.header.stamp)
        self.stage.on_detections(items, stamp)
        core = self.stage.tracker
        tracked = core.tracked(stamp)
        self.tracked_pub.publish(items_to_cloud(tracked, msg.header.stamp))
        if stamp - self._last_markers >= 0.1 and self.markers_pub.get_subscription_count():
            self._last_markers = stamp
            self.markers_pub.publish(cell_markers(tracked, core.geometry, core.bins.classes, msg.header.stamp,
                                                  (core.cfg.view_x_min, core.cfg.view_x_max)))

    def _poll(self) -> None:
        now = self._now()
        decisions = self.stage.poll(now)
        if decisions:
            stamp = to_stamp(now)
            requested = [d.record for d in decisions if d.record["status"] == ItemStatus.REQUESTED]
            if requested:  # first requests and amendments alike
                self.picks_pub.publish(items_to_cloud(np.stack(requested), stamp))
            decided = [d for d in decisions if not d.amended]  # one record per item
            if decided:
                self.decided_pub.publish(items_to_cloud(np.stack([d.record for d in decided]), stamp))
                self.decision_latency.extend(d.latency for d in decided)
                self.decided.extend(d.record for d in decided)
        if self.stage.started and time.monotonic() - self._last_diag > 1.0:
            self._last_diag = time.monotonic()
            self._publish_status(now)

    def _publish_status(self, now: float) -> None:
        core = self.stage.tracker
        speed = TwistStamped()
        speed.header.stamp, speed.header.frame_id = to_stamp(now), "belt"
        speed.twist.linear.x = float(core.measured_speed if core.measured_speed is not None else core.odometry.speed)
        self.speed_pub.publish(speed)
        mismatch = self.stage.speed_warning(now)
        if mismatch:
            self.get_logger().warning(mismatch, throttle_duration_sec=10.0)
        problem, values = tracker_status(core, mismatch)
        self.diag.publish(WARN if problem else OK, problem or "running", {**values, "bad_messages": self.bad_messages})


def main(args: list[str] | None = None) -> None:
    from waste_sorting.ros.spin import spin_node

    spin_node(Tracker, args)


if __name__ == "__main__":
    main()
