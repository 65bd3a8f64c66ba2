"""Frame sources behind one interface; OpenCV-backed ones reopen with back-off.

A source returns a BGR frame or None (no frame this time: end of a
non-looping video, a device that is gone). The driver keeps its timer; a
vanished device is retried with exponential back-off instead of crashing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from waste_sorting.data.folders import is_image_file
from waste_sorting.simulation.belt import BeltSimulator


class FrameSource(Protocol):
    def read(self, t: float) -> np.ndarray | None:
        """The frame for time t (seconds since the source started)."""
        ...

    def close(self) -> None: ...


class SimSource:
    def __init__(self, sim: BeltSimulator) -> None:
        self.sim = sim

    def read(self, t: float) -> np.ndarray | None:
        frame = self.sim.render(t)
        if int(t * self.sim.cfg.fps) % 300 == 0:
            self.sim.prune(x_max=50.0, t=t)
        return frame

    def close(self) -> None:
        pass


class ImageFolderSource:
    """Cycles through the images of a folder (recursively), in name order."""

    def __init__(self, folder: Path, loop: bool = True) -> None:
        self.paths = sorted(p for p in Path(folder).rglob("*") if is_image_file(p))
        if not self.paths:
            raise ValueError(f"no images in {folder}")
        self.loop, self.index = loop, 0

    def read(self, t: float) -> np.ndarray | None:
        while self.index < len(self.paths) or self.loop:
            path = self.paths[self.index % len(self.paths)]
            self.index += 1
            img = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if img is not None:
                return img
        return None

    def close(self) -> None:
        pass


class CaptureSource:
    """cv2.VideoCapture for a file, a V4L2 index or a GStreamer pipeline, reopened with back-off."""

    def __init__(self, target: str, loop: bool = False, log: Callable[[str], None] = print,
                 max_backoff: float = 5.0) -> None:
        self.target, self.loop, self.log, self.max_backoff = target, loop, log, max_backoff
        self.cap: cv2.VideoCapture | None = None
        self.backoff, self.next_try, self.reopens = 0.25, 0.0, 0
        self._open()

    def _open(self) -> bool:
        target: int | str = int(self.target) if self.target.isdigit() else self.target
        api = cv2.CAP_GSTREAMER if isinstance(target, str) and "!" in target else cv2.CAP_ANY
        cap = cv2.VideoCapture(target, api)
        if not cap.isOpened():
            cap.release()
            self.cap = None
            self.next_try = time.monotonic() + self.backoff
            self.log(f"camera source {self.target!r} unavailable; retrying in {self.backoff:.2f} s")
            self.backoff = min(self.backoff * 2, self.max_backoff)
            return False
        self.cap, self.backoff = cap, 0.25
        return True

    def read(self, t: float) -> np.ndarray | None:
        if self.cap is None:
            if time.monotonic() < self.next_try or not self._open():
                return None
            self.reopens += 1
        assert self.cap is not None
        ok, frame = self.cap.read()
        if ok:
            return frame
        if self.loop and self.cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
            self.cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
            ok, frame = self.cap.read()
            if ok:
                return frame
        if not self.target.isdigit() and not self.loop and self.cap.get(cv2.CAP_PROP_FRAME_COUNT) > 0:
            return None  # end of a file
        self.cap.release()
        self.cap = None
        self.next_try = time.monotonic() + self.backoff
        self.log(f"camera source {self.target!r} stopped delivering; reopening")
        return None

    def close(self) -> None:
        if self.cap is not None:
            self.cap.release()
