"""Cut a photographed item out of its plain (white/grey) studio background.

TrashNet-style photos show one item on a bright, low-texture background. The
background colour is estimated from the image border; pixels far from it (in
Lab, with lightness down-weighted so soft shadows stay background) are the
item. Items that fill the frame (a sheet of cardboard) keep the whole image.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIZE = 256  # the mask is computed at this longer side, then scaled up
MIN_AREA_FRACTION = 0.03
FULL_FRAME_FRACTION = 0.85


def _hull_of_components(mask: np.ndarray, min_fraction: float = 0.004) -> np.ndarray:
    """Filled convex hull of all sizeable components.

    Transparent items (bottles, film) fall apart into several pieces under a
    colour threshold; their hull is the item's silhouette.
    """
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    out = np.zeros_like(mask)
    keep = [c for c in contours if cv2.contourArea(c) >= min_fraction * mask.size]
    if keep:
        hull = cv2.convexHull(np.concatenate(keep))
        cv2.drawContours(out, [hull], -1, 255, thickness=cv2.FILLED)
    return out


def item_mask(image_bgr: np.ndarray) -> np.ndarray:
    """uint8 mask (255 = item) of the same height and width as ``image_bgr``."""
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR image, got shape {image_bgr.shape}")
    h, w = image_bgr.shape[:2]
    scale = WORK_SIZE / max(h, w)
    small = cv2.resize(image_bgr, (max(1, round(w * scale)), max(1, round(h * scale))),
                       interpolation=cv2.INTER_AREA)
    lab = cv2.cvtColor(small, cv2.COLOR_BGR2LAB).astype(np.float32)
    b = 4
    border = np.concatenate(
        [lab[:b].reshape(-1, 3), lab[-b:].reshape(-1, 3), lab[:, :b].reshape(-1, 3),
         lab[:, -b:].reshape(-1, 3)]
    )
    bg = np.median(border, axis=0)
    weights = np.array([0.35, 1.0, 1.0], np.float32)
    dist = np.sqrt((((lab - bg) * weights) ** 2).sum(axis=2))
    border_dist = np.sqrt((((border - bg) * weights) ** 2).sum(axis=1))
    thr = max(14.0, float(np.percentile(border_dist, 75)) * 1.8)
    mask = (dist > thr).astype(np.uint8) * 255
    k = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, k, iterations=2)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)))
    mask = _hull_of_components(mask)
    frac = float(np.count_nonzero(mask)) / mask.size
    if frac < MIN_AREA_FRACTION or frac > FULL_FRAME_FRACTION:
        mask[:] = 255
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)


def crop_to_mask(image_bgr: np.ndarray, mask: np.ndarray, margin: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Crop image and mask to the mask's bounding box (plus a small margin)."""
    ys, xs = np.nonzero(mask > 127)
    if ys.size == 0:
        return image_bgr, mask
    y0, y1 = max(0, ys.min() - margin), min(mask.shape[0], ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(mask.shape[1], xs.max() + margin + 1)
    return image_bgr[y0:y1, x0:x1], mask[y0:y1, x0:x1]
