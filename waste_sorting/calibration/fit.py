"""Calibration fits (pure numpy/OpenCV).

Homography: from four or more marked points, or the inner corners of a
printed checkerboard lying flat on the belt.

Ejectors: an item's timing error (centre crossing minus the air's mid-time)
is ``-dL + dx / v`` when the valves' true latency exceeds the configured one
by ``dL`` and the valve line sits ``dx`` further down the belt than
configured. Pulses at several belt speeds separate the two; at one speed only
their sum is known, and it is reported as a latency correction.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from waste_sorting.vision.homography import Homography


@dataclass(frozen=True)
class HomographyFit:
    homography: Homography
    rms_error_m: float
    max_error_m: float
    points: int


def fit_homography(pixels: np.ndarray, belt: np.ndarray) -> HomographyFit:
    h = Homography.from_points(pixels, belt)
    err = np.linalg.norm(h.to_belt(pixels) - np.asarray(belt, float), axis=1)
    return HomographyFit(h, float(np.sqrt(np.mean(err**2))), float(err.max()), len(err))


def checkerboard_points(image_bgr: np.ndarray, cols: int, rows: int, square_m: float,
                        origin_m: tuple[float, float] = (0.0, 0.0), across: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """(pixels, belt metres) of a checkerboard's inner corners.

    The first corner found (the one nearest the image's top-left) is at
    ``origin_m``; corners along a row go down the belt (+x), successive rows go
    across it, towards +y (``across=1``) or -y (``across=-1``, a camera whose
    image top is the belt's +y side, as in the shipped configuration).
    """
    grey = cv2.cvtColor(image_bgr, cv2.COLOR_BGR2GRAY)
    found, corners = cv2.findChessboardCorners(grey, (cols, rows))
    if not found:
        raise ValueError(f"no {cols}x{rows} inner-corner checkerboard found in the image")
    corners = cv2.cornerSubPix(grey, corners, (5, 5), (-1, -1),
                               (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 30, 1e-3))
    px = corners.reshape(-1, 2).astype(float)
    idx = np.arange(cols * rows)
    belt = np.stack([origin_m[0] + (idx % cols) * square_m, origin_m[1] + across * (idx // cols) * square_m],
                    axis=1)
    return px, belt


@dataclass(frozen=True)
class EjectorFit:
    latency_correction_s: float      # add to valve_latency
    position_correction_m: float     # add to every ejector_x
    separated: bool                  # False: one speed only, all attributed to latency
    residual_ms: float
    pulses: int                      # pulses the fit used (outliers of more than 3 robust sigmas left out)
    speed_range: tuple[float, float]


def fit_ejector_timing(timing_error_ms: np.ndarray, speeds: np.ndarray, min_speed_spread: float = 0.2) -> EjectorFit:
    err = np.asarray(timing_error_ms, float) / 1e3
    v = np.asarray(speeds, float)
    if err.size < 3:
        raise ValueError("need at least three pulses that hit an item")
    if np.ptp(v) >= min_speed_spread:
        a = np.stack([np.ones_like(v), 1.0 / v], axis=1)
        keep = np.ones(err.size, bool)
        for _ in range(3):  # a pulse aimed by an odd silhouette is an outlier, not evidence: refit without
            (c0, c1), *_ = np.linalg.lstsq(a[keep], err[keep], rcond=None)
            resid = err - a @ np.array([c0, c1])
            scale = 1.4826 * float(np.median(np.abs(resid[keep] - np.median(resid[keep]))))
            inliers = np.abs(resid) <= max(3.0 * scale, 0.001)
            if inliers.sum() < 3 or (inliers == keep).all():
                break
            keep = inliers
        return EjectorFit(float(-c0), float(c1), True, float(np.sqrt(np.mean(resid[keep] ** 2)) * 1e3),
                          int(keep.sum()), (float(v.min()), float(v.max())))
    med = float(np.median(err))
    return EjectorFit(-med, 0.0, False, float(np.std(err) * 1e3), err.size, (float(v.min()), float(v.max())))
