"""Each item is classified a bounded number of times, and never left unclassified by a wrong link."""

import numpy as np
import pytest

from waste_sorting.simulation.belt import BeltSimulator, SimConfig
from waste_sorting.simulation.speed import SpeedProfile
from waste_sorting.vision.classification_budget import BudgetConfig, ClassificationBudget


def _frame(budget: ClassificationBudget, xs: list[float], ys: list[float], t: float) -> np.ndarray:
    n = len(xs)
    return budget.select(np.array(xs, float), np.array(ys, float), np.full(n, 0.1), t, np.ones(n, bool))


def test_a_moving_item_is_classified_max_per_item_times():
    budget = ClassificationBudget(BudgetConfig(max_per_item=3))
    picks = [bool(_frame(budget, [0.1 + 2.0 * k / 30], [0.0], k / 30)[0]) for k in range(15)]
    assert picks == [True] * 3 + [False] * 12
    assert budget.skipped == 12


def test_zero_means_every_sighting():
    budget = ClassificationBudget(BudgetConfig(max_per_item=0))
    assert all(_frame(budget, [0.1 + 0.06 * k], [0.0], k / 30)[0] for k in range(10))


def test_a_new_item_behind_an_exhausted_one_is_classified():
    budget = ClassificationBudget(BudgetConfig(max_per_item=2))
    for k in range(4):
        _frame(budget, [0.5 + 0.06 * k], [0.0], k / 30)
    # A second item enters upstream on the same line: it cannot be the first one (that one moved on).
    out = _frame(budget, [0.74, 0.1], [0.0, 0.0], 4 / 30)
    assert list(out) == [False, True]


def test_ambiguous_links_are_classified():
    budget = ClassificationBudget(BudgetConfig(max_per_item=1))
    _frame(budget, [0.50, 0.55], [0.0, 0.0], 0.0)
    # Both could be either (each moved at most max_speed * dt downstream): classify both again.
    assert list(_frame(budget, [0.56, 0.61], [0.0, 0.0], 1 / 30)) == [True, True]


def test_lateral_offset_and_size_break_the_link():
    budget = ClassificationBudget(BudgetConfig(max_per_item=1))
    _frame(budget, [0.5], [0.0], 0.0)
    assert _frame(budget, [0.56], [0.10], 1 / 30)[0]  # 10 cm across: another item
    size = np.array([0.3])
    assert budget.select(np.array([0.62]), np.array([0.10]), size, 2 / 30, np.ones(1, bool))[0]


def test_time_running_backwards_forgets_everything():
    budget = ClassificationBudget(BudgetConfig(max_per_item=1))
    _frame(budget, [0.5], [0.0], 10.0)
    assert not _frame(budget, [0.56], [0.0], 10.03)[0]
    assert _frame(budget, [0.5], [0.0], 0.0)[0]  # the bag looped


def test_memory_stays_bounded():
    budget = ClassificationBudget(BudgetConfig(max_per_item=1, max_entries=16))
    for k in range(100):
        _frame(budget, list(np.linspace(0, 1, 10)), list(np.linspace(-0.3, 0.3, 10) + k), k * 0.01)
    assert budget._used <= 16


def test_rejects_bad_settings():
    with pytest.raises(ValueError):
        ClassificationBudget(BudgetConfig(max_per_item=-1))


def test_on_the_simulated_belt_every_item_gets_a_class_and_none_more_than_the_budget(demo_images, shipped_model):
    from waste_sorting.inference.classifier import ImageClassifier
    from waste_sorting.vision.item_detector import DetectorConfig, ItemDetector
    from waste_sorting.vision.segmentation import BeltSegmenter, SegmentationConfig

    sim = BeltSimulator(SimConfig(images=demo_images, speed=SpeedProfile.constant(2.0), items_per_second=3.0,
                                  seed=11))
    seg = BeltSegmenter(SegmentationConfig(settle_frames=0))
    det = ItemDetector(seg, sim.homography, ImageClassifier(shipped_model, "onnxruntime"),
                       DetectorConfig(max_classifications=3))
    looks: dict[int, int] = {}
    crossed: set[int] = set()  # items that pass mid-view while the run has them wholly in the band
    for k in range(90):
        t = 1.0 + k / 30
        result = det.process(sim.render(t), t)
        truth = sim.ground_truth(t)
        if 1.3 <= t <= 3.6:
            crossed |= {int(i["item_id"]) for i in truth if abs(i["x"] - 0.5) < 0.04}
        for rec, done in zip(result.records, result.classified, strict=True):
            if done:
                d = np.hypot(truth["x"] - rec["x"], truth["y"] - rec["y"])
                item = int(truth["item_id"][np.argmin(d)])
                looks[item] = looks.get(item, 0) + 1
    assert len(crossed) >= 3, "the run must carry items through the band"
    for item in crossed:
        assert 1 <= looks.get(item, 0) <= 3, f"item {item} classified {looks.get(item, 0)} times"
    assert max(looks.values()) <= 3
    assert det.budget.skipped > 0
