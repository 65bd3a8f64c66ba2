"""Belt-like augmentation on preloaded images (numpy/OpenCV, no torchvision).

One affine warp per sample does rotation, flips, scale and crop together. With
probability ``belt_p`` the item is cut out and composited on belt texture, then
framed the way the classifier node crops a detected item (square box around
the silhouette plus a margin), so training sees what the cell sees.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from waste_sorting.model.backgrounds import BACKGROUND_SETS, random_background, white_balance


@dataclass(frozen=True)
class AugmentConfig:
    belt_p: float = 0.5
    rotate: bool = True
    scale_range: tuple[float, float] = (0.75, 1.25)
    shift: float = 0.08
    photometric: float = 0.25
    hue_deg: float = 6.0
    blur_p: float = 0.3
    # The camera sees a 10-17 cm item at 1.6 mm/px across 60-110 px, upscaled to the model's input:
    # with this chance the view is rendered at a fraction of its size and scaled back up.
    low_res_p: float = 0.5
    low_res_range: tuple[float, float] = (0.4, 1.0)
    # What cut-out items are pasted on (model.backgrounds.BACKGROUND_SETS) and the spread of a random
    # white balance over the whole view: both independent of the class, so neither can predict it.
    backgrounds: str = "belt"
    white_balance: float = 0.0


# How the cell sees an item: cut out, rotated and framed on the belt, no photometric jitter.
BELT_HOLDOUT_VIEW = AugmentConfig(belt_p=1.0, photometric=0.0, hue_deg=0.0, blur_p=0.0, low_res_p=0.0)


def _affine(center: tuple[float, float], angle: float, scale: float, size: int, flip_x: bool,
            flip_y: bool) -> np.ndarray:
    m = cv2.getRotationMatrix2D(center, angle, scale)
    m[0, 2] += size / 2 - center[0]
    m[1, 2] += size / 2 - center[1]
    if flip_x:
        m[0] = -m[0]
        m[0, 2] += size
    if flip_y:
        m[1] = -m[1]
        m[1, 2] += size
    return m


def photometric(img: np.ndarray, rng: np.random.Generator, strength: float, hue_deg: float,
                blur_p: float) -> np.ndarray:
    """Brightness, contrast, saturation, hue jitter and optional blur on a uint8 BGR image."""
    out = img.astype(np.float32)
    if strength > 0:
        gain = rng.uniform(1 - strength, 1 + strength)
        contrast = rng.uniform(1 - strength, 1 + strength)
        mean = out.mean()
        out = (out - mean) * contrast + mean * gain
        sat = rng.uniform(1 - strength, 1 + strength)
        grey = out.mean(axis=2, keepdims=True)
        out = grey + (out - grey) * sat
        out = np.clip(out, 0, 255)
    res = out.astype(np.uint8)
    if hue_deg > 0:
        hsv = cv2.cvtColor(res, cv2.COLOR_BGR2HSV)
        shift = int(round(rng.uniform(-hue_deg, hue_deg) / 2))  # OpenCV hue is 0..179
        hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 180).astype(np.uint8)
        res = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
    if rng.random() < blur_p:
        res = cv2.GaussianBlur(res, (0, 0), rng.uniform(0.3, 1.2))
    return res


def augment(img: np.ndarray, mask: np.ndarray, size: int, rng: np.random.Generator,
            cfg: AugmentConfig) -> np.ndarray:
    """One augmented size x size BGR view of a preloaded image and its item mask."""
    h, w = img.shape[:2]
    angle = rng.uniform(0, 360) if cfg.rotate else 0.0
    flip_x, flip_y = bool(rng.random() < 0.5), bool(rng.random() < 0.5)
    s = rng.uniform(*cfg.scale_range)
    # An item that fills its photo (no board found) goes on the belt as the whole photo, as the simulator
    # pastes it: a rotated rectangle.
    on_belt = rng.random() < cfg.belt_p
    if on_belt:
        ys, xs = np.nonzero(mask > 127)
        cx, cy = (xs.min() + xs.max()) / 2, (ys.min() + ys.max()) / 2
        extent = max(xs.max() - xs.min(), ys.max() - ys.min(), 8)
        # The node crops a square 1.25x the item's larger side: match it on average.
        scale = size / (extent * 1.25) * s
    else:
        cx, cy = w / 2, h / 2
        scale = size / min(h, w) * s
    cx += rng.uniform(-cfg.shift, cfg.shift) * w
    cy += rng.uniform(-cfg.shift, cfg.shift) * h
    m = _affine((cx, cy), angle, scale, size, flip_x, flip_y)
    if on_belt:
        warped = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT)
        alpha = cv2.warpAffine(mask, m, (size, size), flags=cv2.INTER_LINEAR)
        alpha = (cv2.GaussianBlur(alpha, (3, 3), 0).astype(np.float32) / 255.0)[..., None]
        belt = random_background(size, size, rng, BACKGROUND_SETS[cfg.backgrounds])
        out = (warped * alpha + belt * (1 - alpha)).astype(np.uint8)
    else:
        out = cv2.warpAffine(img, m, (size, size), flags=cv2.INTER_LINEAR,
                             borderMode=cv2.BORDER_REFLECT_101)
    if rng.random() < cfg.low_res_p:
        small = max(8, round(size * rng.uniform(*cfg.low_res_range)))
        out = cv2.resize(cv2.resize(out, (small, small), interpolation=cv2.INTER_AREA), (size, size),
                         interpolation=cv2.INTER_LINEAR)
    out = white_balance(out, rng, cfg.white_balance)
    return photometric(out, rng, cfg.photometric, cfg.hue_deg, cfg.blur_p)
