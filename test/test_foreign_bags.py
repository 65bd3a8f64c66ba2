"""Bags this project did not write, holding a CompressedImage camera on a non-default topic and a topic whose
type is not installed: one written with rosbags' own CDR serializer, one a bare ``.mcap`` file written by
Foxglove's ``mcap`` + ``mcap-ros2-support`` (another container writer and another CDR serializer), and one
sqlite3 database written row by row as rosbag2 (Humble) writes it, with rclpy's serialization, in a folder
that lost its metadata.yaml."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest
from rosbags.rosbag2 import Writer
from rosbags.typesys import Stores, get_typestore

from waste_sorting.bags import io as bagio
from waste_sorting.bags.simbag import write_sim_bag
from waste_sorting.cli import main
from waste_sorting.simulation.belt import SimConfig
from waste_sorting.simulation.speed import SpeedProfile

TS = get_typestore(Stores.ROS2_JAZZY)


def _stamp(t_ns: int):  # noqa: ANN202 - a rosbags builtin_interfaces/Time
    Time = TS.types["builtin_interfaces/msg/Time"]
    return Time(sec=t_ns // 10**9, nanosec=t_ns % 10**9)


def _header(t_ns: int, frame: str):  # noqa: ANN202
    return TS.types["std_msgs/msg/Header"](stamp=_stamp(t_ns), frame_id=frame)


@pytest.fixture(scope="module")
def own_and_foreign(tmp_path_factory, demo_images) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("foreign")
    own = root / "own"
    write_sim_bag(SimConfig(images=demo_images, speed=SpeedProfile.constant(2.0), items_per_second=2.0, seed=7),
                  own, duration=6.0)
    foreign = root / "foreign"
    Compressed = TS.types["sensor_msgs/msg/CompressedImage"]
    TFMessage = TS.types["tf2_msgs/msg/TFMessage"]
    with Writer(foreign, version=8) as w:
        cam = w.add_connection("/cam0/image_raw", Compressed.__msgtype__, typestore=TS)
        tf = w.add_connection("/tf", TFMessage.__msgtype__, typestore=TS)
        raw: dict[str, object] = {}
        for m in bagio.read(own, ["/camera/image_raw", "/belt/encoder", "/sim/ground_truth"]):
            if m.topic == "/camera/image_raw":
                img = TS.deserialize_cdr(m.data, m.msgtype)
                bgr = np.frombuffer(img.data, np.uint8).reshape(img.height, img.width, 3)
                ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
                assert ok
                t = img.header.stamp.sec * 10**9 + img.header.stamp.nanosec
                msg = Compressed(header=_header(t, "cam0"), format="jpeg", data=np.frombuffer(jpeg, np.uint8))
                w.write(cam, m.t_ns, TS.serialize_cdr(msg, Compressed.__msgtype__))
                w.write(tf, m.t_ns, TS.serialize_cdr(TFMessage(transforms=[]), TFMessage.__msgtype__))
            else:  # encoder and truth as they are, under the writer's own connections
                if m.topic not in raw:
                    raw[m.topic] = w.add_connection(m.topic, m.msgtype, typestore=TS)
                w.write(raw[m.topic], m.t_ns, m.data)
    return own, foreign


CAMERA_TOPICS = ["/camera/image_raw", "/belt/encoder", "/sim/ground_truth"]


def _jpeg_frames(own: Path) -> Iterator[tuple[int, int, bytes]]:
    """(bag time, stamp, JPEG bytes) of each camera frame of ``own``."""
    for m in bagio.read(own, ["/camera/image_raw"]):
        img = m.decode()
        bgr = np.frombuffer(img.data, np.uint8).reshape(img.height, img.width, 3)
        ok, jpeg = cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
        assert ok
        yield m.t_ns, img.header.stamp.sec * 10**9 + img.header.stamp.nanosec, jpeg.tobytes()


def _as_dict(v: object) -> object:
    """A rosbags message as the plain dict mcap-ros2-support serializes."""
    if hasattr(v, "__dataclass_fields__"):
        return {k: _as_dict(getattr(v, k)) for k in v.__dataclass_fields__ if k != "__msgtype__"}
    if isinstance(v, np.ndarray):
        return v.tobytes() if v.dtype == np.uint8 else v.tolist()
    if isinstance(v, list):
        return [_as_dict(x) for x in v]
    return v


@pytest.fixture(scope="module")
def mcap_file(own_and_foreign) -> Path:
    """A bare .mcap (no metadata.yaml) from Foxglove's writer: what most tools outside rosbag2 leave."""
    from mcap_ros2.writer import Writer as McapWriter

    own, _ = own_and_foreign
    path = own.parent / "foxglove.mcap"
    schemas = {}
    with path.open("wb") as f:
        w = McapWriter(f)
        for name in ("sensor_msgs/msg/CompressedImage", "tf2_msgs/msg/TFMessage", "sensor_msgs/msg/JointState",
                     "sensor_msgs/msg/PointCloud2"):
            schemas[name] = w.register_msgdef(name, TS.generate_msgdef(name, ros_version=2)[0])
        frames = {t: (stamp, jpeg) for t, stamp, jpeg in _jpeg_frames(own)}
        for m in bagio.read(own, CAMERA_TOPICS):
            if m.topic == "/camera/image_raw":
                stamp, jpeg = frames[m.t_ns]
                w.write_message("/cam0/image_raw", schemas["sensor_msgs/msg/CompressedImage"],
                                {"header": _as_dict(_header(stamp, "cam0")), "format": "jpeg", "data": jpeg},
                                log_time=m.t_ns)
                w.write_message("/tf", schemas["tf2_msgs/msg/TFMessage"], {"transforms": []}, log_time=m.t_ns)
            else:
                w.write_message(m.topic, schemas[m.msgtype], _as_dict(m.decode()), log_time=m.t_ns)
        w.finish()
    return path


@pytest.fixture(scope="module")
def sqlite_folder(own_and_foreign) -> Path:
    """rosbag2's sqlite3 layout (schema 3, as Humble writes it), rows inserted one by one, messages
    serialized by rclpy, and no metadata.yaml (a recording whose metadata was lost)."""
    import sqlite3

    from rclpy.serialization import serialize_message
    from sensor_msgs.msg import CompressedImage

    own, _ = own_and_foreign
    folder = own.parent / "humble_crashed"
    folder.mkdir()
    db = sqlite3.connect(folder / "humble_crashed_0.db3")
    db.executescript("""
        CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);
        INSERT INTO schema VALUES (3, 'humble');
        CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL, metadata TEXT NOT NULL);
        CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,
                            serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);
        CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL, timestamp INTEGER NOT NULL,
                              data BLOB NOT NULL);
        CREATE INDEX timestamp_idx ON messages (timestamp ASC);
    """)
    ids: dict[str, int] = {}

    def row(topic: str, msgtype: str, t_ns: int, data: bytes) -> None:
        if topic not in ids:
            ids[topic] = len(ids) + 1
            db.execute("INSERT INTO topics VALUES (?, ?, ?, 'cdr', '')", (ids[topic], topic, msgtype))
        db.execute("INSERT INTO messages (topic_id, timestamp, data) VALUES (?, ?, ?)", (ids[topic], t_ns, data))

    frames = {t: (stamp, jpeg) for t, stamp, jpeg in _jpeg_frames(own)}
    for m in bagio.read(own, CAMERA_TOPICS):
        if m.topic == "/camera/image_raw":
            stamp, jpeg = frames[m.t_ns]
            msg = CompressedImage(format="jpeg", data=jpeg)
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp // 10**9, stamp % 10**9
            msg.header.frame_id = "cam0"
            row("/usb_cam/image_raw/compressed", "sensor_msgs/msg/CompressedImage", m.t_ns, serialize_message(msg))
            row("/acme/status", "acme_msgs/msg/Status", m.t_ns, b"\x00\x01\x00\x00\x02\x00\x00\x00ok\x00")
        else:
            row(m.topic, m.msgtype, m.t_ns, m.data)
    db.commit()
    db.close()
    return folder


@pytest.mark.parametrize("which", ["mcap_file", "sqlite_folder"])
def test_bags_of_other_writers_are_scored_like_the_original(own_and_foreign, which, request, tmp_path):
    import json

    own, _ = own_and_foreign
    bag = request.getfixturevalue(which)
    topic = "/cam0/image_raw" if which == "mcap_file" else "/usb_cam/image_raw/compressed"
    assert main(["evaluate", str(own), "--json", str(tmp_path / "own.json")]) == 0
    assert main(["evaluate", str(bag), "--image-topic", topic, "--json", str(tmp_path / "b.json")]) == 0
    a = json.loads((tmp_path / "own.json").read_text())
    b = json.loads((tmp_path / "b.json").read_text())
    assert b["frames"] == a["frames"] and b["rejected_frames"] == 0
    assert b["items"] == a["items"] and b["detection_recall"] >= a["detection_recall"] - 0.1
    assert abs(b["classification_accuracy"] - a["classification_accuracy"]) <= 0.25


@pytest.mark.parametrize(("which", "unknown"), [("mcap_file", "/tf (tf2_msgs/msg/TFMessage)"),
                                                ("sqlite_folder", "/acme/status (acme_msgs/msg/Status)")])
def test_replay_plays_bags_of_other_writers(own_and_foreign, which, unknown, request, capsys):
    from waste_sorting.bags.replay import replay

    bag = request.getfixturevalue(which)
    sent = replay(bag, rate=20.0, start_delay=0.0)
    assert f"skipping {unknown}: message type not installed" in capsys.readouterr().out
    own, _ = own_and_foreign
    assert sent >= sum(1 for _ in bagio.read(own, CAMERA_TOPICS))


def test_evaluate_scores_a_compressed_camera_on_another_topic_beside_an_unknown_type(own_and_foreign, capsys):
    import json

    own, foreign = own_and_foreign
    assert main(["evaluate", str(own), "--json", str(own.parent / "own.json")]) == 0
    assert main(["evaluate", str(foreign), "--image-topic", "/cam0/image_raw",
                 "--json", str(own.parent / "foreign.json")]) == 0
    a = json.loads((own.parent / "own.json").read_text())
    b = json.loads((own.parent / "foreign.json").read_text())
    assert b["frames"] == a["frames"] and b["rejected_frames"] == 0
    assert b["items"] == a["items"] and b["detection_recall"] >= a["detection_recall"] - 0.1
    assert abs(b["classification_accuracy"] - a["classification_accuracy"]) <= 0.25  # JPEG, same items
    capsys.readouterr()
    assert main(["evaluate", str(foreign)]) == 1
    err = capsys.readouterr().err
    assert "no images on /camera/image_raw; this bag has images on /cam0/image_raw" in err
    assert main(["evaluate", str(foreign), "--image-topic", "/tf"]) == 1
    assert "/tf holds tf2_msgs/msg/TFMessage, not images" in capsys.readouterr().err


def test_replay_plays_what_it_can_and_names_what_it_skips(own_and_foreign, capsys):
    from waste_sorting.bags.replay import replay

    _own, foreign = own_and_foreign
    sent = replay(foreign, rate=20.0, start_delay=0.0)
    out = capsys.readouterr().out
    assert "skipping /tf (tf2_msgs/msg/TFMessage): message type not installed" in out
    frames = sum(1 for m in bagio.read(foreign, ["/cam0/image_raw", "/belt/encoder", "/sim/ground_truth"]))
    assert sent >= frames


def test_ground_truth_is_scored_by_class_name_not_by_the_folders_order(demo_images, tmp_path, capsys):
    import json
    import shutil

    images = tmp_path / "some"
    images.mkdir()
    for c in ("glass", "metal", "plastic", "trash"):  # the sim numbers these 0..3
        (images / c).symlink_to(demo_images / c, target_is_directory=True)
    bag = tmp_path / "bag"
    write_sim_bag(SimConfig(images=images, speed=SpeedProfile.constant(2.0), items_per_second=2.0, seed=2),
                  bag, duration=6.0)
    out = tmp_path / "r.json"
    assert main(["evaluate", str(bag), "--json", str(out)]) == 0
    r = json.loads(out.read_text())
    seen = {k for k, v in r["per_class_accuracy"].items() if v is not None}
    assert seen and seen <= {"glass", "metal", "plastic", "trash"}, r["per_class_accuracy"]
    assert r["recovery"]["cardboard"] is None  # no cardboard on this belt, whatever index 0 means

    other = tmp_path / "other"
    (other / "glass").mkdir(parents=True)
    (other / "textile").mkdir()
    for f in sorted((demo_images / "glass").iterdir())[:4]:
        shutil.copy(f, other / "glass" / f.name)
    for f in sorted((demo_images / "trash").iterdir())[:4]:
        shutil.copy(f, other / "textile" / f.name)
    bag2 = tmp_path / "bag2"
    write_sim_bag(SimConfig(images=other, speed=SpeedProfile.constant(2.0), items_per_second=2.0, seed=2),
                  bag2, duration=6.0)
    capsys.readouterr()
    assert main(["evaluate", str(bag2)]) == 1
    assert "ground truth has class textile that the model does not know" in capsys.readouterr().err
    assert main(["evaluate", str(bag2), "--unknown-class-as", "trash", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["per_class_accuracy"]["trash"] is not None
