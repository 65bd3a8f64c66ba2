"""Cut a photographed item out of its plain (white/grey) studio background.

TrashNet-style photos show one item on a bright, low-texture background. Two
first silhouettes are made at a small working size:

- colour: pixels far in Lab from the border's colour (lightness down-weighted
  so soft shadows stay background), filled as the convex hull of the pieces.
  It finds coloured items, but the hull also swallows studio board between
  the pieces and the photo's shaded corners, and clear glass has almost no
  colour of its own: the colour mask is empty and the whole photo used to be
  pasted on the belt, studio board and all.
- edges: Canny on L, a and b, closed, and everything not reachable from the
  photo's corners. Clear glass has outlines and highlights even where it has
  no colour, and a soft shadow has no edge.

The edge silhouette is preferred when it encloses something item-like (not a
thin fold or a line of text); GrabCut, started from it, then gives back to the
background what looks like the border. If GrabCut would keep less than
``MIN_REFINED_FRACTION`` of its start, the start stands. A photo the colour
hull fills edge to edge (a sheet of cardboard) keeps the whole image.
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
CUTOUT_VERSION = 3         # part of cache keys: masks made by an older cut-out are recomputed
EDGE_THRESHOLDS = (15, 40)  # Canny on lightness (half for a and b), at WORK_SIZE
MIN_EDGE_AREA_FRACTION = 0.01
MIN_EDGE_THICKNESS = 8     # px at WORK_SIZE: thinner regions are folds and print, not items
# Studio boards are white, grey or pale pink (border chroma up to about 17 in TrashNet); a border as
# coloured as cardboard (18-28) is the item itself, filling the photo: its folds and print are no outline.
MAX_BOARD_CHROMA = 18.0


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
    hull, colour_fraction, border_chroma = _colour_hull(image_bgr)
    if colour_fraction > FULL_FRAME_FRACTION or border_chroma >= MAX_BOARD_CHROMA:
        return np.full(image_bgr.shape[:2], 255, np.uint8)  # the item fills the photo: nothing to cut
    start = edge_silhouette(image_bgr)
    if start is None:
        if colour_fraction < MIN_AREA_FRACTION:  # neither colour nor edges found it: keep the photo
            return np.full(image_bgr.shape[:2], 255, np.uint8)
        start = hull
    return refine_mask(image_bgr, start)


def _work_image(image_bgr: np.ndarray) -> np.ndarray:
    if image_bgr.ndim != 3 or image_bgr.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 BGR image, got shape {image_bgr.shape}")
    h, w = image_bgr.shape[:2]
    scale = WORK_SIZE / max(h, w)
    return cv2.resize(image_bgr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)


def edge_silhouette(image_bgr: np.ndarray) -> np.ndarray | None:
    """The region the item's outline encloses, or None if the edges enclose nothing item-like."""
    h, w = image_bgr.shape[:2]
    lab = cv2.cvtColor(_work_image(image_bgr), cv2.COLOR_BGR2LAB)
    lo, hi = EDGE_THRESHOLDS
    edges = cv2.Canny(cv2.GaussianBlur(lab[..., 0], (0, 0), 1.2), lo, hi)
    for ch in (1, 2):
        edges |= cv2.Canny(cv2.GaussianBlur(lab[..., ch], (0, 0), 1.2), lo // 2, hi // 2)
    b = 3  # the photo's own border and vignetting are not the item
    edges[:b], edges[-b:], edges[:, :b], edges[:, -b:] = 0, 0, 0, 0
    edges = cv2.dilate(edges, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)), iterations=2)
    # Outside is what the corners reach (each background region of the photo touches one); an item
    # running off one side of the photo stays inside.
    fill = edges.copy()
    seed_mask = np.zeros((fill.shape[0] + 2, fill.shape[1] + 2), np.uint8)
    sh, sw = fill.shape
    for x, y in ((0, 0), (sw - 1, 0), (0, sh - 1), (sw - 1, sh - 1)):
        if fill[y, x] == 0:
            cv2.floodFill(fill, seed_mask, (x, y), 128)
    inside = (fill != 128).astype(np.uint8) * 255
    inside = cv2.erode(inside, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5)), iterations=2)
    n, comp, stats, _ = cv2.connectedComponentsWithStats(inside)
    if n < 2:
        return None
    region = (comp == 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))).astype(np.uint8)
    fraction = float(region.sum()) / region.size
    thickness = float(cv2.distanceTransform(region, cv2.DIST_L2, 3).max())
    if not MIN_EDGE_AREA_FRACTION <= fraction <= FULL_FRAME_FRACTION or thickness < MIN_EDGE_THICKNESS:
        return None
    return cv2.resize(region * 255, (w, h), interpolation=cv2.INTER_LINEAR)


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
    """First silhouette: the filled hull of everything far in colour from the border (the whole
    photo when that is almost nothing or almost everything)."""
    hull, fraction, _ = _colour_hull(image_bgr)
    if fraction < MIN_AREA_FRACTION or fraction > FULL_FRAME_FRACTION:
        hull[:] = 255
    return hull


def _colour_hull(image_bgr: np.ndarray) -> tuple[np.ndarray, float, float]:
    """(hull mask at full size, its share of the photo, the chroma of the photo's border)."""
    h, w = image_bgr.shape[:2]
    lab = cv2.cvtColor(_work_image(image_bgr), cv2.COLOR_BGR2LAB).astype(np.float32)
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
    fraction = float(np.count_nonzero(mask)) / mask.size
    chroma = float(np.hypot(bg[1] - 128.0, bg[2] - 128.0))
    return cv2.resize(mask, (w, h), interpolation=cv2.INTER_LINEAR), fraction, chroma


def crop_to_mask(image_bgr: np.ndarray, mask: np.ndarray, margin: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Crop image and mask to the mask's bounding box (plus a small margin)."""
    ys, xs = np.nonzero(mask > 127)
    if ys.size == 0:
        return image_bgr, mask
    y0, y1 = max(0, ys.min() - margin), min(mask.shape[0], ys.max() + margin + 1)
    x0, x1 = max(0, xs.min() - margin), min(mask.shape[1], xs.max() + margin + 1)
    return image_bgr[y0:y1, x0:x1], mask[y0:y1, x0:x1]
