"""Find items on the belt: a learnt model of the empty belt, exposure compensation, shade rejection.

The belt model is a grid of tiles (``tile_px`` downscaled pixels square), each
the belt's mean colour there, so uneven light, vignetting and a colour cast
are part of the belt. It starts as the per-tile median over the first frames
once the camera's exposure has settled (auto-exposure swings for a second
after start), or from a model `waste-sorting calibrate belt` learnt from the
empty running belt; until then the segmenter reports nothing, and says so
(`settled`). Each frame's exposure and white balance are measured against the
model (per-channel gain, the median over tiles no item covers) and
compensated, so a swing of exposure makes no items. Tiles are learnt only
where no item is, so an item that stops never becomes belt.

A model learnt wrong (an item in view while it settled, a slow or stopped belt
at start) leaves a ghost: a region that differs from the model but not from the
belt around it, which would otherwise never be learnt since it is taken for an
item. A real item, moving or stopped, shows its edge in the frame: across its
outline the colour changes. A ghost's outline is only in the model, and stays
put. So a tile on a still outline with no colour change across it, seen so
``GHOST_LOOKS`` times in a row, is learnt again from the frame: the ghost wears
away from its outline inwards, and stops at a real item's edge. Only places an
item has covered for ``GHOST_AFTER`` frames are looked at: on a moving belt
items pass a tile faster, so the look costs nothing there.

A pixel is an item candidate when its colour is further than ``threshold``
from the compensated belt. Stains and wet patches darken the belt without
changing its colour (a shade: brightness ratio between ``shade_min`` and 1,
chromaticity change below ``shade_chroma``, after Horprasert et al.'s
background model; a model from `calibrate belt` that saw darker stains on the
empty belt lowers ``shade_min`` to them, and cuts such stains off the outline of an item
they touch, which they would otherwise stretch), so such pixels are belt, and a region with fewer than
``stain_share`` of its pixels unlike a shade is dropped. One with fewer than
``item_share`` is kept, marked by its ``solid`` share: the tracker passes an item
seen mostly so as not an item, rather than fire at what may be a stain. So is a
region nearly all of the belt's own colour but darker than ``shade_min`` allows
(down to ``DARKEST_STAIN``): a wetter stain as likely as a dark grey item. Dust specks are too small to
survive the morphological opening and ``min_area_px``, and pale grey specks
(``speck_area_px``) are dropped before an item's gaps are closed, unless they
touch the item: dust a few pixels off an item would otherwise join it and
stretch it in every sighting, since the dust rides the belt with it. A region
larger than ``max_area_fraction`` of the view is light the model did not
follow, not an item: counted (``oversize``) for the log and diagnostics. Work
is done on a downscaled frame; blobs whose shape says "two items touching" are split with
a distance-transform watershed, when every part is convex (a ragged item cut
at a waist is one item).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from waste_sorting.vision.belt_model import BeltModel


@dataclass(frozen=True)
class SegmentationConfig:
    threshold: float = 28.0        # colour distance (0-255) from the belt that counts as item
    min_area_px: int = 400         # full-resolution pixels
    speck_area_px: int = 40        # full-resolution pixels: pale grey specks whose box is no larger are dropped
                                   # before an item's gaps are closed, so dust beside an item does not stretch
                                   # it (0: off)
    max_area_fraction: float = 0.7  # a region larger than this share of the view is not an item (light the model
                                    # did not follow): the largest item the classification band sees whole
    downscale: int = 2             # work on a 1/downscale frame
    learning_rate: float = 0.05    # belt model update per frame, where no item is
    tile_px: int = 16              # belt model tile side, downscaled pixels
    shade_min: float = 0.45        # darkest shade (brightness ratio) a stain or wet patch gives the belt
    shade_chroma: float = 0.12     # most chromaticity change (relative) a shade may bring
    settle_frames: int = 6         # frames of steady exposure before the first items are reported (0: none)
    stain_share: float = 0.25      # a region with fewer of its pixels unlike a shade of the belt is a stain: belt
    item_share: float = 0.5        # one with fewer is belt-like: an item seen mostly so is passed as not an item
    split_touching: bool = True
    split_solidity: float = 0.88   # blobs less convex than this are split candidates
    split_min_part: float = 0.25   # each part of a split holds at least this share of the blob (a bottle's neck
                                   # is not an item of its own)
    split_part_solidity: float = 0.8  # and is at least this convex (a ragged item is not two items)


EXPOSURE_STEADY = 0.04  # a frame whose exposure moved less than this (relative, per channel) is steady
THRESHOLD_EVERY = 15    # frames between remakes of the per-pixel threshold from the belt's light
DARKEST_STAIN = 0.2     # darker than this share of the belt's brightness is an item, whatever the belt shows
STAIN_SAMPLE = 3         # every 3rd pixel of a region past the threshold tells a stain from an item
SPECK_CHROMA = 0.25     # most colour change a dust speck (pale grey) brings against the belt
SPECK_GAP = 3           # downscaled pixels: a pale fleck this close to an item's edge is the item's
GHOST_AFTER = 15        # frames in a row (half a second) an item covers a tile before outlines are looked at
GHOST_EVERY = 2         # frames between looks for ghosts (a ghost stays put: no need to look at every frame)
GHOST_LOOKS = 3         # looks in a row an outline shows no edge in a tile before the tile is learnt again
OUTLINE_SHARE = 0.03    # share of a tile each band must cover for the tile to count as on an outline
GHOST_CELLS = 2         # cells across a tile on which outlines are measured for ghosts
MOVED_SHARE = 0.3       # share of a tile's cells whose mask changed between looks: an outline that moved


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
    solid: float = 1.0   # share of its pixels past the threshold that are not a shade of the belt


class BeltSegmenter:
    def __init__(self, cfg: SegmentationConfig | None = None, model: BeltModel | None = None) -> None:
        self.cfg = cfg or SegmentationConfig()
        self.loaded = model            # a calibrated model to start from (used if its geometry fits)
        self.reset()

    def reset(self) -> None:
        self._tiles: np.ndarray | None = None   # the belt model (tile grid), once settled
        self._recent: deque[np.ndarray] = deque(maxlen=max(self.cfg.settle_frames, 1))
        self._steady = 0                        # consecutive frames of steady exposure while settling
        self._last_means: np.ndarray | None = None
        self._busy: np.ndarray | None = None    # tiles an item covered in the last frame
        self._flat: np.ndarray | None = None    # per tile: looks in a row on an outline without an edge
        self._covered_for: np.ndarray | None = None  # per tile: frames in a row an item covered it
        self._inside: np.ndarray | None = None  # the item mask on the cells at the last look
        self._thr: tuple[np.ndarray, np.ndarray] | None = None  # per-pixel threshold, half threshold
        self._expected: np.ndarray | None = None  # the last frame's belt as the model expected it
        self._stain_floor = 1.0                 # the loaded model's shade_min, once adopted
        self.gain = np.ones(3, np.float32)      # this frame's exposure against the model, per channel
        self.frames = 0
        self.settled_after: int | None = None   # frames it took to settle
        self.oversize = 0                       # sightings of regions too large to be items (max_area_fraction)
        self.oversize_share = 0.0               # the largest of them, as a share of the view
        self.last_mask: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 0, 3), np.uint8), np.zeros((0, 0), np.uint8))
        # the last mask's regions: their labels, and each label's solid share
        self._regions: tuple[np.ndarray, np.ndarray] = (np.zeros((0, 0), np.int32), np.ones(1, np.float32))

    @property
    def settled(self) -> bool:
        return self._tiles is not None

    @property
    def shade_min(self) -> float:
        """The darkest shade taken for a stain: the parameter, or the belt model's where it is darker."""
        return min(self.cfg.shade_min, self._stain_floor)

    def _tile_shape(self, small: np.ndarray) -> tuple[int, int]:
        t = max(self.cfg.tile_px, 2)
        return max(1, small.shape[1] // t), max(1, small.shape[0] // t)  # (cols, rows)

    def _tile_means(self, image: np.ndarray, cols: int, rows: int) -> np.ndarray:
        """Mean per tile: the whole tiles only, so the reduction is by a whole factor (OpenCV's fast path)."""
        t = max(self.cfg.tile_px, 2)
        return cv2.resize(image[: rows * t, : cols * t], (cols, rows), interpolation=cv2.INTER_AREA)

    def foreground(self, frame_bgr: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(small frame, uint8 mask at the downscaled resolution); the mask is empty until settled."""
        if frame_bgr.ndim != 3 or frame_bgr.shape[2] != 3 or frame_bgr.dtype != np.uint8:
            raise ValueError(f"expected HxWx3 uint8 BGR, got {frame_bgr.shape} {frame_bgr.dtype}")
        d = self.cfg.downscale
        small = _shrink(frame_bgr, d)
        self.frames += 1
        cols, rows = self._tile_shape(small)
        means = self._tile_means(small, cols, rows).astype(np.float32)
        if self._tiles is not None and self._tiles.shape[:2] != (rows, cols):
            self.reset()  # another frame size: start again
            self.frames = 1
        if self._tiles is None and not self._settle(means, frame_bgr.shape):
            return small, np.zeros(small.shape[:2], np.uint8)
        assert self._tiles is not None
        self.gain = self._exposure(means)
        size = (small.shape[1], small.shape[0])
        # Everything per pixel is uint8, interpolated from the tile grid: cheap at any frame size.
        expected = cv2.resize(np.clip(self._tiles * self.gain, 0, 255).astype(np.uint8), size,
                              interpolation=cv2.INTER_LINEAR)
        mask = self._items(small, expected)
        self._learn(means, mask, small)
        self.last_mask, self._expected = (small, mask), expected
        return small, mask

    def _settle(self, means: np.ndarray, shape: tuple[int, ...]) -> bool:
        """Wait for steady exposure; then the model is the median of the recent frames (items move on,
        the belt stays), or the calibrated model. True once settled."""
        if self._last_means is not None:
            ratio = np.median(means.reshape(-1, 3) / np.maximum(self._last_means.reshape(-1, 3), 1.0), axis=0)
            self._steady = self._steady + 1 if np.abs(ratio - 1).max() < EXPOSURE_STEADY else 0
        self._last_means = means
        self._recent.append(_robust_tiles(means, self.cfg.threshold))
        if self._steady < self.cfg.settle_frames and self.cfg.settle_frames > 0:
            return False
        loaded = self.loaded
        if loaded is not None and loaded.tiles.shape == means.shape and loaded.downscale == self.cfg.downscale \
                and loaded.frame_size == (shape[1], shape[0]):
            self._tiles = loaded.tiles.copy()
            self._stain_floor = loaded.shade_min if loaded.shade_min is not None else 1.0
        else:
            self._tiles = np.median(np.stack(self._recent), axis=0).astype(np.float32)
        self.settled_after = self.frames
        return True

    def _exposure(self, means: np.ndarray) -> np.ndarray:
        """Per-channel gain of this frame against the model, over the tiles no item covered."""
        assert self._tiles is not None
        ratio = means / np.maximum(self._tiles, 1.0)
        clear = ratio.reshape(-1, 3) if self._busy is None or self._busy.all() else ratio[~self._busy]
        return np.median(clear, axis=0).astype(np.float32)

    def _items(self, small: np.ndarray, expected: np.ndarray) -> np.ndarray:  # expected: uint8 BGR
        """Regions far from the belt's colour that are not wholly a shade of it.

        A pixel further than ``threshold`` from the belt is an item candidate, and so is one further than
        half of it that is darker than the belt and of another colour (or darker than any stain), where it
        joins a candidate: an item's dim parts join its bright ones, while noise, dust, compression halos and
        the pale fringe of a cut-out do not. A stain is shade through
        and through, so a region with too few pixels unlike a shade is dropped; an item's dark grey parts
        stay with the rest of it.
        """
        cfg = self.cfg
        dist = _distance(small, expected)
        thr, half = self._thresholds(small.shape)
        mask = cv2.compare(dist, thr, cv2.CMP_GT)               # past the threshold: 255
        low = cv2.compare(dist, half, cv2.CMP_GT)
        dim = cv2.findNonZero(cv2.subtract(low, mask))          # past half of it only
        if dim is not None:                                     # join where unlike the belt's colour
            xs, ys = dim.reshape(-1, 2).T
            alpha, chroma = _shade(small[ys, xs], expected[ys, xs])
            # Darker than the belt and of another colour, or darker than any stain: an item's dim part.
            unlike = ((chroma > cfg.shade_chroma) | (alpha < self.shade_min)) & (alpha < 1.0)
            mask[ys[unlike], xs[unlike]] = 255
        strong = cv2.findNonZero(mask)
        if strong is None:
            self._regions = (np.zeros((0, 0), np.int32), np.ones(1, np.float32))
            return mask
        mask = self._drop_specks(mask, small, expected)
        mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))
        if self._stain_floor < cfg.shade_min:
            mask = self._cut_stains(mask, small, expected)
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        # Which regions are stains: measured on a sample of their pixels past the threshold.
        xs, ys = strong.reshape(-1, 2)[::STAIN_SAMPLE].T
        high = dist[ys, xs] > thr[ys, xs]
        xs, ys = xs[high], ys[high]
        alpha, chroma = _shade(small[ys, xs], expected[ys, xs])
        own = self._own_colour(alpha, chroma)
        shade = own & (alpha >= self.shade_min)
        n, labels = cv2.connectedComponents(mask, connectivity=8)
        region = labels[ys, xs]
        high_n = np.bincount(region, minlength=n)
        solid_n = np.bincount(region, weights=~shade, minlength=n)
        share = (solid_n / np.maximum(high_n, 1)).astype(np.float32)
        stain = (share < cfg.stain_share) | (high_n == 0)  # shade only, or nothing past the threshold
        stain[0] = False
        if stain.any():
            mask[stain[labels]] = 0
        # A region nearly all of the belt's own colour, darker than shade_min allows but not near black, is a
        # wetter stain as likely as a dark grey item: reported belt-like (passed, never fired at), not dropped.
        # So is one whose mean colour is such a shade: a dark pixel's colour is a few grey levels above black,
        # and noise flips the test per pixel from one sighting to the next, where the region's mean holds.
        dark = self._dark_shade(alpha, chroma)
        like_n = np.bincount(region, weights=~(shade | dark), minlength=n)
        like = (like_n / np.maximum(high_n, 1)).astype(np.float32)
        solid = np.where(like < cfg.stain_share, like, share)
        darker_n = np.bincount(region, weights=alpha < self.shade_min, minlength=n)
        maybe = (like >= cfg.stain_share) & ~stain & (2 * darker_n > high_n)  # mostly darker than any shade
        maybe[0] = False
        if maybe.any():
            pick = maybe[region]
            at = region[pick]
            mean_alpha, mean_chroma = _shade(_means(at, small[ys[pick], xs[pick]], n),
                                             _means(at, expected[ys[pick], xs[pick]], n))
            dark_mean = maybe & self._dark_shade(mean_alpha, mean_chroma)
            solid = np.where(dark_mean, np.minimum(like, cfg.stain_share), solid)
        self._regions = (labels, solid.astype(np.float32))
        return mask

    def _own_colour(self, alpha: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """Darker than the belt and of its own colour: a shade, if not too dark."""
        return (alpha < 1.0) & (chroma <= self.cfg.shade_chroma)

    def _dark_shade(self, alpha: np.ndarray, chroma: np.ndarray) -> np.ndarray:
        """Of the belt's own colour, darker than shade_min allows but not near black: a wetter stain as likely as
        a dark grey item."""
        return self._own_colour(alpha, chroma) & (alpha >= DARKEST_STAIN) & (alpha < self.shade_min)

    def _cut_stains(self, mask: np.ndarray, small: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """The mask without the stains that reach an item's outline, on a line whose belt model saw stains darker
        than shade_min: a wet stain an item touches is past the threshold too, joins the item and stretches it
        in every sighting (it rides the belt with it). Shade pixels connected to a region's outline are cut;
        those inside it (an item's own grey parts) stay."""
        darker = cv2.compare(cv2.cvtColor(small, cv2.COLOR_BGR2GRAY), cv2.cvtColor(expected, cv2.COLOR_BGR2GRAY),
                             cv2.CMP_LT)  # a shade is darker than the belt: the rest need no closer look
        pts = cv2.findNonZero(cv2.bitwise_and(mask, darker))
        if pts is None:
            return mask
        xs, ys = pts.reshape(-1, 2).T
        alpha, chroma = _shade(small[ys, xs], expected[ys, xs])
        shade = self._own_colour(alpha, chroma) & (alpha >= self.shade_min)
        if not shade.any():
            return mask
        shades = np.zeros_like(mask)
        shades[ys[shade], xs[shade]] = 255
        n, labels = cv2.connectedComponents(shades, connectivity=8)
        outline = cv2.findNonZero(cv2.bitwise_and(cv2.subtract(mask, cv2.erode(mask, np.ones((3, 3), np.uint8))),
                                                  shades))
        if outline is None:
            return mask
        ox, oy = outline.reshape(-1, 2).T
        reached = np.zeros(n, np.uint8)
        reached[labels[oy, ox]] = 255
        reached[0] = 0
        cut = cv2.subtract(mask, reached[labels])
        # an item's own gaps the cut opened again (pixels near the belt's colour between its parts) close
        return cv2.morphologyEx(cut, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (7, 7)))

    def _drop_specks(self, mask: np.ndarray, small: np.ndarray, expected: np.ndarray) -> np.ndarray:
        """The mask without its dust: pale grey speck-sized regions. Closing an item's gaps would join a speck
        lying next to it to the item; a speck rides with the belt, so it would stretch that item in every
        sighting and move its pulse. Small regions of another look (an item's dim tip, a fleck of its label),
        and pale flecks right at an item's edge (crumpled foil, a bright rim), stay to be joined to it.
        Found from the regions' outlines, which costs a fraction of labelling the mask."""
        d = self.cfg.downscale
        limit = self.cfg.speck_area_px / (d * d)
        if limit < 1:
            return mask
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        if len(contours) < 2:  # nothing for a speck to join
            return mask
        boxes = np.array([cv2.boundingRect(c) for c in contours]).reshape(-1, 4)
        x, y, w, h = boxes.T
        cand = np.flatnonzero((w * h <= limit) & (w <= 2 * SPECK_GAP) & (h <= 2 * SPECK_GAP))
        if not len(cand):
            return mask
        cx, cy = x[cand] + w[cand] // 2, y[cand] + h[cand] // 2
        alpha, chroma = _shade(small[cy, cx], expected[cy, cx])
        dust = (alpha > 1.0) & (chroma <= SPECK_CHROMA)
        if not dust.any():
            return mask
        cand, cx, cy = cand[dust], cx[dust], cy[dust]
        core = mask.copy()
        cv2.drawContours(core, [contours[i] for i in cand], -1, 0, cv2.FILLED)
        near = cv2.dilate(core, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * SPECK_GAP + 1,) * 2))
        own = near[cy, cx] > 0
        if own.any():
            cv2.drawContours(core, [contours[i] for i in cand[own]], -1, 255, cv2.FILLED)
        return core

    def _thresholds(self, shape: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray]:
        """Per-pixel threshold and half threshold (uint8). Contrast follows the light: where the belt is lit
        less (falloff, vignetting) an item differs from it less, so the threshold is relative to the belt's
        brightness there against its mean. The light changes slowly: made again every THRESHOLD_EVERY frames."""
        assert self._tiles is not None
        if self._thr is None or self._thr[0].shape != shape[:2] or self.frames % THRESHOLD_EVERY == 0:
            grey = self._tiles.mean(axis=2)
            level = np.clip(grey / max(float(grey.mean()), 1.0), 0.5, 1.5) * self.cfg.threshold
            size = (shape[1], shape[0])
            self._thr = tuple(cv2.resize(np.clip(level * f, 0, 255).astype(np.uint8), size,  # type: ignore[assignment]
                                         interpolation=cv2.INTER_LINEAR) for f in (1.0, 0.5))
        return self._thr  # type: ignore[return-value]

    def _learn(self, means: np.ndarray, mask: np.ndarray, small: np.ndarray) -> None:
        """Move the tiles no item touches towards this frame's belt, at the model's exposure; learn a
        ghost's outline tiles again outright."""
        assert self._tiles is not None
        rows, cols = self._tiles.shape[:2]
        covered = self._tile_means(mask, cols, rows) > 0
        busy = cv2.dilate(covered.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0  # and their neighbours
        self._busy = busy
        free = ~busy
        self._tiles[free] += self.cfg.learning_rate * (means[free] / self.gain - self._tiles[free])
        before = self._covered_for if self._covered_for is not None and self._covered_for.shape == covered.shape \
            else np.zeros(covered.shape, np.int32)
        self._covered_for = np.where(covered, before + 1, 0)
        # Items on a moving belt pass a tile in a few frames: only a place covered longer can hold a ghost.
        if not (self._covered_for >= GHOST_AFTER).any():
            self._flat = self._inside = None
        elif self.frames % GHOST_EVERY == 0:
            ghost = self._ghost_tiles(small, mask, cols, rows)
            self._tiles[ghost] = means[ghost] / self.gain

    def _ghost_tiles(self, small: np.ndarray, mask: np.ndarray, cols: int, rows: int) -> np.ndarray:
        """Tiles on a still outline that has shown no colour change across it GHOST_LOOKS looks in a row: the
        colour just inside the outline in the tile against the colour just outside it in the tile and its
        neighbours (the model is interpolated between tiles, so the outline can lie a little outside a
        tile that is still wrong). Measured on the frame's cells (GHOST_CELLS across a tile), which keeps
        it cheap at any frame size."""
        t, n = max(self.cfg.tile_px, 2), GHOST_CELLS
        # whole tiles, a whole factor: OpenCV's fast path
        cells = cv2.resize(small[: rows * t, : cols * t], (cols * n, rows * n), interpolation=cv2.INTER_AREA)
        inside = cv2.resize(mask[: rows * t, : cols * t], (cols * n, rows * n), interpolation=cv2.INTER_AREA)
        inside = cv2.compare(inside, 127, cv2.CMP_GT)
        band = np.ones((n + 1, n + 1), np.uint8)  # half a tile each way
        colours, shares = [], []
        for ring in (cv2.subtract(inside, cv2.erode(inside, band)), cv2.subtract(cv2.dilate(inside, band), inside)):
            share = cv2.resize(ring, (cols, rows), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0
            total = cv2.resize(cv2.bitwise_and(cells, cells, mask=ring), (cols, rows),
                               interpolation=cv2.INTER_AREA).astype(np.float32)
            colours.append(total)
            shares.append(share)
        colours[1] = cv2.boxFilter(colours[1], -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
        shares[1] = cv2.boxFilter(shares[1], -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
        colour_in, colour_out = (c / np.maximum(k, 1e-3)[..., None] for c, k in zip(colours, shares, strict=True))
        on_outline = (shares[0] >= OUTLINE_SHARE) & (shares[1] >= OUTLINE_SHARE)
        flat = on_outline & (np.abs(colour_in - colour_out).max(axis=2) < self.cfg.threshold / 2)
        # and it stays put: items passing through a tile are never a ghost, whatever their edges
        previous, self._inside = self._inside, inside
        if previous is None or previous.shape != inside.shape:
            flat[:] = False
        else:
            moved = cv2.resize(cv2.absdiff(inside, previous), (cols, rows), interpolation=cv2.INTER_AREA)
            flat &= moved <= 255 * MOVED_SHARE
        age = self._flat if self._flat is not None and self._flat.shape == flat.shape else np.zeros(flat.shape, int)
        age = np.where(flat, age + 1, 0)
        ghost = age >= GHOST_LOOKS
        age[ghost] = 0
        self._flat = age
        return ghost

    def stain_shades(self, step: int = 4) -> np.ndarray:
        """Brightness ratios (every ``step``-th) of the last frame's pixels that are a darker shade of the belt's
        own colour and differ from it by half the threshold or more: on an empty belt, its stains."""
        small, expected = self.last_mask[0], self._expected
        if expected is None or expected.shape != small.shape:
            return np.zeros(0, np.float32)
        pts = cv2.findNonZero(cv2.compare(_distance(small, expected), self._thresholds(small.shape)[1], cv2.CMP_GT))
        if pts is None:
            return np.zeros(0, np.float32)
        xs, ys = pts.reshape(-1, 2)[::step].T
        alpha, chroma = _shade(small[ys, xs], expected[ys, xs])
        return alpha[self._own_colour(alpha, chroma)]

    def model(self, frame_size: tuple[int, int]) -> BeltModel | None:
        """The learnt belt, to save (None before it settled)."""
        if self._tiles is None:
            return None
        return BeltModel(self._tiles.copy(), self.cfg.tile_px, self.cfg.downscale, frame_size)

    def segment(self, frame_bgr: np.ndarray) -> list[Blob]:
        small, mask = self.foreground(frame_bgr)
        d = self.cfg.downscale
        h, w = mask.shape
        min_area = self.cfg.min_area_px / (d * d)
        max_area = self.cfg.max_area_fraction * h * w
        contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        labels, share = self._regions
        blobs: list[Blob] = []
        for c in contours:
            area = cv2.contourArea(c)
            if area > max_area:
                self.oversize += 1
                self.oversize_share = max(self.oversize_share, area / (h * w))
                continue
            if area < min_area:
                continue
            # an outline's points are its region's own pixels
            px, py = c[0, 0]
            solid = float(share[labels[py, px]]) if labels.shape == mask.shape else 1.0
            parts = self._split(small, c, min_area) if self.cfg.split_touching else [c]
            for part in parts:
                blobs.append(self._blob(part, d, w, h, solid))
        return blobs

    def _split(self, small: np.ndarray, contour: np.ndarray, min_area: float) -> list[np.ndarray]:
        area = cv2.contourArea(contour)
        if _solidity(contour) >= self.cfg.split_solidity or area < 2 * min_area:
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
        # Two touching items are two convex-ish shapes; a single ragged item (crumpled foil, a torn box)
        # cut at a narrow waist gives ragged parts. Split only when every part is convex.
        if min(_solidity(p) for p in parts) < self.cfg.split_part_solidity:
            return [contour]
        return parts

    @staticmethod
    def _blob(contour: np.ndarray, d: int, w: int, h: int, solid: float = 1.0) -> Blob:
        x, y, bw, bh = cv2.boundingRect(contour)
        m = cv2.moments(contour)
        cx, cy = (m["m10"] / m["m00"], m["m01"] / m["m00"]) if m["m00"] else (x + bw / 2, y + bh / 2)
        edge = x <= 1 or y <= 1 or x + bw >= w - 1 or y + bh >= h - 1
        return Blob(x * d, y * d, (x + bw) * d, (y + bh) * d, (cx + 0.5) * d, (cy + 0.5) * d,
                    float(m["m00"]) * d * d, edge, (contour.reshape(-1, 2) * d).astype(np.int32), solid)


def _shrink(frame: np.ndarray, d: int) -> np.ndarray:
    """The frame reduced by ``d`` (area mean). OpenCV's fast path halves; other whole factors take its slow
    path, 8x the time at 1280x720, so a power of two is reached by halving (within one level of the
    direct mean)."""
    if d == 1:
        return frame
    if d & (d - 1):
        return cv2.resize(frame, (frame.shape[1] // d, frame.shape[0] // d), interpolation=cv2.INTER_AREA)
    while d > 1:  # floor(floor(w / 2) / 2) == floor(w / 4): the same size as one step
        frame = cv2.resize(frame, (frame.shape[1] // 2, frame.shape[0] // 2), interpolation=cv2.INTER_AREA)
        d //= 2
    return frame


def _distance(image: np.ndarray, belt: np.ndarray) -> np.ndarray:
    """Per pixel, the largest channel difference (0-255) between an image and the belt it is compared with."""
    diff = cv2.absdiff(image, belt)
    return cv2.max(cv2.max(diff[..., 0], diff[..., 1]), diff[..., 2])


def _solidity(contour: np.ndarray) -> float:
    """Area over convex hull area: 1 for a convex shape (1 too for a degenerate one, never a split)."""
    hull = cv2.contourArea(cv2.convexHull(contour))
    return cv2.contourArea(contour) / hull if hull > 0 else 1.0


def _means(region: np.ndarray, colours: np.ndarray, n: int) -> np.ndarray:
    """n x 3: the mean colour of each region's sampled pixels (zero where it has none)."""
    count = np.maximum(np.bincount(region, minlength=n), 1)
    sums = np.stack([np.bincount(region, weights=colours[:, c], minlength=n) for c in range(3)], axis=1)
    return sums / count[:, None]


def _shade(px: np.ndarray, belt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Brightness ratio and relative chromaticity change of pixels against the belt's colour there
    (Horprasert et al.): a stain or a shadow changes the first and keeps the second small. From three dot
    products: |px - alpha e|^2 = |px|^2 - alpha^2 |e|^2, as alpha |e|^2 = px.e."""
    px, e = px.astype(np.float32), belt.astype(np.float32)
    ee = np.maximum(np.einsum("ij,ij->i", e, e), 1.0)
    alpha = np.einsum("ij,ij->i", px, e) / ee
    chroma = np.sqrt(np.maximum(np.einsum("ij,ij->i", px, px) / ee - alpha * alpha, 0.0))
    return alpha, chroma


def _robust_tiles(means: np.ndarray, tolerance: float) -> np.ndarray:
    """Tile colours with the ones that stand out from their neighbourhood (an item covering them) replaced
    by the neighbourhood's median: light and colour change slowly across the belt, items do not."""
    u8 = np.clip(means, 0, 255).astype(np.uint8)
    k = max(3, (min(means.shape[:2]) // 2) | 1)
    k = min(k, 15)
    smooth = cv2.medianBlur(u8, k).astype(np.float32) if min(means.shape[:2]) >= k else \
        np.broadcast_to(np.median(means.reshape(-1, 3), axis=0), means.shape).astype(np.float32)
    outlier = np.abs(means - smooth).max(axis=2) > tolerance / 2
    return np.where(outlier[..., None], smooth, means).astype(np.float32)
