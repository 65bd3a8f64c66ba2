"""Bad frames get a logged reason and are dropped; the classifier keeps working."""

from __future__ import annotations

import time

import numpy as np
import pytest
import rclpy
from diagnostic_msgs.msg import DiagnosticArray
from sensor_msgs.msg import Image, PointCloud2

from waste_sorting.ros.messages import bgr_to_image, to_stamp

from cellproc import spin_for, start_nodes, stop_nodes

pytestmark = pytest.mark.slow


def test_classifier_rejects_bad_frames_and_keeps_going(repo, tmp_path):
    procs = start_nodes(repo / "config" / "sorting_cell.yaml", {"classifier": ["image_reliable:=true",
                                                                              "image_queue_depth:=20"]},
                        tmp_path, only=("classifier",))
    rclpy.init()
    node = rclpy.create_node("bad_camera")
    pub = node.create_publisher(Image, "camera/image_raw", 20)
    detected: list[PointCloud2] = []
    diags: list[DiagnosticArray] = []
    node.create_subscription(PointCloud2, "items/detected", detected.append, 20)
    node.create_subscription(DiagnosticArray, "/diagnostics", diags.append, 20)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and pub.get_subscription_count() == 0:
            spin_for(node, 0.1)
        spin_for(node, 2.0)
        belt = np.full((360, 640, 3), 60, np.uint8)
        t = 1_700_000_000.0
        bad = [
            Image(height=360, width=640, encoding="yuv422", step=1280, data=bytes(360 * 1280)),  # encoding
            bgr_to_image(np.zeros((100, 100, 3), np.uint8), to_stamp(t + 0.1), "camera"),         # size
            Image(height=360, width=640, encoding="bgr8", step=1920, data=bytes(100)),           # truncated
        ]
        for k in range(5):
            pub.publish(bgr_to_image(belt, to_stamp(t + 1 + k / 30), "camera"))
            spin_for(node, 0.05)
        for m in bad:
            m.header.stamp = to_stamp(t + 2)
            pub.publish(m)
            spin_for(node, 0.05)
        pub.publish(bgr_to_image(belt, to_stamp(t + 0.5), "camera"))  # stamp older than the last one
        for k in range(5):
            pub.publish(bgr_to_image(belt, to_stamp(t + 3 + k / 30), "camera"))
            spin_for(node, 0.05)
        spin_for(node, 3.0)
    finally:
        node.destroy_node()
        rclpy.shutdown()
        stop_nodes(procs)
    assert len(detected) == 10, "every good frame processed, no bad one"
    values = {kv.key: kv.value for d in diags for s in d.status if "classifier" in s.name for kv in s.values}
    assert values.get("rejected_frames") == "4"
    log = (tmp_path / "classifier.log").read_text()
    for reason in ("unsupported image encoding", "expected 640x360", "expected 691200", "not newer"):
        assert reason in log, reason
