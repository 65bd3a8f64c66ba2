"""Parameter specs: every tunable is validated with a reason (ROS-free part)."""

import pytest

from waste_sorting.nodes import actuator, camera_driver, classifier, tracker
from waste_sorting.params import Param

ALL = [*camera_driver.PARAMS, *classifier.PARAMS, *tracker.PARAMS, *actuator.PARAMS]


def test_every_parameter_is_described_and_its_default_valid():
    for p in ALL:
        assert p.description, p.name
        assert p.check(p.default) is None, p.name


@pytest.mark.parametrize("value, ok", [(2.0, True), (3, True), (-0.1, False), (11.0, False),
                                       (float("nan"), False), ("fast", False), (True, False)])
def test_range_and_type(value, ok):
    spec = Param("belt_speed", 2.0, "belt speed", "m/s", 0.0, 10.0)
    reason = spec.check(value)
    assert (reason is None) == ok
    if not ok:
        assert "belt_speed" in reason


def test_choices_and_lists():
    src = Param("source", "sim", "frame source", choices=("sim", "video"))
    assert src.check("video") is None
    assert "not one of" in src.check("usb")
    conf = Param("bin_min_confidence", [0.5], "thresholds", "", 0.0, 1.0)
    assert conf.check([0.2, 0.9]) is None
    assert "above the maximum" in conf.check([0.2, 1.5])
    assert "must be a list" in conf.check(0.5)


def test_tracker_cross_checks():
    values = {p.name: p.default for p in tracker.PARAMS}
    tracker._build(values)  # the defaults are consistent
    for key, value, match in [("bin_classes", ["glass", "tin", "metal", "paper", "plastic"], "unknown"),
                              ("bin_min_confidence", [0.5], "one entry per ejector"),
                              ("view_x_max", 1.5, "downstream of the camera view"),
                              ("ejector_x", [1.4, 1.7], "bins but only")]:
        bad = dict(values, **{key: value})
        with pytest.raises(ValueError, match=match):
            tracker._build(bad)
