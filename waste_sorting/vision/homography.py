"""Pixel <-> belt-metre mapping through a 3x3 homography (camera calibration)."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np


class Homography:
    """Maps image pixels (u, v) to belt metres (x along travel, y across) and back."""

    def __init__(self, matrix: np.ndarray | Sequence[float]) -> None:
        m = np.asarray(matrix, np.float64).reshape(3, 3)
        if not np.all(np.isfinite(m)) or abs(np.linalg.det(m)) < 1e-12:
            raise ValueError("homography must be a finite, invertible 3x3 matrix")
        self.matrix = m / m[2, 2] if m[2, 2] != 0 else m
        self.inverse = np.linalg.inv(self.matrix)

    @classmethod
    def from_points(cls, pixels: np.ndarray, belt: np.ndarray) -> Homography:
        """Least-squares fit from four or more pixel/belt correspondences."""
        px, bt = np.asarray(pixels, np.float64), np.asarray(belt, np.float64)
        if px.shape != bt.shape or px.ndim != 2 or px.shape[1] != 2 or len(px) < 4:
            raise ValueError("need at least four matching (u, v) and (x, y) points")
        m, _ = cv2.findHomography(px, bt, 0)
        if m is None:
            raise ValueError("points are degenerate (collinear?); cannot fit a homography")
        return cls(m)

    @classmethod
    def top_down(cls, width_px: int, height_px: int, metres_per_px: float, x0: float = 0.0) -> Homography:
        """A camera looking straight down: image +u is belt +x, image centre row is y = 0.

        Belt y grows towards the image top (a right-handed frame seen from above
        with x along travel), pixel (0, h/2) is belt (x0, 0).
        """
        s = metres_per_px
        return cls([[s, 0, x0], [0, -s, height_px / 2 * s], [0, 0, 1]])

    def to_belt(self, pixels: np.ndarray) -> np.ndarray:
        """Nx2 pixels -> Nx2 belt metres."""
        p = np.asarray(pixels, np.float64).reshape(-1, 2)
        h = p @ self.matrix[:, :2].T + self.matrix[:, 2]
        return h[:, :2] / h[:, 2:3]

    def to_pixels(self, belt: np.ndarray) -> np.ndarray:
        """Nx2 belt metres -> Nx2 pixels."""
        p = np.asarray(belt, np.float64).reshape(-1, 2)
        h = p @ self.inverse[:, :2].T + self.inverse[:, 2]
        return h[:, :2] / h[:, 2:3]
