"""classifier: camera/image_raw -> items/detected (belt metres, class, confidence)."""

from __future__ import annotations

import time
from typing import Any

import cv2
import numpy as np
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.node import Node
from rclpy.qos import QoSHistoryPolicy, QoSProfile, QoSReliabilityPolicy
from sensor_msgs.msg import Image, PointCloud2

from waste_sorting import itemlist, paths
from waste_sorting.inference.backend import BACKENDS
from waste_sorting.inference.classifier import ImageClassifier
from waste_sorting.params import CLASSES, Param
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import OK, WARN, Diagnostics
from waste_sorting.ros.graph import warn_on_foreign_publishers
from waste_sorting.ros.messages import bgr_to_image, cloud_to_items, image_to_bgr, items_to_cloud, to_sec
from waste_sorting.vision.homography import Homography
from waste_sorting.vision.item_detector import DetectorConfig, FrameResult, ItemDetector
from waste_sorting.vision.segmentation import BeltSegmenter, SegmentationConfig

PARAMS = (
    Param("model", "", "ONNX model ('' = the shipped default model)", read_only=True),
    Param("backend", "auto", "inference backend", choices=BACKENDS, read_only=True),
    Param("threads", 0, "CPU inference threads (0 = automatic)", "", 0, 64, read_only=True),
    CLASSES,
    Param("homography", [0.0016, 0.0, 0.0, 0.0, -0.0016, 0.288, 0.0, 0.0, 1.0],
          "pixel -> belt metres homography, row-major 3x3 (from calibration)"),
    Param("threshold", 28.0, "colour distance from the belt that counts as an item", "0-255", 1.0, 255.0),
    Param("min_area_px", 400, "smallest item silhouette", "px", 1, 10_000_000),
    Param("downscale", 2, "segmentation works on a frame reduced by this factor", "", 1, 8),
    Param("split_touching", True, "split touching items with a watershed"),
    Param("classify_band", [0.15, 0.85], "classify items whose centre is within this fraction of the width",
          "", 0.0, 1.0),
    Param("max_classifications", 4, "classify an item at most this many times while it crosses the view "
          "(0: in every frame); later sightings still update its position", "", 0, 1000),
    Param("max_belt_speed", 4.0, "fastest belt speed to expect, for linking an item's sightings", "m/s",
          0.1, 20.0),
    Param("image_queue_depth", 1, "frames queued while busy; the oldest is dropped beyond this (1: always the "
          "newest frame)", "", 1, 100, read_only=True),
    Param("image_reliable", False, "subscribe to images RELIABLE (lossless replay; the publisher must be "
          "reliable too) instead of BEST_EFFORT (sensor data)", read_only=True),
    Param("expected_size", [0, 0], "frame width and height the calibration is for ([0, 0]: any); frames of "
          "another size are rejected", "px", 0, 16384),
    Param("stall_timeout", 1.0, "no frame for this long: camera reported stalled", "s", 0.05, 60.0),
    Param("publish_debug_image", False, "publish classifier/debug_image with boxes and labels"),
)


def _detector_parts(v: dict[str, Any]) -> tuple[Homography, SegmentationConfig, DetectorConfig]:
    band = v["classify_band"]
    if len(band) != 2 or band[0] >= band[1]:
        raise ValueError("classify_band must be [low, high] with low < high")
    return (
        Homography(v["homography"]),
        SegmentationConfig(threshold=v["threshold"], min_area_px=v["min_area_px"], downscale=v["downscale"],
                           split_touching=v["split_touching"]),
        DetectorConfig(classify_band=(band[0], band[1]), max_classifications=v["max_classifications"],
                       max_belt_speed=v["max_belt_speed"]),
    )


class Classifier(Node):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__("classifier", **kwargs)
        self.values = parameters.declare(self, PARAMS)
        self.model = ImageClassifier(paths.resolve(self.values["model"], paths.default_model()),
                                     self.values["backend"], self.values["threads"])
        self.get_logger().info(f"backend {self.model.choice.name}: {self.model.choice.reason}")
        if list(self.values["classes"]) != self.model.classes:
            self.get_logger().warning(f"parameter classes {self.values['classes']} differ from the model's "
                                      f"{self.model.classes}; using the model's")
        homography, seg, det = _detector_parts(self.values)
        self.detector = ItemDetector(BeltSegmenter(seg), homography, self.model, det)
        parameters.watch(self, PARAMS, self.values, self._apply)
        frames_qos = QoSProfile(history=QoSHistoryPolicy.KEEP_LAST, depth=self.values["image_queue_depth"],
                                reliability=QoSReliabilityPolicy.RELIABLE if self.values["image_reliable"]
                                else QoSReliabilityPolicy.BEST_EFFORT)
        self.sub = self.create_subscription(Image, "camera/image_raw", self._on_image, frames_qos)
        warn_on_foreign_publishers(self, "camera/image_raw")
        self.pub = self.create_publisher(PointCloud2, "items/detected", 10)
        self.debug_pub = self.create_publisher(Image, "classifier/debug_image", 1)
        self.tracked = itemlist.empty(0)  # latest items/tracked, to label the debug image with track ids
        # Its own callback group: under a multi-threaded executor, track updates must not queue behind the
        # (always ready) image callback.
        self.tracked_sub = self.create_subscription(PointCloud2, "items/tracked", self._on_tracked, 5,
                                                    callback_group=MutuallyExclusiveCallbackGroup())
        self.diag = Diagnostics(self)
        self.frames = self.rejected = self.items = 0
        self.latencies: list[float] = []
        self.last_stamp: float | None = None
        self.period: float | None = None  # camera frame period, learnt from the stamps
        self.dropped = 0                  # frames the camera sent that we never processed
        self.stalls = 0
        self._rejection_logged: dict[str, float] = {}
        self._last_frame_wall = time.monotonic()
        self._stalled = False
        self._camera_stopped = False
        self.diag_timer = self.create_timer(1.0, self._publish_status)

    def _apply(self, v: dict[str, Any]) -> None:
        homography, seg, det = _detector_parts(v)
        self.detector.homography = homography
        self.detector.segmenter.cfg = seg
        self.detector.configure(det)

    def _on_image(self, msg: Image) -> None:
        t_start = time.perf_counter()
        try:
            frame = image_to_bgr(msg)
        except ValueError as exc:
            self._reject(str(exc))
            return
        want = self.values["expected_size"]
        if len(want) == 2 and want[0] > 0 and (frame.shape[1], frame.shape[0]) != (want[0], want[1]):
            self._reject(f"{frame.shape[1]}x{frame.shape[0]}, expected {want[0]}x{want[1]} "
                         "(the homography is for that size)")
            return
        stamp = to_sec(msg.header.stamp)
        if self.last_stamp is not None and stamp <= self.last_stamp:
            self._reject("stamp not newer than the last one")
            return
        if self.last_stamp is not None:
            gap = stamp - self.last_stamp
            if self.period is None or gap < 1.5 * self.period:
                self.period = gap if self.period is None else 0.9 * self.period + 0.1 * gap
            else:
                self.dropped += max(int(round(gap / self.period)) - 1, 0)
        self.last_stamp = stamp
        self._last_frame_wall = time.monotonic()
        self._stalled = False
        result = self.detector.process(frame, stamp)
        self.pub.publish(items_to_cloud(result.records, msg.header.stamp))
        self.frames += 1
        self.items += len(result.records)
        self.latencies.append(time.perf_counter() - t_start)
        if len(self.latencies) > 1000:
            del self.latencies[:500]
        if self.values["publish_debug_image"]:
            self.debug_pub.publish(bgr_to_image(self._annotate(frame, result), msg.header.stamp,
                                                msg.header.frame_id))

    def _reject(self, reason: str) -> None:
        """Count a rejected frame; log each distinct reason at most every 5 s."""
        self.rejected += 1
        key = reason.split(",")[0].split("(")[0]
        now = time.monotonic()
        if now - self._rejection_logged.get(key, -1e9) >= 5.0:
            self._rejection_logged[key] = now
            self.get_logger().warning(f"rejected frame: {reason}")

    def _on_tracked(self, msg: PointCloud2) -> None:
        if self.values["publish_debug_image"]:
            try:
                self.tracked = cloud_to_items(msg)
            except ValueError:
                pass

    def _track_ids(self, records: np.ndarray, stamp: float) -> list[int | None]:
        """The track id nearest each detection (tracks moved forward to this frame's stamp)."""
        tr = self.tracked
        if len(tr) == 0:
            return [None] * len(records)
        tx = tr["x"] + tr["speed"] * (stamp - tr["stamp"])
        ids: list[int | None] = []
        for r in records:
            d = np.hypot(tx - r["x"], tr["y"] - r["y"])
            k = int(np.argmin(d))
            ids.append(int(tr["item_id"][k]) if d[k] < 0.05 else None)
        return ids

    def camera_stopped(self) -> None:
        """The camera was stopped on purpose (a run ending): its silence is not a stall to warn about."""
        self._camera_stopped = True

    def _publish_status(self) -> None:
        silent = time.monotonic() - self._last_frame_wall
        if silent > self.values["stall_timeout"] and not self._stalled and not self._camera_stopped:
            self._stalled = True
            self.stalls += 1
            self.get_logger().warning(f"no camera frame for {silent:.1f} s: camera stalled or gone")
        lat = np.array(self.latencies[-200:]) * 1e3
        values = {"frames": self.frames, "dropped_frames": self.dropped, "rejected_frames": self.rejected,
                  "items": self.items, "stalls": self.stalls,
                  "classifications_skipped": self.detector.budget.skipped,
                  "latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else 0.0,
                  "latency_p99_ms": float(np.percentile(lat, 99)) if lat.size else 0.0,
                  "backend": self.model.choice.name}
        if self._stalled:
            self.diag.publish(WARN, f"no camera frame for {silent:.1f} s", values)
        else:
            self.diag.publish(WARN if self.rejected else OK, "running", values)

    def _annotate(self, frame: np.ndarray, result: FrameResult) -> np.ndarray:
        out = frame.copy()
        classes = self.model.classes
        ids = self._track_ids(result.records, float(result.records["stamp"][0])) if len(result.records) else []
        for b, r, done, tid in zip(result.blobs, result.records, result.classified, ids, strict=True):
            colour = (0, 200, 0) if done else (0, 200, 255)
            cv2.rectangle(out, (b.x0, b.y0), (b.x1, b.y1), colour, 2)
            label = f"#{tid}" if tid is not None else "new"
            if done:
                label += f" {classes[int(r['class_id'])]} {float(r['confidence']):.2f}"
            cv2.putText(out, label, (b.x0, max(b.y0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
        return out


def main(args: list[str] | None = None) -> None:
    from waste_sorting.ros.spin import spin_node

    spin_node(Classifier, args)


if __name__ == "__main__":
    main()
