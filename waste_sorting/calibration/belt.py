"""The empty running belt's model, learnt from a recording or the live camera (`calibrate belt`).

The technician's first step on a new line: run the belt empty for some
seconds; the segmenter learns its light, colour cast, stains and dust, and
the result is saved where the classifier loads it at start (``belt_model``).
The frames after the model settled are checked too: an empty belt should
show no item pixels, and if it does, the threshold that would hide them is
reported.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from waste_sorting.errors import DataError
from waste_sorting.vision.segmentation import BeltModel, BeltSegmenter, SegmentationConfig


@dataclass(frozen=True)
class BeltCalibration:
    model: BeltModel
    frames: int                 # frames read
    settled_after: int          # frames it took the exposure to settle
    item_pixel_share: float     # share of pixels the settled model still took for items (empty belt: ~0)
    blobs: int                  # item blobs found on the empty belt after settling


def learn_belt(frames: Iterable[np.ndarray], cfg: SegmentationConfig) -> BeltCalibration:
    """Learn the belt from frames of it running empty."""
    seg = BeltSegmenter(cfg)
    n = blobs = 0
    item_px = checked_px = 0
    size: tuple[int, int] | None = None
    for frame in frames:
        n += 1
        size = (frame.shape[1], frame.shape[0])
        found = seg.segment(frame)
        if seg.settled_after is not None and n > seg.settled_after:
            _, mask = seg.last_mask
            item_px += int(np.count_nonzero(mask))
            checked_px += mask.size
            blobs += len(found)
    model = seg.model(size) if size is not None else None
    if model is None or seg.settled_after is None:
        raise DataError(f"the belt model did not settle in {n} frames: the camera's exposure never held steady "
                        "(record longer, or fix the camera's exposure)")
    if checked_px == 0:
        raise DataError(f"the model settled only at the last of {n} frames: record a few seconds more")
    return BeltCalibration(model, n, seg.settled_after, item_px / checked_px, blobs)
