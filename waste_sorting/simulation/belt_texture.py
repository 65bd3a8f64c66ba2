"""Procedural conveyor-belt texture: dark rubber with grain and lengthwise streaks."""

from __future__ import annotations

import cv2
import numpy as np


def belt_texture(height: int, width: int, rng: np.random.Generator, base: float = 58.0) -> np.ndarray:
    """HxWx3 uint8 BGR belt surface; ``base`` is the mean grey level."""
    grain = rng.normal(0.0, 6.0, (height, width)).astype(np.float32)
    grain = cv2.GaussianBlur(grain, (0, 0), 0.8)
    # Streaks run along the travel direction (image x axis).
    streaks = rng.normal(0.0, 3.0, (height, 1)).astype(np.float32)
    streaks = cv2.GaussianBlur(streaks, (1, 0), 2.0) if height > 4 else streaks
    grey = base + grain + streaks
    tint = np.array([1.02, 1.0, 0.97], np.float32)  # slightly blue-ish rubber
    img = grey[:, :, None] * tint[None, None, :]
    return np.clip(img, 0, 255).astype(np.uint8)
