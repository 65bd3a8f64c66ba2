"""Bags: simulated runs written with rosbags, read with real ROS 2 serialization, scored offline."""

from __future__ import annotations

import hashlib
import json
import threading
import time

import numpy as np
import pytest

from waste_sorting.bags import io as bagio
from waste_sorting.bags.simbag import BAG_EPOCH, write_sim_bag
from waste_sorting.simulation.belt import SimConfig
from waste_sorting.simulation.speed import SpeedProfile


def sim_cfg(demo_images, seed: int = 1, **kw) -> SimConfig:
    return SimConfig(images=demo_images, speed=SpeedProfile.constant(2.0), items_per_second=2.0, seed=seed, **kw)


@pytest.fixture(scope="module")
def short_bag(tmp_path_factory, demo_images):
    out = tmp_path_factory.mktemp("bags") / "run"
    write_sim_bag(sim_cfg(demo_images), out, duration=6.0, compress=True)
    return out


def digest(path) -> str:
    h = hashlib.sha256()
    for m in bagio.read(path):
        h.update(m.topic.encode())
        h.update(m.t_ns.to_bytes(8, "little"))
        h.update(m.data)
    return h.hexdigest()


def test_same_seed_same_bag(tmp_path, demo_images, short_bag):
    again = tmp_path / "again"
    write_sim_bag(sim_cfg(demo_images), again, duration=6.0, compress=True)
    assert digest(again) == digest(short_bag)
    other = tmp_path / "other"
    write_sim_bag(sim_cfg(demo_images, seed=2), other, duration=1.0)
    assert digest(other) != digest(short_bag)


def test_bag_reads_in_real_ros2_serialization(short_bag):
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image, JointState, PointCloud2

    from waste_sorting.ros.messages import cloud_to_items, image_to_bgr, to_sec

    types = bagio.topics(short_bag)
    assert types == {"/camera/image_raw": "sensor_msgs/msg/Image", "/camera/camera_info": "sensor_msgs/msg/CameraInfo",
                     "/belt/encoder": "sensor_msgs/msg/JointState", "/sim/ground_truth": "sensor_msgs/msg/PointCloud2"}
    seen = {t: 0 for t in types}
    for m in bagio.read(short_bag):
        seen[m.topic] += 1
        if m.topic == "/camera/image_raw" and seen[m.topic] == 1:
            img = deserialize_message(m.data, Image)  # rclpy's own CDR deserializer
            assert (img.width, img.height, img.encoding) == (640, 360, "bgr8")
            assert to_sec(img.header.stamp) == pytest.approx(BAG_EPOCH)
            assert image_to_bgr(img).shape == (360, 640, 3)
            assert m.t_ns == int(BAG_EPOCH * 1e9)
        if m.topic == "/belt/encoder" and seen[m.topic] == 31:
            enc = deserialize_message(m.data, JointState)
            assert enc.position[0] == pytest.approx(2.0 * 30 / 30.0) and enc.velocity[0] == pytest.approx(2.0)
        if m.topic == "/sim/ground_truth" and seen[m.topic] == 90:
            items = cloud_to_items(deserialize_message(m.data, PointCloud2))
            assert len(items) >= 1 and set(np.unique(items["class_id"])) <= set(range(6))
    assert seen["/camera/image_raw"] == 180 and seen["/sim/ground_truth"] == 180


def test_rosbags_typestore_reads_it_too(short_bag):
    """Another reader (the rosbags typestore) agrees on the bytes: a standard rosbag2 file."""
    m = next(bagio.read(short_bag, ["/camera/image_raw"]))
    msg = bagio.TYPESTORE.deserialize_cdr(m.data, m.msgtype)
    assert (msg.width, msg.height, msg.step) == (640, 360, 1920)


def test_sqlite3_storage(tmp_path, demo_images):
    out = tmp_path / "sq"
    write_sim_bag(sim_cfg(demo_images), out, duration=0.5, storage="sqlite3")
    assert list(out.glob("*.db3"))
    assert sum(1 for m in bagio.read(out) if m.topic == "/camera/image_raw") == 15


def test_evaluate_is_deterministic_and_reports_every_key(short_bag, shipped_model):
    from waste_sorting.evaluation.offline import evaluate

    a, b = evaluate(short_bag), evaluate(short_bag)
    for key in ("detection_recall", "classification_accuracy", "purity", "recovery", "timing_error_ms",
                "latency_ms", "missed"):
        assert key in a, key
    assert "overall" in a["purity"] and "overall" in a["recovery"]
    timing_free = {"latency_ms", "wall_seconds", "frames_per_second", "_truth", "_timing_errors", "_pulse_speeds"}
    strip = lambda r: {k: v for k, v in r.items() if k not in timing_free}  # noqa: E731
    assert strip(a) == strip(b)
    assert a["items"] >= 6 and a["detection_recall"] >= 0.9


def test_sweep_reuses_one_classification_and_matches_evaluate(tmp_path, short_bag, shipped_model):
    """A test engineer compares thresholds on one bag: each sweep run scores as evaluate would."""
    from waste_sorting.cli import main
    from waste_sorting.evaluation.offline import PRIVATE_KEYS, evaluate

    timing_free = {"latency_ms", "wall_seconds", "frames_per_second", *PRIVATE_KEYS}
    strip = lambda r: {k: v for k, v in r.items() if k not in timing_free}  # noqa: E731
    out = tmp_path / "sweep.json"
    assert main(["evaluate", str(short_bag), "--sweep", "tracker.bin_min_confidence", "--values", "0.0", "0.5", "1.0",
                 "--json", str(out)]) == 0
    runs = json.loads(out.read_text())["runs"]
    assert [r["value"] for r in runs] == [[0.0] * 5, [0.5] * 5, [1.0] * 5]  # one number for every bin
    alone = evaluate(short_bag, overrides={"tracker": {"bin_min_confidence": [0.5] * 5}})
    assert strip(runs[1]) == strip(json.loads(json.dumps({"value": [0.5] * 5, **strip(alone)}, default=float)))
    assert runs[0]["picks_fired"] >= runs[1]["picks_fired"] > runs[2]["picks_fired"] == 0
    assert runs[0]["recovery"]["overall"] >= runs[1]["recovery"]["overall"]


def test_evaluate_without_ground_truth_reports_what_the_cell_did(tmp_path, short_bag, shipped_model):
    from waste_sorting.evaluation.offline import evaluate

    real = tmp_path / "real"
    with bagio.BagWriter(real) as w:  # a 'real recording': camera and encoder only
        for m in bagio.read(short_bag, ["/camera/image_raw", "/belt/encoder"]):
            w.write_raw(m.topic, m.msgtype, m.data, m.t_ns)
    r = evaluate(real)
    assert r["ground_truth"] is False and "need ground truth" in r["note"]
    assert r["items_decided"] >= 6 and r["frames"] == 180


def test_record_live_topics(tmp_path):
    import rclpy
    from std_msgs.msg import String

    from waste_sorting.bags.record import record

    rclpy.init()
    node = rclpy.create_node("talker")
    pub = node.create_publisher(String, "rec_test/chatter", 10)
    stop = threading.Event()

    def talk() -> None:
        k = 0
        while not stop.is_set():
            pub.publish(String(data=f"hello {k}"))
            k += 1
            time.sleep(0.02)

    t = threading.Thread(target=talk)
    t.start()
    try:
        counts = record(tmp_path / "rec", ["/rec_test/chatter"], duration=2.5, discovery=1.0)
    finally:
        stop.set()
        t.join()
        node.destroy_node()
        rclpy.shutdown()
    assert counts.get("/rec_test/chatter", 0) >= 20
    msgs = [m.deserialize() for m in bagio.read(tmp_path / "rec")]
    assert msgs and all(m.data.startswith("hello ") for m in msgs)


def test_evaluate_on_a_bag_with_another_image_topic_names_the_topics_it_has(tmp_path, short_bag, capsys):
    from waste_sorting.cli import main

    other = tmp_path / "other"
    with bagio.BagWriter(other) as w:
        for m in bagio.read(short_bag, ["/camera/image_raw", "/belt/encoder"]):
            w.write_raw("/cam0/image_raw" if m.topic == "/camera/image_raw" else m.topic, m.msgtype, m.data, m.t_ns)
    assert main(["evaluate", str(other)]) == 1
    err = capsys.readouterr().err
    assert "no images on /camera/image_raw; this bag has images on /cam0/image_raw (give --image-topic)" in err
    assert "Traceback" not in err


def test_replay_then_record_keeps_every_image_frame(tmp_path, short_bag):
    """A reliable replay is recorded reliably: every frame, not what a best-effort queue of 5 kept."""
    import subprocess
    import sys

    from waste_sorting.bags.record import record

    frames = sum(1 for _ in bagio.read(short_bag, ["/camera/image_raw"]))
    player = subprocess.Popen([sys.executable, "-m", "waste_sorting.cli", "replay", str(short_bag), "--topics",
                               "/camera/image_raw", "--no-clock", "--start-delay", "8"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        counts = record(tmp_path / "rec", ["/camera/image_raw"], duration=18.0, discovery=4.0)
    finally:
        out, _ = player.communicate(timeout=60)
    assert player.returncode == 0, out
    assert counts.get("/camera/image_raw") == frames, (counts, frames, out)
