"""The classifier's debug image: each detection's box, its track id and its class."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from waste_sorting.vision.item_detector import FrameResult

MATCH_DISTANCE = 0.05  # m: a track this close to a detection, at the same stamp, is that detection's


def track_ids(tracked: np.ndarray, records: np.ndarray) -> list[int | None]:
    """The track nearest each detection, from the tracker's own positions at the detections' stamp."""
    if len(tracked) == 0:
        return [None] * len(records)
    ids: list[int | None] = []
    for r in records:
        d = np.hypot(tracked["x"] - r["x"], tracked["y"] - r["y"])
        k = int(np.argmin(d))
        ids.append(int(tracked["item_id"][k]) if d[k] < MATCH_DISTANCE else None)
    return ids


def annotate(frame: np.ndarray, result: FrameResult, classes: Sequence[str],
             ids: Sequence[int | None] | None = None) -> np.ndarray:
    """A copy of ``frame`` with boxes (green: classified in this frame) and labels."""
    out = frame.copy()
    ids = ids if ids is not None else [None] * len(result.records)
    for b, r, done, tid in zip(result.blobs, result.records, result.classified, ids, strict=True):
        colour = (0, 200, 0) if done else (0, 200, 255)
        cv2.rectangle(out, (b.x0, b.y0), (b.x1, b.y1), colour, 2)
        label = f"#{tid}" if tid is not None else "new"
        if done:
            label += f" {classes[int(r['class_id'])]} {float(r['confidence']):.2f}"
        cv2.putText(out, label, (b.x0, max(b.y0 - 4, 10)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1)
    return out
