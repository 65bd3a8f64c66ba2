"""Cut a photographed item out of its plain (white/grey) studio background.

TrashNet-style photos show one item on a bright, low-texture background. The
background colour is estimated from the image border; pixels far from it (in
Lab, with lightness down-weighted so soft shadows stay background) are the
item, and the convex hull of those pieces is a first silhouette (transparent
items fall apart under a colour threshold). That hull also swallows patches of
studio background between the pieces and the photo's shaded corners: pasted on
a dark belt they became pale wedges stuck to the item, which the classifier
read as paper. GrabCut, started from the hull, then gives back to the
background what looks like the border; if it would keep less than
``MIN_REFINED_FRACTION`` of the hull (a clear bottle read as background) the
hull stands. Items that fill the frame (a sheet of cardboard) keep the whole
image.
"""

from __future__ import annotations

import cv2
import numpy as np

WORK_SIZE = 256  # the mask is computed at this longer side, then scaled up
MIN_AREA_FRACTION = 0.03
FULL_FRAME_FRACTION = 0.85
REFINE_SIZE = 160          # GrabCut runs at this longer side (about 60 ms an image)
REFINE_ITERATIONS = 3
MIN_REFINED_FRACTION = 0.45
CUTOUT_VERSION = 2         # part of cache keys: masks made by an older cut-out are recomputed


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
    hull = colour_hull_mask(image_bgr)
    if hull.min() == 255:  # the item fills the photo: nothing to refine
        return hull
    return refine_mask(image_bgr, hull)


def refine_mask(image_bgr: np.ndarray, hull: np.ndarray) -> np.ndarray:
    """GrabCut from the hull: inside is probably item, outside probably background, border surely."""
    h, w = image_bgr.shape[:2]
    scale = min(1.0, REFINE_SIZE / max(h, w))
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    small = cv2.resize(image_bgr, size, interpolation=cv2.INTER_AREA)
    inside = cv2.resize(hull, size, interpolation=cv2.INTER_NEAREST) > 127
    labels = np.where(inside, cv2.GC_PR_FGD, cv2.GC_PR_BGD).astype(np.uint8)
    b = 3
    border = np.zeros(inside.shape, bool)
    border[:b], border[-b:], border[:, :b], border[:, -b:] = True, True, True, True
    labels[border & ~inside] = cv2.GC_BGD
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.setRNGSeed(0)  # GrabCut's k-means draws from OpenCV's global RNG: same image, same mask
    try:
        cv2.grabCut(small, labels, None, bgd, fgd, REFINE_ITERATIONS, cv2.GC_INIT_WITH_MASK)
    except cv2.error:  # a colour model it cannot fit (too few pixels of one side): keep the hull
        return hull
    mask = np.where((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    n, comp, stats, _ = cv2.connectedComponentsWithStats(mask)
    if n > 2:  # one item, in one piece: detached bits would be seen (and sorted) as items of their own
        mask = (comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8) * 255
    if np.count_nonzero(mask) < MIN_REFINED_FRACTION * np.count_nonzero(inside):
        return hull
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR)


def colour_hull_mask(image_bgr: np.ndarray) -> np.ndarray:
    """First silhouette: the filled hull of everything far in colour from the border."""
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
