"""camera_driver: publishes camera/image_raw (capture-stamped) and camera/camera_info."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from rclpy.node import Node
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import CameraInfo, Image, JointState, PointCloud2
from std_msgs.msg import Header

from waste_sorting import paths
from waste_sorting.camera.sources import CaptureSource, FrameSource, ImageFolderSource, SimSource
from waste_sorting.cell import sim_config, specs
from waste_sorting.ros import parameters
from waste_sorting.ros.diagnostics import OK, WARN, Diagnostics
from waste_sorting.ros.messages import bgr_to_image, items_to_cloud, to_stamp
from waste_sorting.simulation.belt import BeltSimulator

TRUTH_X_MAX = 6.0  # ground truth is published for items up to this far down the belt (m)


class CameraDriver(Node):
    def __init__(self, sim: BeltSimulator | None = None, **kwargs: Any) -> None:
        super().__init__("camera_driver", **kwargs)
        self.values = parameters.declare(self, specs.CAMERA)
        parameters.watch(self, specs.CAMERA, self.values, lambda cand: None)
        self.image_pub = self.create_publisher(Image, "camera/image_raw", qos_profile_sensor_data)
        self.info_pub = self.create_publisher(CameraInfo, "camera/camera_info", qos_profile_sensor_data)
        self.encoder_pub = self.create_publisher(JointState, "belt/encoder", 10)
        self.truth_pub = self.create_publisher(PointCloud2, "sim/ground_truth", 10)
        self.diag = Diagnostics(self)
        self.sim = sim
        self.source = self._make_source()
        self.published = self.empty_reads = 0
        self.t0: float | None = None
        self._last_diag = time.monotonic()
        self.timer = self.create_timer(1.0 / self.values["fps"], self._tick)
        self.get_logger().info(f"camera source {self.values['source']!r} at {self.values['fps']:.0f} Hz")

    def _make_source(self) -> FrameSource:
        v = self.values
        if v["source"] == "sim":
            if self.sim is None:
                self.sim = BeltSimulator(sim_config(v, paths.resolve(v["sim_images"], paths.demo_images())))
            return SimSource(self.sim)
        if v["source"] == "images":
            return ImageFolderSource(Path(v["images_path"]), v["loop"])
        target = v["video_path"] if v["source"] == "video" else v["device"]
        return CaptureSource(target, v["loop"], log=self.get_logger().warning)

    def _tick(self) -> None:
        now = self.get_clock().now()
        t_now = now.nanoseconds * 1e-9
        if self.t0 is None:
            self.t0 = t_now
        t = t_now - self.t0
        frame = self.source.read(t)
        if frame is None:
            self.empty_reads += 1
        else:
            w, h = self.values["width"], self.values["height"]
            if self.values["source"] != "sim" and w > 0 and h > 0 and frame.shape[:2] != (h, w):
                import cv2

                frame = cv2.resize(frame, (w, h), interpolation=cv2.INTER_AREA)
            stamp = to_stamp(t_now)
            self.image_pub.publish(bgr_to_image(frame, stamp, self.values["frame_id"]))
            info = CameraInfo()
            info.header = Header(stamp=stamp, frame_id=self.values["frame_id"])
            info.height, info.width = frame.shape[:2]
            self.info_pub.publish(info)
            self.published += 1
        if self.sim is not None and frame is not None:
            truth = self.sim.ground_truth(t, x_max=TRUTH_X_MAX)
            truth["stamp"] = t_now  # ROS time of this frame
            self.truth_pub.publish(items_to_cloud(truth, to_stamp(t_now)))
        if self.sim is not None and self.values["publish_encoder"]:
            enc = JointState()
            enc.header.stamp = to_stamp(t_now)
            enc.name = ["belt"]
            enc.position = [self.sim.travel(t)]
            enc.velocity = [self.sim.cfg.speed.speed(t)]
            self.encoder_pub.publish(enc)
        if time.monotonic() - self._last_diag > 1.0:
            self._last_diag = time.monotonic()
            level = OK if frame is not None else WARN
            self.diag.publish(level, "streaming" if frame is not None else "no frame from source",
                              {"frames": self.published, "empty_reads": self.empty_reads,
                               "source": self.values["source"]})

    def destroy_node(self) -> None:
        source = getattr(self, "source", None)  # absent when a refused parameter stopped __init__
        if source is not None:
            source.close()
        super().destroy_node()


def main(args: list[str] | None = None) -> None:
    from waste_sorting.ros.spin import spin_node

    spin_node(CameraDriver, args)


if __name__ == "__main__":
    main()
