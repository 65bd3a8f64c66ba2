"""Labelled photos in the shape they were taken.

TrashNet's files are stored 384 wide x 512 high, but the scenes were shot 4:3
landscape and squeezed into that shape: as stored, jar lids and can ends are
tall ellipses. Training frames every photo 4:3 (``model.dataset.PRELOAD_SIZE``),
so the model learnt items in their true shape, as a camera sees them; the
simulator must paste them in that shape too, or every item on the simulated
belt is 0.56 times as wide as it should be.
"""

from __future__ import annotations

import cv2
import numpy as np

from waste_sorting.params import Param

PHOTO_ASPECT = 4 / 3  # width / height of the scene in a labelled photo (TrashNet's); 0: as stored
# Declared once: the simulator's node parameter, `sim --photo-aspect` and `classify --photo-aspect` check against it.
ASPECT_PARAM = Param("photo_aspect", PHOTO_ASPECT, "true width / height of the photos (TrashNet's were shot 4:3 "
                     "and are stored squeezed to 3:4); 0 = as stored", "", 0.0, 10.0)


def aspect_problem(aspect: float) -> str | None:
    if ASPECT_PARAM.check(float(aspect)) is None:
        return None
    return f"photo aspect must be 0 (as stored) or positive, at most {ASPECT_PARAM.max:g}; got {aspect}"


def as_taken(image: np.ndarray, aspect: float = PHOTO_ASPECT) -> np.ndarray:
    """The photo stretched to ``aspect`` (width / height), its longer side kept; ``aspect`` 0 keeps it."""
    if (why := aspect_problem(aspect)) is not None:
        raise ValueError(why)
    h, w = image.shape[:2]
    if aspect == 0 or abs(w / h - aspect) < 0.01 * aspect:
        return image
    side = max(h, w)
    size = (side, max(1, round(side / aspect))) if aspect >= 1 else (max(1, round(side * aspect)), side)
    shrinks = size[0] * size[1] < w * h
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA if shrinks else cv2.INTER_LINEAR)
