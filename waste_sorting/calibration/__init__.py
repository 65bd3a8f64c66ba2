"""Fitting the camera-to-belt homography and the ejectors' latency and position."""

from waste_sorting.calibration.fit import (
    EjectorFit,
    HomographyFit,
    checkerboard_points,
    fit_ejector_timing,
    fit_homography,
)

__all__ = ["EjectorFit", "HomographyFit", "checkerboard_points", "fit_ejector_timing", "fit_homography"]
