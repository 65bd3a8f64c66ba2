"""Belt simulator: camera frames of items riding the belt, with exact ground truth.

Items are photos from a labelled folder, cut from their studio background,
scaled to a physical size, rotated and placed at a random lateral position;
they enter upstream of the camera view and ride the belt at its (possibly
changing) speed. Each frame is a scrolling belt texture with the items pasted
on it, under slowly drifting lighting. The simulator knows every item's true
position at any time: ``x(t) = x_spawn + s(t) - s(t_spawn)``.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from waste_sorting import itemlist
from waste_sorting.data.folders import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_SPLIT_SEED,
    LabelledImage,
    discover_classes,
    list_images,
    split_images,
)
from waste_sorting.data.photos import PHOTO_ASPECT, as_taken
from waste_sorting.simulation.belt_texture import belt_texture
from waste_sorting.simulation.cutout import crop_to_mask, item_mask
from waste_sorting.simulation.dirt import DirtyBelt, degrade, exposure, light_field, soil
from waste_sorting.simulation.speed import SpeedProfile
from waste_sorting.vision.homography import Homography

SPRITE_MAX_PX = 256
SUBSETS = ("all", "holdout", "train")  # train: the images the holdout leaves, the ones training saw


@dataclass
class SimConfig:
    images: Path
    subset: str = "all"                 # "all", "holdout" (images the model never trained on) or "train"
    width_px: int = 640
    height_px: int = 360
    metres_per_px: float = 0.0016       # 640 px -> 1.024 m of belt in view
    fps: float = 30.0
    speed: SpeedProfile = field(default_factory=lambda: SpeedProfile.constant(2.0))
    items_per_second: float = 2.0
    item_size_m: tuple[float, float] = (0.09, 0.17)   # longest side
    lateral_margin_m: float = 0.04
    min_gap_m: float = 0.04
    touching_p: float = 0.0             # chance an item is placed touching the previous one
    lighting_drift: float = 0.12
    noise_sigma: float = 2.0
    white_balance: tuple[float, float, float] = (1.0, 1.0, 1.0)  # R, G, B gains of another camera/light
    motion_blur_px: int = 0             # exposure smear along the belt, in pixels (0: none)
    seed: int = 0
    photo_aspect: float = PHOTO_ASPECT  # the photos' true width / height (data.photos); 0: as stored
    dirt: DirtyBelt | None = None       # a dirty real belt (stains, dust, uneven light, exposure swings)


@dataclass(frozen=True)
class Sprite:
    image: np.ndarray   # BGR uint8
    alpha: np.ndarray   # float32 0..1, same HxW
    label: int
    source: str


@dataclass
class SimItem:
    item_id: int
    class_id: int
    spawn_time: float
    x_spawn: float
    y: float
    length: float
    width: float
    image: np.ndarray
    alpha: np.ndarray
    source: str


def _load_sprites(items: list[LabelledImage], photo_aspect: float) -> list[Sprite]:
    sprites = []
    for it in items:
        img = cv2.imread(str(it.path), cv2.IMREAD_COLOR)
        if img is None:
            continue  # unreadable files are skipped; the folder may hold other junk
        img = as_taken(img, photo_aspect)
        scale = SPRITE_MAX_PX / max(img.shape[:2])
        if scale < 1:
            img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        mask = item_mask(img)
        img, mask = crop_to_mask(img, mask)
        sprites.append(Sprite(img, mask.astype(np.float32) / 255.0, it.label, str(it.path)))
    if not sprites:
        raise ValueError("no readable item images for the simulator")
    return sprites


class BeltSimulator:
    def __init__(self, cfg: SimConfig, classes: list[str] | None = None) -> None:
        self.cfg = cfg
        self.classes = classes or discover_classes(cfg.images)
        found = list_images(cfg.images, self.classes)
        if cfg.subset in SUBSETS[1:]:
            train, hold = split_images(found, DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED)
            found = hold if cfg.subset == "holdout" else train
        elif cfg.subset != "all":
            raise ValueError(f"subset must be one of {', '.join(SUBSETS)}")
        self.sprites = _load_sprites(found, cfg.photo_aspect)
        self.rng = np.random.default_rng(cfg.seed)
        self.homography = Homography.top_down(cfg.width_px, cfg.height_px, cfg.metres_per_px)
        self.view_length = cfg.width_px * cfg.metres_per_px
        self.view_width = cfg.height_px * cfg.metres_per_px
        period = cfg.width_px * 2
        tex = belt_texture(cfg.height_px, period, self.rng)
        if cfg.dirt is not None:  # its own random stream: the same items as the clean belt of this seed
            tex = soil(tex, cfg.metres_per_px, cfg.dirt, np.random.default_rng([cfg.seed, 1]))
        self._texture = np.concatenate([tex, tex[:, : cfg.width_px]], axis=1)
        self._period = period
        yy, xx = np.mgrid[0:cfg.height_px, 0:cfg.width_px].astype(np.float32)
        r2 = ((xx - cfg.width_px / 2) / cfg.width_px) ** 2 + ((yy - cfg.height_px / 2) / cfg.height_px) ** 2
        self._vignette = (1.0 - 0.35 * r2)[..., None].astype(np.float32)
        r, g, b = cfg.white_balance
        self._vignette = self._vignette * np.array([b, g, r], np.float32)  # BGR frames: one multiply for both
        if cfg.dirt is not None:
            self._vignette = self._vignette * light_field(cfg.width_px, cfg.height_px, cfg.dirt)
        self._noise_rng = np.random.default_rng([cfg.seed, 2])
        self._blur = (np.full((1, cfg.motion_blur_px), 1.0 / cfg.motion_blur_px, np.float32)
                      if cfg.motion_blur_px > 1 else None)
        self.items: list[SimItem] = []
        self.retired: list[SimItem] = []  # pruned: ground truth only, no pixels
        self._next_id = 1
        self._next_spawn_s = 0.0
        self._spawned_until = -1.0
        self._last_item: SimItem | None = None

    @property
    def items_spawned(self) -> int:
        return self._next_id - 1

    # -- ground truth ----------------------------------------------------------
    def travel(self, t: float) -> float:
        return self.cfg.speed.travel(t)

    def position(self, item: SimItem, t: float) -> float:
        return item.x_spawn + self.travel(t) - self.travel(item.spawn_time)

    def ground_truth(self, t: float, x_max: float = math.inf) -> np.ndarray:
        """Item records of every spawned item at time t with x <= x_max."""
        self._spawn_until(t)
        s_now = self.travel(t)
        rows = [it for it in self.items if it.spawn_time <= t]
        rec = itemlist.empty(len(rows))
        for i, it in enumerate(rows):
            rec[i]["x"] = it.x_spawn + s_now - self.travel(it.spawn_time)
            rec[i]["y"] = it.y
            rec[i]["item_id"] = it.item_id
            rec[i]["length"], rec[i]["width"] = it.length, it.width
            rec[i]["class_id"] = it.class_id
            rec[i]["confidence"] = 1.0
            rec[i]["stamp"] = t
            rec[i]["speed"] = self.cfg.speed.speed(t)
        return rec[rec["x"] <= x_max]

    # -- spawning --------------------------------------------------------------
    def _spawn_until(self, t: float) -> None:
        """Spawn, in time order, every item that enters by time t (deterministic per seed)."""
        if t <= self._spawned_until or self.cfg.items_per_second <= 0:
            return
        cfg = self.cfg
        nominal = max(cfg.speed.speed(0.0), 0.2)
        mean_gap = nominal / max(cfg.items_per_second, 1e-6)
        step = 1.0 / cfg.fps
        tt = max(self._spawned_until, 0.0)
        while tt <= t:
            s = self.travel(tt)
            while s >= self._next_spawn_s:
                item = self._new_item(tt)
                self._next_spawn_s += max(mean_gap * self.rng.uniform(0.4, 1.6),
                                          item.length + cfg.min_gap_m)
            tt += step
        self._spawned_until = t

    def _new_item(self, t: float) -> SimItem:
        cfg = self.cfg
        sprite = self.sprites[int(self.rng.integers(len(self.sprites)))]
        size_m = self.rng.uniform(*cfg.item_size_m)
        scale = size_m / cfg.metres_per_px / max(sprite.image.shape[:2])
        angle = self.rng.uniform(0, 360)
        img, alpha = _transform(sprite, scale, angle, self.rng.random() < 0.5)
        length = img.shape[1] * cfg.metres_per_px
        width = img.shape[0] * cfg.metres_per_px
        half = self.view_width / 2 - cfg.lateral_margin_m - width / 2
        prev = self._last_item
        if prev is not None and self.rng.random() < cfg.touching_p:
            y = float(np.clip(prev.y + self.rng.uniform(-0.3, 0.3) * prev.width, -half, half))
            x = self.position(prev, t) - prev.length / 2 - length / 2 + 0.004
        else:
            y = float(self.rng.uniform(-half, half)) if half > 0 else 0.0
            x = -length / 2 - 0.01
            if prev is not None:  # never overlap the previous item
                x = min(x, self.position(prev, t) - prev.length / 2 - length / 2 - cfg.min_gap_m)
        item = SimItem(self._next_id, sprite.label, t, x, y, length, width, img, alpha, sprite.source)
        self._next_id += 1
        self.items.append(item)
        self._last_item = item
        return item

    # -- rendering -------------------------------------------------------------
    def render(self, t: float) -> np.ndarray:
        """The camera frame at time t (BGR uint8)."""
        self._spawn_until(t)
        cfg = self.cfg
        s = self.travel(t)
        offset = int(round(s / cfg.metres_per_px)) % self._period
        # The texture moves with the belt: content at x shifts to larger u.
        start = (self._period - offset) % self._period
        frame = self._texture[:, start:start + cfg.width_px].astype(np.float32)
        s_spawn_cache: dict[float, float] = {}
        for it in self.items:
            if it.spawn_time > t:
                continue
            ss = s_spawn_cache.setdefault(it.spawn_time, self.travel(it.spawn_time))
            x = it.x_spawn + s - ss
            if x - it.length / 2 > self.view_length or x + it.length / 2 < 0:
                continue
            u, v = self.homography.to_pixels(np.array([[x, it.y]]))[0]
            _paste(frame, it.image, it.alpha, u, v)
        gain = 1.0 + cfg.lighting_drift * math.sin(2 * math.pi * t / 17.0)
        if cfg.dirt is not None:
            gain = gain * exposure(t, cfg.dirt, cfg.seed)
        frame *= self._vignette * gain
        if self._blur is not None:  # the belt moves along u during the exposure
            frame = cv2.filter2D(frame, -1, self._blur, borderType=cv2.BORDER_REPLICATE)
        if cfg.noise_sigma > 0:
            frame += self.rng.normal(0, cfg.noise_sigma, (cfg.height_px, cfg.width_px, 1)).astype(np.float32)
        if cfg.dirt is not None and cfg.dirt.noise_sigma > 0:  # colour noise, per channel
            frame += self._noise_rng.normal(0, cfg.dirt.noise_sigma, frame.shape).astype(np.float32)
        out = np.clip(frame, 0, 255).astype(np.uint8)
        return degrade(out, cfg.dirt) if cfg.dirt is not None else out

    def prune(self, x_max: float, t: float) -> None:
        """Stop rendering items downstream of x_max and drop their pixels (keeps long runs flat in memory).

        Their ground truth stays (``all_items``): a report built after the run must still see every item.
        """
        s = self.travel(t)
        keep, gone = [], []
        for it in self.items:
            (keep if it.x_spawn + s - self.travel(it.spawn_time) <= x_max else gone).append(it)
        self.items = keep
        self.retired.extend(dataclasses.replace(it, image=_NO_PIXELS, alpha=_NO_PIXELS) for it in gone)

    def all_items(self) -> list[SimItem]:
        """Every item spawned so far, rendered or retired, in spawn order."""
        return self.retired + self.items


_NO_PIXELS = np.zeros((0, 0), np.float32)


def _transform(sprite: Sprite, scale: float, angle: float, flip: bool) -> tuple[np.ndarray, np.ndarray]:
    img, alpha = sprite.image, sprite.alpha
    if flip:
        img, alpha = img[:, ::-1], alpha[:, ::-1]
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), angle, scale)
    cos, sin = abs(m[0, 0]), abs(m[0, 1])
    nw, nh = int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin))
    m[0, 2] += nw / 2 - w / 2
    m[1, 2] += nh / 2 - h / 2
    img2 = cv2.warpAffine(np.ascontiguousarray(img), m, (nw, nh), flags=cv2.INTER_AREA if scale < 1
                          else cv2.INTER_LINEAR)
    a2 = cv2.warpAffine(np.ascontiguousarray(alpha), m, (nw, nh), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(a2 > 0.5)
    if ys.size:
        img2 = img2[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
        a2 = a2[ys.min():ys.max() + 1, xs.min():xs.max() + 1]
    return img2, a2


def _paste(frame: np.ndarray, img: np.ndarray, alpha: np.ndarray, u: float, v: float) -> None:
    h, w = img.shape[:2]
    x0, y0 = int(round(u - w / 2)), int(round(v - h / 2))
    fx0, fy0 = max(x0, 0), max(y0, 0)
    fx1, fy1 = min(x0 + w, frame.shape[1]), min(y0 + h, frame.shape[0])
    if fx1 <= fx0 or fy1 <= fy0:
        return
    sub = img[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0].astype(np.float32)
    a = alpha[fy0 - y0:fy1 - y0, fx0 - x0:fx1 - x0, None]
    region = frame[fy0:fy1, fx0:fx1]
    region += a * (sub - region)
