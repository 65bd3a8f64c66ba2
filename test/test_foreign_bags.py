"""Bags this project did not write: written here with rosbags' own CDR serializer (not rclpy), holding a
CompressedImage camera on a non-default topic and a /tf topic whose type is not installed."""

from __future__ import annotations

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
