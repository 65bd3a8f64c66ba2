"""A dirty real belt for the simulator: what a phone-class camera over a used conveyor shows.

Stains (dark, wet, soft-edged) and dust (pale specks) are part of the belt's
surface, so they travel with it exactly like items do; light falls off across
the view and into the corners, a colour cast tints one side, auto-exposure
swings while the camera settles and steps now and then after, and each frame
carries sensor noise and JPEG artefacts. All of it is drawn from its own
random stream, so a dirty bag and a clean one with the same seed carry the
same items at the same places.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class DirtyBelt:
    stains_per_m2: float = 8.0       # dark wet stains riding the belt
    stain_size_m: tuple[float, float] = (0.02, 0.09)
    stain_darkening: tuple[float, float] = (0.55, 0.85)  # brightness the belt keeps under a stain
    dust_per_m2: float = 200.0       # pale specks
    light_gradient: float = 0.35     # brightness lost from one side of the view to the other
    vignette: float = 0.35           # extra darkening towards the corners
    colour_cast: float = 0.25        # blue cast over the left third of the view
    exposure_swings: bool = True     # auto-exposure settling in the first second, steps every few seconds after
    noise_sigma: float = 5.0         # sensor noise (grey levels)
    jpeg_quality: int = 70           # compression artefacts (0: none)


def soil(texture: np.ndarray, metres_per_px: float, dirt: DirtyBelt, rng: np.random.Generator) -> np.ndarray:
    """The belt texture with stains and dust on it (the texture travels with the belt)."""
    h, w = texture.shape[:2]
    area = h * w * metres_per_px ** 2
    shade = np.ones((h, w), np.float32)
    for _ in range(rng.poisson(dirt.stains_per_m2 * area)):
        size = rng.uniform(*dirt.stain_size_m) / metres_per_px
        axes = (max(2, int(size / 2)), max(2, int(size / 2 * rng.uniform(0.4, 1.0))))
        blob = np.zeros((h, w), np.float32)
        cv2.ellipse(blob, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), axes, rng.uniform(0, 180), 0, 360,
                    1.0, -1)
        blob = cv2.GaussianBlur(blob, (0, 0), max(1.0, size / 8))  # wet edges are soft
        shade *= 1.0 - (1.0 - rng.uniform(*dirt.stain_darkening)) * blob
    out = texture.astype(np.float32) * shade[..., None]
    for _ in range(rng.poisson(dirt.dust_per_m2 * area)):
        u, v = int(rng.uniform(0, w)), int(rng.uniform(0, h))
        grey = rng.uniform(110, 170)
        cv2.circle(out, (u, v), int(rng.integers(1, 3)), (grey, grey, grey * 0.97), -1)
    return np.clip(out, 0, 255).astype(np.uint8)


def light_field(width: int, height: int, dirt: DirtyBelt) -> np.ndarray:
    """HxWx3 BGR gains that stay put in the image: falloff, vignetting and a colour cast."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    u, v = xx / width, yy / height
    gain = 1.0 - dirt.light_gradient * (0.7 * u + 0.3 * v)
    gain *= 1.0 - dirt.vignette * (((u - 0.5) ** 2 + (v - 0.5) ** 2) / 0.5)
    left = 1.0 / (1.0 + np.exp((u - 0.33) / 0.05))  # the left third, fading out
    cast = np.stack([1.0 + dirt.colour_cast * left, 1.0 + 0.1 * dirt.colour_cast * left,
                     1.0 - 0.5 * dirt.colour_cast * left], axis=-1)  # B, G, R
    return (gain[..., None] * cast).astype(np.float32)


def exposure(t: float, dirt: DirtyBelt, seed: int) -> np.ndarray:
    """BGR gains of the camera's auto-exposure and white balance at time t (s)."""
    if not dirt.exposure_swings:
        return np.ones(3, np.float32)
    knots = [(0.0, (0.12, 0.12, 0.12)), (0.25, (0.9, 1.5, 0.9)), (0.5, (0.75, 0.8, 0.75)), (0.9, (1.0, 1.0, 1.0))]
    if t < knots[-1][0]:
        for (t0, g0), (t1, g1) in zip(knots, knots[1:], strict=False):
            if t0 <= t < t1:
                f = (t - t0) / (t1 - t0)
                return np.array([a + f * (b - a) for a, b in zip(g0, g1, strict=True)], np.float32)
    step = int((t - 0.9) // 6.0)  # a new exposure every 6 s, within ±15 %
    if step <= 0:
        return np.ones(3, np.float32)
    level = np.random.default_rng([seed, step]).uniform(0.85, 1.15)
    return np.full(3, level, np.float32)


def degrade(frame: np.ndarray, dirt: DirtyBelt) -> np.ndarray:
    """JPEG artefacts, as a compressed camera stream has them."""
    if dirt.jpeg_quality <= 0:
        return frame
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, int(dirt.jpeg_quality)])
    return cv2.imdecode(buf, cv2.IMREAD_COLOR) if ok else frame
