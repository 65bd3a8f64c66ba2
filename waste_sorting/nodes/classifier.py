"""classifier: camera/image_raw -> items/detected (belt metres, class, confidence)."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2

from waste_sorting.cell import Detected, Rejected, build_detect, class_names_warning, specs
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import OK, WARN, Diagnostics
from waste_sorting.ros.graph import warn_on_foreign_publishers
from waste_sorting.ros.messages import bgr_to_image, cloud_to_items, items_to_cloud, to_sec
from waste_sorting.vision.annotate import annotate, track_ids


class Classifier(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("classifier", **kwargs)
        self.values = parameters.declare(self, specs.CLASSIFIER)
        self.stage = build_detect(self.values)
        self.model = self.stage.detector.classifier
        assert self.model is not None
        self.get_logger().info(f"backend {self.model.choice.name}: {self.model.choice.reason}")
        if warning := class_names_warning(self.values, self.model):
            self.get_logger().warning(warning)
        parameters.watch(self, specs.CLASSIFIER, self.values, self.stage.configure)
        qos = QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=self.values["image_queue_depth"],
                         reliability=QoSReliabilityPolicy.RELIABLE if self.values["image_reliable"]
                         else QoSReliabilityPolicy.BEST_EFFORT)
        self.sub = self.create_subscription(Image, "camera/image_raw", self._on_image, qos)
        warn_on_foreign_publishers(self, "camera/image_raw")
        self.pub = self.create_publisher(PointCloud2, "items/detected", 10)
        self.debug_pub = self.create_publisher(Image, "classifier/debug_image", 1)
        # The debug image is labelled with the tracker's track ids for the same frame; its own callback
        # group, so under a multi-threaded executor track updates do not queue behind the image callback.
        self.tracked_sub = self.create_subscription(PointCloud2, "items/tracked", self._on_tracked, 5,
                                                    callback_group=MutuallyExclusiveCallbackGroup())
        self._debug: tuple[Detected, Any] | None = None  # the latest frame, waiting for its tracks
        self.diag = Diagnostics(self)
        self.stalls = 0
        self._rejection_logged: dict[str, float] = {}
        self._last_frame_wall = time.monotonic()
        self._stalled = self._camera_stopped = False
        self.get_logger().info("learning the empty belt: no items until the camera's exposure is steady")
        self.diag_timer = self.create_timer(1.0, self._publish_status)

    def _on_image(self, msg: Image) -> None:
        out = self.stage.process(msg)
        if isinstance(out, Rejected):
            if time.monotonic() - self._rejection_logged.get(out.kind, -1e9) >= 5.0:  # each kind every 5 s
                self._rejection_logged[out.kind] = time.monotonic()
                self.get_logger().warning(f"rejected frame: {out.reason}")
            return
        self._last_frame_wall, self._stalled = time.monotonic(), False
        for level, line in self.stage.news:
            getattr(self.get_logger(), level)(line)
        self.stage.news.clear()
        self.pub.publish(items_to_cloud(out.result.records, msg.header.stamp))
        if self.values["publish_debug_image"]:
            if self._debug is not None:  # its tracks never came (no tracker): shown without ids
                self._publish_debug(None)
            self._debug = (out, msg.header)

    def _on_tracked(self, msg: PointCloud2) -> None:
        if self._debug is not None and abs(to_sec(msg.header.stamp) - self._debug[0].stamp) < 1e-6:
            try:
                self._publish_debug(cloud_to_items(msg))
            except ValueError:
                self._publish_debug(None)

    def _publish_debug(self, tracked: np.ndarray | None) -> None:
        if self._debug is None:
            return
        (det, header), self._debug = self._debug, None
        ids = track_ids(tracked, det.result.records) if tracked is not None else None
        self.debug_pub.publish(bgr_to_image(annotate(det.image, det.result, self.model.classes, ids),
                                            header.stamp, header.frame_id))

    def camera_stopped(self) -> None:
        """The camera was stopped on purpose (a run ending): its silence is not a stall to warn about."""
        self._camera_stopped = True

    def _publish_status(self) -> None:
        silent = time.monotonic() - self._last_frame_wall
        if silent > self.values["stall_timeout"] and not self._stalled and not self._camera_stopped:
            self._stalled = True
            self.stalls += 1
            self.get_logger().warning(f"no camera frame for {silent:.1f} s: camera stalled or gone")
        problem, values = self.stage.status()
        values.update(stalls=self.stalls, backend=self.model.choice.name)
        if self._stalled:
            problem = f"no camera frame for {silent:.1f} s"
        self.diag.publish(WARN if problem else OK, problem or "running", values)


def main(args: list[str] | None = None) -> None:
    from waste_sorting.ros.spin import spin_node

    spin_node(Classifier, args)


if __name__ == "__main__":
    main()
