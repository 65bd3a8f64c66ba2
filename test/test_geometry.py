import numpy as np
import pytest

from waste_sorting.scheduling.ejection import EjectorGeometry, plan_pulse
from waste_sorting.vision.homography import Homography


def test_top_down_maps_image_axes_to_belt_axes():
    h = Homography.top_down(640, 360, 0.0016)
    belt = h.to_belt(np.array([[0, 180], [640, 180], [320, 0]]))
    np.testing.assert_allclose(belt, [[0, 0], [1.024, 0], [0.512, 0.288]], atol=1e-9)


def test_fit_recovers_a_known_homography_from_points():
    truth = Homography([[0.0015, 0.0001, 0.02], [0.00005, -0.0016, 0.3], [1e-6, 2e-6, 1.0]])
    px = np.array([[10, 10], [620, 15], [630, 350], [5, 340], [320, 180], [100, 250]], float)
    fit = Homography.from_points(px, truth.to_belt(px))
    grid = np.array([[x, y] for x in range(0, 641, 80) for y in range(0, 361, 60)], float)
    np.testing.assert_allclose(fit.to_belt(grid), truth.to_belt(grid), atol=1e-6)
    np.testing.assert_allclose(fit.to_pixels(fit.to_belt(grid)), grid, atol=1e-6)


def test_degenerate_points_are_rejected():
    with pytest.raises(ValueError):
        Homography.from_points(np.array([[0, 0], [1, 1], [2, 2], [3, 3]], float),
                               np.array([[0, 0], [1, 1], [2, 2], [3, 3]], float) * 0.001)
    with pytest.raises(ValueError):
        Homography(np.zeros((3, 3)))


def test_valves_cover_the_item_and_its_margin():
    g = EjectorGeometry(valve_count=32, valve_pitch=0.02, y_center=0.0, lateral_margin=0.0)
    first, count = g.valves_for(y=0.0, width=0.1)
    lo, hi = g.valve_span(first, count)
    assert lo <= -0.05 and hi >= 0.05
    assert hi - lo <= 0.1 + 2 * 0.02  # no more than one extra valve each side
    # An item at the belt edge gets the edge valves only, never an index out of range.
    first, count = g.valves_for(y=0.5, width=0.1)
    assert first + count == 32 and count >= 1


def test_pulse_brackets_the_item_and_compensates_latency():
    g = EjectorGeometry(latency=0.015, pulse_margin=0.02)
    plan = plan_pulse(g, 0, center_time=10.0, speed=2.0, length=0.12, y=0.0, width=0.08)
    # Air (command + latency) starts before the leading edge arrives and ends after the trailing edge.
    air_start = plan.fire_time + g.latency
    assert air_start == pytest.approx(10.0 - 0.03 - 0.01)
    assert air_start + plan.pulse == pytest.approx(10.0 + 0.03 + 0.01)


def test_geometry_validation():
    with pytest.raises(ValueError):
        EjectorGeometry(x=[]).validate()
    with pytest.raises(ValueError):
        EjectorGeometry(min_pulse=0.3, max_pulse=0.2).validate()
