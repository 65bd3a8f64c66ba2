"""The detect stage: a camera message's checks, then segmentation and classification.

What the classifier node and the offline tools do with every frame: decode it,
refuse one of the wrong size or with a stamp that is not newer, count the
frames the camera sent that never arrived, and hand the rest to the item
detector.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting import paths
from waste_sorting.cell.builders import Values, detector_settings
from waste_sorting.cell.messages import image_to_bgr, to_sec
from waste_sorting.inference.classifier import ImageClassifier
from waste_sorting.vision.belt_model import BeltModel
from waste_sorting.vision.item_detector import FrameResult, ItemDetector
from waste_sorting.vision.segmentation import BeltSegmenter


@dataclass(frozen=True)
class Detected:
    stamp: float
    image: np.ndarray
    result: FrameResult


@dataclass(frozen=True)
class Rejected:
    reason: str

    @property
    def kind(self) -> str:
        """The reason without its figures: what a log line is throttled by."""
        return self.reason.split(",")[0].split("(")[0]


@dataclass
class DetectStats:
    frames: int = 0     # frames detected
    rejected: int = 0   # frames refused (undecodable, wrong size, stamp not newer)
    dropped: int = 0    # frames the camera sent that never arrived (gaps in the stamps)
    items: int = 0      # detections published


class DetectStage:
    def __init__(self, detector: ItemDetector, values: Values) -> None:
        self.detector = detector
        self.stats = DetectStats()
        self.last_stamp: float | None = None
        self.period: float | None = None  # camera frame period, learnt from the stamps
        self.latencies: deque[float] = deque(maxlen=200)  # recent frames' processing times, s
        self.news: list[tuple[str, str]] = []  # (level, line) the log says once: the model settled, a region too large
        self.expected_size = _frame_size(values)  # the detector was built from ``values`` already

    def configure(self, values: Values) -> None:
        """New classifier parameter values (checked whole before anything changes)."""
        homography, seg, det = detector_settings(values)
        self.detector.homography = homography
        self.detector.segmenter.cfg = seg
        self.detector.configure(det)
        self.expected_size = _frame_size(values)

    def process(self, msg: Any, keep_crops: bool = False) -> Detected | Rejected:
        """One Image or CompressedImage message, rclpy's or a bag's."""
        try:
            frame = image_to_bgr(msg)
        except ValueError as exc:
            return self._reject(str(exc))
        w, h = self.expected_size
        if w > 0 and h > 0 and (frame.shape[1], frame.shape[0]) != (w, h):
            return self._reject(f"{frame.shape[1]}x{frame.shape[0]}, expected {w}x{h} "
                                "(the homography is for that size)")
        stamp = to_sec(msg.header.stamp)
        if self.last_stamp is not None and stamp <= self.last_stamp:
            return self._reject("stamp not newer than the last one")
        if self.last_stamp is not None:
            gap = stamp - self.last_stamp
            if self.period is None or gap < 1.5 * self.period:
                self.period = gap if self.period is None else 0.9 * self.period + 0.1 * gap
            else:
                self.stats.dropped += max(int(round(gap / self.period)) - 1, 0)
        self.last_stamp = stamp
        t0 = time.perf_counter()
        belt = self.detector.segmenter
        was_settled, oversize = belt.settled, belt.oversize
        result = self.detector.process(frame, stamp, keep_crops)
        self.latencies.append(time.perf_counter() - t0)
        if belt.settled and not was_settled:
            news = (f"belt model settled after {belt.settled_after} frames of steady exposure: items are reported "
                    "from now")
            if belt.shade_min < belt.cfg.shade_min:
                news += (f"; shades down to {belt.shade_min:.2f} of the belt's brightness are stains "
                         f"(the belt model's, darker than shade_min {belt.cfg.shade_min:g})")
            self.news.append(("info", news))
        if belt.oversize and not oversize:
            self.news.append(("warning", oversize_news(belt.oversize_share, belt.cfg.max_area_fraction)))
        self.stats.frames += 1
        self.stats.items += len(result.records)
        return Detected(stamp, frame, result)

    def status(self) -> tuple[str | None, dict[str, Any]]:
        """(what is wrong, or None; the figures) for the classifier's diagnostics."""
        st, belt = self.stats, self.detector.segmenter
        lat = np.array(self.latencies) * 1e3
        values = {"frames": st.frames, "dropped_frames": st.dropped, "rejected_frames": st.rejected,
                  "items": st.items, "classifications_skipped": self.detector.budget.skipped,
                  "latency_p50_ms": float(np.percentile(lat, 50)) if lat.size else 0.0,
                  "latency_p99_ms": float(np.percentile(lat, 99)) if lat.size else 0.0,
                  "belt_settled": belt.settled, "exposure_gain": float(belt.gain.mean()),
                  "shade_min": belt.shade_min, "oversize_regions": belt.oversize}
        if st.frames and not belt.settled:
            return "settling: learning the empty belt, no items yet", values
        return (f"{st.rejected} frames rejected" if st.rejected else None), values

    def _reject(self, reason: str) -> Rejected:
        self.stats.rejected += 1
        return Rejected(reason)


def oversize_news(share: float, limit: float) -> str:
    """What a region too large to be an item means, and what to do if it was one."""
    return (f"a region covering {share:.0%} of the view was not taken for an item (max_area_fraction {limit:g}): "
            "light the belt model did not follow, or an item that large (then raise max_area_fraction)")


def _frame_size(values: Values) -> tuple[int, int]:
    return int(values["expected_size"][0]), int(values["expected_size"][1])


def build_detect(values: Values, model: Path | None = None) -> DetectStage:
    """The stage for classifier parameter values; ``model`` replaces the values' model file."""
    classifier = ImageClassifier(model or paths.resolve(values["model"], paths.default_model()),
                                 values["backend"], values["threads"])
    homography, seg, det = detector_settings(values)
    belt = BeltModel.load(paths.resolve(values["belt_model"], Path())) if values["belt_model"] else None
    return DetectStage(ItemDetector(BeltSegmenter(seg, belt), homography, classifier, det), values)


def class_names_warning(values: Values, classifier: ImageClassifier) -> str | None:
    """The configured class names when they differ from the model's (the model's are used)."""
    if list(values["classes"]) == classifier.classes:
        return None
    return f"parameter classes {values['classes']} differ from the model's {classifier.classes}; using the model's"
