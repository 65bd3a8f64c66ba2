"""Frames from a live image topic, for tools that look at the running camera (`calibrate belt live`)."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator

import numpy as np
import rclpy
from rclpy.qos import qos_profile_sensor_data
from sensor_msgs.msg import Image

from waste_sorting.cell.messages import image_to_bgr
from waste_sorting.errors import WasteSortingError


def live_frames(topic: str, seconds: float, wait: float = 5.0) -> Iterator[np.ndarray]:
    """BGR frames of ``topic`` for ``seconds`` from the first one; an error if none comes within ``wait``."""
    rclpy.init()
    node = rclpy.create_node("belt_calibration")
    frames: queue.Queue[np.ndarray] = queue.Queue(maxsize=300)

    def on_image(msg: Image) -> None:
        try:
            frames.put_nowait(image_to_bgr(msg).copy())
        except (ValueError, queue.Full):
            pass

    node.create_subscription(Image, topic, on_image, qos_profile_sensor_data)
    try:
        start = time.monotonic()
        first: float | None = None
        while True:
            rclpy.spin_once(node, timeout_sec=0.05)
            now = time.monotonic()
            if first is None and now - start > wait:
                raise WasteSortingError(f"no image on {topic} within {wait:.0f} s (is the camera running, in "
                                        "this ROS_DOMAIN_ID?)")
            while not frames.empty():
                first = now if first is None else first
                yield frames.get_nowait()
            if first is not None and now - first > seconds:
                return
    finally:
        node.destroy_node()
        rclpy.shutdown()
