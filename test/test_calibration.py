"""Calibration recovers known values from simulated data."""

import cv2
import numpy as np
import pytest

from waste_sorting.bags.simbag import write_sim_bag
from waste_sorting.calibration.fit import checkerboard_points, fit_ejector_timing, fit_homography
from waste_sorting.cli import main
from waste_sorting.simulation.belt import SimConfig
from waste_sorting.simulation.speed import SpeedProfile
from waste_sorting.vision.homography import Homography

TRUE_H = Homography([[0.00155, 0.00002, 0.01], [0.00001, -0.00158, 0.29], [2e-7, 1e-7, 1.0]])


def test_homography_from_marked_points_within_half_a_millimetre(tmp_path, capsys):
    rng = np.random.default_rng(0)
    px = rng.uniform([0, 0], [640, 360], (8, 2))
    belt = TRUE_H.to_belt(px) + rng.normal(0, 0.0002, (8, 2))  # marks measured to 0.2 mm
    csv = tmp_path / "points.csv"
    csv.write_text("u,v,x,y\n" + "\n".join(f"{a},{b},{c},{d}" for (a, b), (c, d) in zip(px, belt, strict=True)))
    assert main(["calibrate", "homography", "--points", str(csv)]) == 0
    out = capsys.readouterr().out
    assert "homography: [" in out
    fit = fit_homography(px, belt)
    grid = np.array([[u, v] for u in range(0, 641, 64) for v in range(0, 361, 60)], float)
    assert np.abs(fit.homography.to_belt(grid) - TRUE_H.to_belt(grid)).max() < 0.0005


def test_homography_from_a_checkerboard_image():
    square, cols, rows = 0.04, 7, 5
    img = np.full((360, 640, 3), 255, np.uint8)
    # Draw the board in belt coordinates and map it into the image through the true homography.
    board = np.full((int((rows + 1) * 100), int((cols + 1) * 100)), 255, np.uint8)
    for r in range(rows + 1):
        for c in range(cols + 1):
            if (r + c) % 2 == 0:
                board[r * 100:(r + 1) * 100, c * 100:(c + 1) * 100] = 0
    board = cv2.copyMakeBorder(board, 100, 100, 100, 100, cv2.BORDER_CONSTANT, value=255)
    # board pixel (bx, by) -> belt (x0 + bx/100*square, y0 + by/100*square) with the first inner corner at 200,200
    x0, y0 = 0.2, -0.1
    to_belt = np.array([[square / 100, 0, x0 - 2 * square], [0, square / 100, y0 - 2 * square], [0, 0, 1]])
    to_img = TRUE_H.inverse @ to_belt
    img = cv2.warpPerspective(cv2.cvtColor(board, cv2.COLOR_GRAY2BGR), to_img, (640, 360), borderValue=(255,) * 3)
    # The inner corner nearest the image's top-left is the board's far row (largest belt y).
    first = (x0, y0 + (rows - 1) * square)
    px, belt = checkerboard_points(img, cols, rows, square, first, across=-1)
    fit = fit_homography(px, belt)
    assert fit.points == cols * rows
    assert fit.max_error_m < 0.001
    grid = np.array([[u, v] for u in range(150, 500, 50) for v in range(80, 300, 50)], float)
    assert np.abs(fit.homography.to_belt(grid) - TRUE_H.to_belt(grid)).max() < 0.002


def test_ejector_fit_separates_latency_and_position():
    v = np.array([1.5, 1.8, 2.1, 2.4] * 5)
    d_latency, d_x = 0.010, 0.008
    err_ms = (-d_latency + d_x / v) * 1e3 + np.random.default_rng(1).normal(0, 0.3, v.size)
    fit = fit_ejector_timing(err_ms, v)
    assert fit.separated
    assert fit.latency_correction_s == pytest.approx(d_latency, abs=0.002)
    assert fit.position_correction_m == pytest.approx(d_x, abs=0.002)
    one_speed = fit_ejector_timing(err_ms[v == 1.5], v[v == 1.5])
    assert not one_speed.separated


@pytest.mark.slow
def test_ejector_calibration_from_a_simulated_test_run(tmp_path, demo_images, shipped_model, capsys):
    """Valves 10 ms slower and 8 mm further than configured: the tool finds both within tolerance."""
    bag = tmp_path / "bag"
    # 16 s (about 35 picks, half at each speed): each pick's aim carries a few mm of noise from its
    # silhouette, and 9 s (20 picks) left the fitted offset at the mercy of a few odd shapes.
    speed = SpeedProfile([(0.0, 1.5), (7.0, 1.5), (8.0, 2.5)])
    write_sim_bag(SimConfig(images=demo_images, speed=speed, items_per_second=2.5, seed=5), bag, 16.0, compress=True)
    code = main(["calibrate", "ejectors", str(bag), "--set", "tracker.speed_source=encoder",
                 "--set", "tracker.bin_min_confidence=[0,0,0,0,0]",
                 "--plant-latency", "0.025", "--plant-ejector-offset", "0.008"])
    assert code == 0
    out = capsys.readouterr().out
    print(out)
    latency = float(out.split("measured ")[1].split(" ms")[0])
    position = float(out.split("ejector position: ")[1].split(" mm")[0])
    assert latency == pytest.approx(25.0, abs=2.5)
    assert position == pytest.approx(8.0, abs=3.0)
