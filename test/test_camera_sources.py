"""Camera sources: image folders, video files (with loop), and a device that is not there."""

import cv2
import numpy as np

from waste_sorting.camera.sources import CaptureSource, ImageFolderSource


def test_image_folder_cycles_and_skips_unreadable(tmp_path):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"f{i}.png"), np.full((20, 30, 3), i * 50, np.uint8))
    (tmp_path / "z_broken.jpg").write_bytes(b"nope")
    src = ImageFolderSource(tmp_path, loop=True)
    values = [int(src.read(0.0)[0, 0, 0]) for _ in range(5)]
    assert values == [0, 50, 100, 0, 50]


def test_video_file_plays_and_loops(tmp_path):
    path = tmp_path / "belt.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(4):
        writer.write(np.full((48, 64, 3), 40 * i, np.uint8))
    writer.release()
    once = CaptureSource(str(path), loop=False, log=lambda m: None)
    frames = [once.read(0.0) for _ in range(6)]
    assert sum(f is not None for f in frames) == 4 and frames[-1] is None
    looped = CaptureSource(str(path), loop=True, log=lambda m: None)
    assert all(looped.read(0.0) is not None for _ in range(10))


def test_missing_device_is_retried_with_backoff_not_a_crash(tmp_path):
    logs = []
    src = CaptureSource(str(tmp_path / "no_such_camera.avi"), log=logs.append, max_backoff=0.2)
    assert src.read(0.0) is None
    assert logs and "unavailable" in logs[0]
    # Once the 'device' appears, the next retry after the back-off opens it.
    path = tmp_path / "no_such_camera.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (32, 24))
    for _ in range(3):
        writer.write(np.zeros((24, 32, 3), np.uint8))
    writer.release()
    import time

    time.sleep(0.6)
    assert src.read(0.0) is not None
