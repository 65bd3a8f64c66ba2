"""The empty running belt's model, learnt from a recording or the live camera (`calibrate belt`).

The technician's first step on a new line: run the belt empty for some
seconds; the segmenter learns its light, colour cast, stains and dust, and
the result is saved where the classifier loads it at start (``belt_model``).
It measures how dark the belt's stains get, so that the model takes them for
belt even where they are darker than ``shade_min`` allows. The model is then
checked on the frames again, as the cell would start from it: an empty belt
should show no item pixels.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, replace

import numpy as np

from waste_sorting.errors import DataError
from waste_sorting.vision.belt_model import BeltModel
from waste_sorting.vision.segmentation import DARKEST_STAIN, BeltSegmenter, Blob, SegmentationConfig

STAIN_QUANTILE = 0.001  # the darkest stains: this quantile of the brightness ratios of the belt's darker shades
STAIN_MARGIN = 0.05     # the model takes shades this much darker still for stains
STAIN_SAMPLES = 500     # fewer darker shades than this on the whole recording: nothing to measure


@dataclass(frozen=True)
class BeltCalibration:
    model: BeltModel
    frames: int                 # frames read to learn it
    settled_after: int          # frames it took the exposure to settle
    stain_shade: float | None   # darkest shade of the belt its stains gave (None: too few stained pixels)
    item_pixel_share: float     # share of pixels the cell, starting from the model, took for items (empty: ~0)
    blobs: int                  # item blobs it found on the empty belt


def learn_belt(frames: Callable[[], Iterable[np.ndarray]], cfg: SegmentationConfig) -> BeltCalibration:
    """Learn the belt from frames of it running empty, then check the model on them as the cell would use it.

    ``frames`` gives the frames each time it is called: once to learn, once to check.
    """
    seg = BeltSegmenter(cfg)
    shades: list[np.ndarray] = []
    size: tuple[int, int] | None = None
    for frame, _ in _settled(seg, frames()):
        size = (frame.shape[1], frame.shape[0])
        shades.append(seg.stain_shades())
    n = seg.frames
    if seg.settled_after is None:
        raise DataError(f"the belt model did not settle in {n} frames: the camera's exposure never held steady "
                        "(record longer, or fix the camera's exposure)")
    model = seg.model(size) if size is not None else None
    if model is None:
        raise DataError(f"the model settled only at the last of {n} frames: record a few seconds more")
    shade = np.concatenate(shades)
    stain = float(np.quantile(shade, STAIN_QUANTILE)) if shade.size >= STAIN_SAMPLES else None
    if stain is not None:
        model = replace(model, shade_min=max(DARKEST_STAIN, stain - STAIN_MARGIN))
    share, blobs = _check(frames(), model, cfg)
    return BeltCalibration(model, n, seg.settled_after, stain, share, blobs)


def _settled(seg: BeltSegmenter, frames: Iterable[np.ndarray]) -> Iterator[tuple[np.ndarray, list[Blob]]]:
    """Every frame through the segmenter; those after its model settled, with the blobs found on them."""
    for n, frame in enumerate(frames, 1):
        found = seg.segment(frame)
        if seg.settled_after is not None and n > seg.settled_after:
            yield frame, found


def _check(frames: Iterable[np.ndarray], model: BeltModel, cfg: SegmentationConfig) -> tuple[float, int]:
    """(share of pixels taken for items, item blobs) on frames of the empty belt, starting from ``model``."""
    seg = BeltSegmenter(cfg, model)
    blobs = item_px = checked_px = 0
    for _, found in _settled(seg, frames):
        mask = seg.last_mask[1]
        item_px += int(np.count_nonzero(mask))
        checked_px += mask.size
        blobs += len(found)
    return item_px / max(checked_px, 1), blobs
