"""Find items on the belt: a belt background model, thresholding and contours.

The belt looks the same along its travel direction, so the background is one
colour per image row: lengthwise streaks in the rubber are learnt, and
lighting drift is followed. The first frame starts the model from each row's
median, with rows that stand out from their neighbours (a burst of items
covering most of a row) taken from the neighbours instead; later frames update
each row from its belt pixels only, so items never leak into the model (a row
with almost no belt left follows its median, so a sudden lighting change is
still learnt). Work is done on a downscaled frame; blobs whose shape says "two
items touching" are split with a distance-transform watershed.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class SegmentationConfig:
    threshold: float = 28.0        # colour distance (0-255) from the belt that counts as item
    min_area_px: int = 400         # full-resolution pixels
    max_area_fraction: float = 0.5
    downscale: int = 2             # work on a 1/downscale frame
    learning_rate: float = 0.05    # belt model update per frame
    belt_row_min_share: float = 0.1  # a row with less belt than this share follows its median instead
    split_touching: bool = True
    split_solidity: float = 0.88   # blobs less convex than this are split candidates
    split_min_part: float = 0.25   # each part of a split holds at least this share of the blob (a bottle's neck
                                   # is not an item of its own)


@dataclass(frozen=True)
class Blob:
    """One item's silhouette in full-resolution pixels."""

    x0: int
    y0: int
    x1: int
    y1: int
    cx: float
    cy: float
    area: float
    touches_edge: bool
    contour: np.ndarray  # Nx2 int32, full-resolution pixels


class BeltSegmenter:
    def __init__(self, cfg: SegmentationConfig | None = None) -> None:
        self.cfg = cfg or SegmentationConfig()
        self._belt: np.ndarray | None = None  # rows x 1 x 3 float32

    def reset(self) -> None:
        self._belt = None

    def foreground(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(small frame, uint8 mask at the downscaled resolution)."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected HxWx3 uint8 BGR, got {frame_bgr.shape} {frame_bgr.dtype}")
        d = self.cfg.downscale
        small = frame_bgr if d == 1 else cv2.resize(
            frame_bgr, (frame_bgr.shape[1] // d, frame_bgr.shape[0] // d), interpolation=cv2.INTER_AREA)
        cols = small[:, ::4]  # every 4th column: the same belt estimate at a quarter of the cost
        if self._belt is None or self._belt.shape[0] != small.shape[0]:
            self._belt = _robust_rows(_row_median(cols), self.cfg.threshold / 2)
            self._learn(cols, self._distance(cols, self._belt), 1.0)  # then each row from its own belt pixels
        dist = self._distance(small, self._belt)
        _, mask = cv2.threshold(dist, self.cfg.threshold, 255, cv2.THRESH_BINARY)
        self._learn(cols, dist[:, ::4], self.cfg.learning_rate)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        return small, mask

    @staticmethod
    def _distance(small: np.ndarray, belt: np.ndarray) -> np.ndarray:
        """Per-pixel colour distance (largest channel difference) from the belt model."""
        diff = cv2.absdiff(small, np.repeat(belt.astype(np.uint8), small.shape[1], axis=1))  # contiguous: fast
        return cv2.max(cv2.max(diff[..., 0], diff[..., 1]), diff[..., 2])

    def _learn(self, cols: np.ndarray, dist: np.ndarray, rate: float) -> None:
        """Move each row's belt colour towards the mean of its belt pixels (those within the threshold); a row
        with almost none follows its median, so a lighting change larger than the threshold is still learnt."""
        assert self._belt is not None
        is_belt = (dist <= self.cfg.threshold)[..., None]
        count = is_belt.sum(axis=1, keepdims=True, dtype=np.float32)
        target = (cols * is_belt).sum(axis=1, keepdims=True, dtype=np.float32) / np.maximum(count, 1.0)
        starved = count[:, 0, 0] < self.cfg.belt_row_min_share * cols.shape[1]
        if starved.any():
            target[starved] = _row_median(cols[starved])
        self._belt += rate * (target - self._belt)

    def segment(self, frame_bgr: np.ndarray) -> list[Blob]:
        small, mask = self.foreground(frame_bgr)
        d = self.cfg.downscale
        h, w = mask.shape
        min_area = self.cfg.min_area_px / (d * d)
        max_area = self.cfg.max_area_fraction * h * w
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        blobs: list[Blob] = []
        for c in contours:
            area = cv2.contourArea(c)
            if area < min_area or area > max_area:
                continue
            parts = self._split(small, c, min_area) if self.cfg.split_touching else [c]
            for part in parts:
                blobs.append(self._blob(part, d, w, h))
        return blobs

    def _split(self, small: np.ndarray, contour: np.ndarray, min_area: float) -> list[np.ndarray]:
        area = cv2.contourArea(contour)
        hull_area = cv2.contourArea(cv2.convexHull(contour))
        if hull_area <= 0 or area / hull_area >= self.cfg.split_solidity or area < 2 * min_area:
            return [contour]
        x, y, bw, bh = cv2.boundingRect(contour)
        pad = 2
        local = np.zeros((bh + 2 * pad, bw + 2 * pad), np.uint8)
        cv2.drawContours(local, [contour - [x - pad, y - pad]], -1, 255, cv2.FILLED)
        dist = cv2.distanceTransform(local, cv2.DIST_L2, 5)
        peaks = (dist > 0.55 * dist.max()).astype(np.uint8)
        n, markers = cv2.connectedComponents(peaks)
        if n <= 2:  # background + one core: a single (odd-shaped) item
            return [contour]
        markers = markers + 1
        markers[(local > 0) & (peaks == 0)] = 0
        roi = np.zeros((bh + 2 * pad, bw + 2 * pad, 3), np.uint8)
        y0, x0 = max(y - pad, 0), max(x - pad, 0)
        src = small[y0:y + bh + pad, x0:x + bw + pad]
        roi[y0 - (y - pad): y0 - (y - pad) + src.shape[0], x0 - (x - pad): x0 - (x - pad) + src.shape[1]] = src
        cv2.watershed(roi, markers)
        parts, part_areas = [], []
        for label in range(2, n + 1):
            part = ((markers == label) & (local > 0)).astype(np.uint8)
            cs, _ = cv2.findContours(part, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            if cs:
                big = max(cs, key=cv2.contourArea)
                big_area = cv2.contourArea(big)
                if big_area >= min_area / 2:
                    parts.append(big + [x - pad, y - pad])
                    part_areas.append(big_area)
        if len(parts) < 2 or min(part_areas) < self.cfg.split_min_part * area:
            return [contour]
        return parts

    @staticmethod
    def _blob(contour: np.ndarray, d: int, w: int, h: int) -> Blob:
        x, y, bw, bh = cv2.boundingRect(contour)
        m = cv2.moments(contour)
        cx, cy = (m["m10"] / m["m00"], m["m01"] / m["m00"]) if m["m00"] else (x + bw / 2, y + bh / 2)
        edge = x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1
        return Blob(x * d, y * d, (x + bw) * d, (y + bh) * d, (cx + 0.5) * d, (cy + 0.5) * d,
                    float(m["m00"]) * d * d, edge, (contour.reshape(-1, 2) * d).astype(np.int32))


def _row_median(cols: np.ndarray) -> np.ndarray:
    return np.median(cols, axis=1, keepdims=True).astype(np.float32)


def _robust_rows(rows: np.ndarray, tolerance: float) -> np.ndarray:
    """Row colours with outlier rows replaced by their neighbourhood's median.

    A row median is the belt while items cover less than half the row; a burst can cover more, and those rows
    stand out from the rows around them (the belt changes slowly across rows: streaks and light falloff).
    """
    n = rows.shape[0]
    k = max(3, (n // 2) | 1)  # odd window, half the frame: a band of items is a minority in it
    flat = rows.reshape(n, 3)
    padded = np.pad(flat, ((k // 2, k // 2), (0, 0)), mode="reflect")
    windows = np.lib.stride_tricks.sliding_window_view(padded, k, axis=0)  # n x 3 x k
    smooth = np.median(windows, axis=2)
    outlier = np.abs(flat - smooth).max(axis=1) > tolerance
    return np.where(outlier[:, None], smooth, flat).reshape(rows.shape).astype(np.float32)
