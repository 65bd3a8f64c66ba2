"""What the technician sees: the annotated debug image and the RViz markers, over DDS."""

from __future__ import annotations

import time

import cv2
import numpy as np
import pytest
import rclpy
from sensor_msgs.msg import Image
from visualization_msgs.msg import Marker, MarkerArray

from waste_sorting.ros.messages import image_to_bgr

from cellproc import SIM_CAMERA, start_nodes, stop_nodes

pytestmark = pytest.mark.slow


def test_debug_image_and_markers(repo, tmp_path):
    procs = start_nodes(repo / "config" / "sorting_cell.yaml",
                        {"camera_driver": [SIM_CAMERA], "classifier": ["publish_debug_image:=true"]},
                        tmp_path, only=("camera_driver", "classifier", "tracker"))
    rclpy.init()
    node = rclpy.create_node("viewer")
    images: list[Image] = []
    markers: list[MarkerArray] = []
    node.create_subscription(Image, "classifier/debug_image", images.append, 5)
    node.create_subscription(MarkerArray, "visualization", markers.append, 5)
    try:
        deadline = time.time() + 90
        while time.time() < deadline and (len(images) < 60 or len(markers) < 10):
            rclpy.spin_once(node, timeout_sec=0.1)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        stop_nodes(procs)
    assert images and markers, f"nothing published; logs in {tmp_path}"
    frames = [image_to_bgr(m) for m in images]
    assert frames[-1].shape == (360, 640, 3)
    # Boxes are drawn in green (classified) or orange: the annotated frames differ from a plain belt.
    green = [(f[..., 1] == 200) & (f[..., 0] == 0) & (f[..., 2] == 0) for f in frames]
    assert max(int(g.sum()) for g in green) > 100
    cv2.imwrite(str(tmp_path / "debug.png"), frames[int(np.argmax([g.sum() for g in green]))])
    namespaces = {m.ns for arr in markers for m in arr.markers if m.action == Marker.ADD}
    assert {"ejectors", "camera_view"} <= namespaces
    assert any(m.ns == "items" for arr in markers for m in arr.markers)
