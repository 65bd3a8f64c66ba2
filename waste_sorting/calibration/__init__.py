"""Calibration helpers: camera-to-belt homography, ejector latency and position."""
