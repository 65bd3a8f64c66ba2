"""Find items on the belt: a belt background model, thresholding and contours.

The belt looks the same along its travel direction, so the background is one
colour per image row (the median across the row, smoothed over frames): items
cover less than half a row, lengthwise streaks in the rubber are learnt, and
lighting drift is followed. Work is done on a downscaled frame; blobs whose
shape says "two items touching" are split with a distance-transform watershed.
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
        # Median of every 4th column: the same belt estimate at a quarter of the cost.
        row_model = np.median(small[:, ::4], axis=1, keepdims=True).astype(np.float32)
        if self._belt is None or self._belt.shape != row_model.shape:
            self._belt = row_model
        else:
            self._belt += self.cfg.learning_rate * (row_model - self._belt)
        belt = np.repeat(self._belt.astype(np.uint8), small.shape[1], axis=1)  # contiguous: fast absdiff
        diff = cv2.absdiff(small, belt)
        dist = cv2.max(cv2.max(diff[..., 0], diff[..., 1]), diff[..., 2])
        _, mask = cv2.threshold(dist, self.cfg.threshold, 255, cv2.THRESH_BINARY)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        return small, mask

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
