"""Scoring a run against ground truth: which bin each item landed in, and how well pulses were aimed."""

from __future__ import annotations

import numpy as np
import pytest

from waste_sorting.evaluation.scoring import ExecutedPulse, TruthItem, score
from waste_sorting.scheduling.ejection import EjectorGeometry

CLASSES = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]


def _item(item_id: int, class_id: int, x0: float, y: float = 0.0, speed: float = 2.0) -> TruthItem:
    t = np.array([0.0, 2.0])
    return TruthItem(item_id, class_id, y, 0.10, 0.08, t, x0 + speed * t)


def test_aim_is_judged_on_the_target_and_a_caught_neighbour_still_lands_in_the_bin() -> None:
    geom = EjectorGeometry(x=[1.4, 1.7, 2.0, 2.3, 2.6])
    target = _item(1, 0, 0.0)            # centre crosses x = 1.4 m at t = 0.7 s
    neighbour = _item(2, 0, -0.06)       # touching it, 6 cm behind
    aloof = _item(3, 1, -0.5)            # far behind: not caught
    mid = 0.7
    pulse = ExecutedPulse(0, 0, 32, t_open=mid - 0.06 - geom.latency, duration=0.12, item_id=1)
    result = score([target, neighbour, aloof], [pulse], geom, CLASSES, CLASSES[:5], geom.latency)
    assert result.bins == {1: 0, 2: 0, 3: -1}
    # One pulse, one aim figure: the target's, on the mark (the neighbour was 60 mm off and never aimed at).
    assert len(result.position_error_mm) == 1 and result.position_error_mm[0] == pytest.approx(0.0, abs=0.01)
    assert result.pulses_hit == 1 and result.pulses_empty == 0
