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

from waste_sorting.itemlist import ItemStatus
from waste_sorting.nodes.common import HISTORY, ejector_geometry
from waste_sorting.params import CLASSES, EJECTOR_PARAMS, Param
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import OK, WARN, Diagnostics
from waste_sorting.ros.graph import warn_on_foreign_publishers
from waste_sorting.ros.markers import cell_markers
from waste_sorting.ros.messages import cloud_to_items, items_to_cloud, to_sec, to_stamp
from waste_sorting.tracking.odometry import BeltOdometry
from waste_sorting.tracking.tracker import BinMap, ConveyorTracker, TrackerConfig

PARAMS = (
    Param("belt_speed", 2.0, "configured belt speed (speed_source=fixed)", "m/s", 0.0, 10.0),
    Param("speed_source", "fixed", "where belt speed comes from", choices=("fixed", "encoder", "estimated")),
    Param("encoder_ticks_per_metre", 0.0, "encoder counts per metre of belt (0: position is already in m)",
          "1/m", 0.0, 1e9),
    Param("encoder_joint", "", "JointState entry to read ('' = the first)"),
    Param("speed_mismatch_warn", 0.05, "warn when configured and measured speed differ by this fraction",
          "", 0.0, 1.0),
    CLASSES,
    Param("bin_classes", ["cardboard", "glass", "metal", "paper", "plastic"],
          "class each ejector sorts out (index = ejector); other classes go to residue"),
    Param("bin_min_confidence", [0.5, 0.5, 0.5, 0.5, 0.5], "confidence an item needs for each bin",
          "", 0.0, 1.0),
    Param("view_x_min", 0.0, "upstream edge of the camera view on the belt", "m", -10.0, 10.0),
    Param("view_x_max", 1.024, "downstream edge of the camera view on the belt", "m", -10.0, 10.0),
    Param("gate_along", 0.07, "association gate along travel", "m", 0.001, 1.0),
    Param("gate_across", 0.05, "association gate across the belt", "m", 0.001, 1.0),
    Param("min_hits", 2, "sightings before an item counts", "", 1, 100),
    Param("max_unseen", 0.25, "time a track may go unseen in view before it is decided", "s", 0.01, 10.0),
    Param("min_lead", 0.02, "shortest time between a pick request and its fire time", "s", 0.0, 5.0),
    Param("overlap_policy", "skip", "a pulse that would also eject a neighbour bound elsewhere: skip it "
          "(purity first) or fire anyway (recovery first)", choices=("skip", "fire")),
    Param("pick_lead", 0.3, "release a pick request this long before its fire time (slack for a busy host; "
          "a belt speed change after release is followed by amendment)", "s", 0.0, 5.0),
    Param("amend_tolerance", 0.002, "re-request a released pulse whose fire time moved by more than this "
          "(belt speed changed, newer sighting; the controller replaces it); 0: never", "s", 0.0, 1.0),
    Param("decide_after", 4, "decide an item once it has this many classified sightings, before it leaves the "
          "view (keep it equal to classifier max_classifications; 0: decide at the view's edge)", "", 0, 1000),
    *EJECTOR_PARAMS,
)


def _build(v: dict[str, Any]) -> tuple[TrackerConfig, BinMap, Any]:
    if v["view_x_max"] <= v["view_x_min"]:
        raise ValueError("view_x_max must be greater than view_x_min")
    geom = ejector_geometry(v)
    bins = BinMap(list(v["classes"]), list(v["bin_classes"]), list(v["bin_min_confidence"]))
    bins.validate()
    if len(bins.ejector_class) > len(geom.x):
        raise ValueError(f"{len(bins.ejector_class)} bins but only {len(geom.x)} ejectors in ejector_x")
    if min(geom.x) <= v["view_x_max"]:
        raise ValueError("every ejector must be downstream of the camera view (ejector_x > view_x_max)")
    cfg = TrackerConfig(view_x_min=v["view_x_min"], view_x_max=v["view_x_max"], gate_along=v["gate_along"],
                        gate_across=v["gate_across"], min_hits=v["min_hits"], max_unseen=v["max_unseen"],
                        min_lead=v["min_lead"], pick_lead=v["pick_lead"], overlap_policy=v["overlap_policy"],
                        decide_after=v["decide_after"], amend_tolerance=v["amend_tolerance"])
    if cfg.pick_lead < cfg.min_lead:
        raise ValueError("pick_lead must be >= min_lead")
    return cfg, bins, geom


class Tracker(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("tracker", **kwargs)
        self.values = parameters.declare(self, PARAMS)
        cfg, bins, geom = _build(self.values)
        self.odometry = BeltOdometry(self.values["belt_speed"])
        self.core = ConveyorTracker(cfg, bins, geom, self.odometry)
        parameters.watch(self, PARAMS, self.values, self._apply)
        self.sub = self.create_subscription(PointCloud2, "items/detected", self._on_items, 10)
        warn_on_foreign_publishers(self, "items/detected")
        self.encoder_sub = self.create_subscription(JointState, "belt/encoder", self._on_encoder, 50)
        self.tracked_pub = self.create_publisher(PointCloud2, "items/tracked", 10)
        self.picks_pub = self.create_publisher(PointCloud2, "picks/requested", 50)
        self.decided_pub = self.create_publisher(PointCloud2, "items/decided", 50)
        self.speed_pub = self.create_publisher(TwistStamped, "belt/speed_estimate", 10)
        self.markers_pub = self.create_publisher(MarkerArray, "visualization", 10)
        self._last_markers = 0.0
        self.diag = Diagnostics(self)
        self.decision_latency: deque[float] = deque(maxlen=HISTORY)
        self.decided: deque[np.void] = deque(maxlen=HISTORY)  # the last decisions, for the run's report
        self.bad_messages = 0
        self._last_diag = time.monotonic()
        self._started = False
        self.timer = self.create_timer(0.005, self._poll)

    def _now(self) -> float:
        return self.get_clock().now().nanoseconds * 1e-9

    def _apply(self, v: dict[str, Any]) -> None:
        cfg, bins, geom = _build(v)
        self.core.cfg, self.core.bins, self.core.geometry = cfg, bins, geom
        if v["speed_source"] == "fixed" and v["belt_speed"] != self.odometry.speed:
            self.odometry.set_speed(v["belt_speed"], self._now())

    def _on_encoder(self, msg: JointState) -> None:
        if self.values["speed_source"] != "encoder" or not msg.position:
            return
        joint = self.values["encoder_joint"]
        i = list(msg.name).index(joint) if joint and joint in msg.name else 0
        if joint and joint not in msg.name:
            self.get_logger().warning(f"encoder joint {joint!r} not in {list(msg.name)}", throttle_duration_sec=10.0)
            return
        scale = 1.0 / self.values["encoder_ticks_per_metre"] if self.values["encoder_ticks_per_metre"] > 0 else 1.0
        speed = float(msg.velocity[i]) * scale if len(msg.velocity) > i else None
        try:
            self.odometry.add_sample(to_sec(msg.header.stamp), float(msg.position[i]) * scale, speed)
        except ValueError as exc:
            self.get_logger().warning(f"encoder sample ignored: {exc}", throttle_duration_sec=5.0)

    def _on_items(self, msg: PointCloud2) -> None:
        try:
            items = cloud_to_items(msg)
        except ValueError as exc:
            self.bad_messages += 1
            self.get_logger().warning(f"bad item list: {exc}", throttle_duration_sec=5.0)
            return
        stamp = to_sec(msg.header.stamp)
        if not self._started:
            self._started = True
            if self.values["speed_source"] == "fixed":
                self.odometry.set_speed(self.values["belt_speed"], stamp)
        self.core.update(items, stamp)
        if self.values["speed_source"] == "estimated" and self.core.measured_speed is not None:
            self.odometry.set_speed(self.core.measured_speed, stamp)
        tracked = self.core.tracked(stamp)
        self.tracked_pub.publish(items_to_cloud(tracked, msg.header.stamp))
        if stamp - self._last_markers >= 0.1 and self.markers_pub.get_subscription_count():
            self._last_markers = stamp
            self.markers_pub.publish(cell_markers(tracked, self.core.geometry, self.core.bins.classes,
                                                  msg.header.stamp, (self.core.cfg.view_x_min,
                                                                     self.core.cfg.view_x_max)))

    def _poll(self) -> None:
        if not self._started:
            return
        now = self._now()
        decisions = self.core.poll(now)
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
        if time.monotonic() - self._last_diag > 1.0:
            self._last_diag = time.monotonic()
            self._publish_status(now)

    def _publish_status(self, now: float) -> None:
        measured = self.core.measured_speed
        configured = self.odometry.speed
        speed = TwistStamped()
        speed.header.stamp = to_stamp(now)
        speed.header.frame_id = "belt"
        speed.twist.linear.x = float(measured if measured is not None else configured)
        self.speed_pub.publish(speed)
        mismatch = self.core.speed_mismatch(self.values["speed_mismatch_warn"], now)
        values: dict[str, Any] = {"speed_configured": configured, "speed_measured": measured or 0.0,
                                  "tracks": len(self.core.tracks), "created": self.core.stats.created,
                                  "noise_rejected": self.core.stats.rejected_noise,
                                  "overlaps": self.core.stats.overlaps,
                                  "amendments": self.core.stats.amendments,
                                  "late_classifications": self.core.stats.late_classifications,
                                  "bad_messages": self.bad_messages}
        for (status, reason), n in sorted(self.core.stats.decisions.items()):
            values[f"{status.lower()}_{reason.lower()}"] = n
        if mismatch:
            self.get_logger().warning(mismatch, throttle_duration_sec=10.0)
        problem = mismatch
        if not problem and self.core.stats.late_classifications > self.core.stats.created:
            # More classifications arrive after decisions than there are items: the classifier
            # classifies each item more often than decide_after waits for, and that evidence is wasted.
            problem = (f"{self.core.stats.late_classifications} classifications arrived after their item was "
                       f"decided: set decide_after to the classifier's max_classifications")
        self.diag.publish(WARN if problem else OK, problem or "running", values)


def main(args: list[str] | None = None) -> None:
    from waste_sorting.ros.spin import spin_node

    spin_node(Tracker, args)


if __name__ == "__main__":
    main()
