"""The adaptation loop: harvest crops from a bag, adapt the model on them, compare, choose floors."""

from __future__ import annotations

import csv
import json
import shutil
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from waste_sorting.adaptation.harvest import HarvestedItem, Sighting, select, usefulness_order
from waste_sorting.adaptation.labelled import read_labelled
from waste_sorting.adaptation.thresholds import ScoreTable, choose_floors, write_params
from waste_sorting.bags.simbag import write_sim_bag
from waste_sorting.cli import main
from waste_sorting.errors import DataError
from waste_sorting.simulation.belt import SimConfig
from waste_sorting.simulation.speed import SpeedProfile
from waste_sorting.tracking import CLOSED_FLOOR

CLASSES = ["cardboard", "glass", "metal", "paper", "plastic", "trash"]


@pytest.fixture(scope="module")
def line_bag(demo_images, tmp_path_factory) -> Path:
    """A short run of another line: warm light and motion blur."""
    bag = tmp_path_factory.mktemp("line") / "lineA"
    write_sim_bag(SimConfig(images=demo_images, speed=SpeedProfile.constant(2.0), items_per_second=2.5, seed=2,
                            white_balance=(1.15, 1.0, 0.8), motion_blur_px=5), bag, duration=10.0)
    return bag


@pytest.fixture(scope="module")
def harvested(line_bag, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("crops") / "crops"
    assert main(["harvest", str(line_bag), "--out", str(out), "--labels", "truth", "--per-item", "3",
                 "--quiet"]) == 0
    return out


def _rows(root: Path) -> list[dict[str, str]]:
    with (root / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_harvest_files_each_items_crops_under_its_true_class_with_a_manifest(harvested):
    rows = _rows(harvested)
    assert rows, "nothing harvested"
    for row in rows:
        path = harvested / row["file"]
        assert path.is_file() and row["folder"] == row["truth"] == path.parent.name
        assert (harvested / "_review" / "context" / (path.stem + ".jpg")).is_file()
        assert row["predicted"] in CLASSES and 0 < float(row["confidence"]) <= 1
    by_item = Counter((r["bag"], r["item_id"]) for r in rows)
    assert max(by_item.values()) <= 3
    # One item's crops all lie in one folder, and every file on disk is in the manifest.
    folders = {k: {r["folder"] for r in rows if (r["bag"], r["item_id"]) == k} for k in by_item}
    assert all(len(f) == 1 for f in folders.values())
    on_disk = {str(p.relative_to(harvested)) for p in harvested.glob("*/*.png") if p.parent.name != "_review"}
    assert on_disk == {r["file"] for r in rows}
    assert {p.stem for p in (harvested / "_review").glob("*.png")} == {r["folder"] for r in rows}


def test_harvesting_the_same_bag_again_writes_no_item_twice(harvested, line_bag, capsys):
    before = _rows(harvested)
    assert main(["harvest", str(line_bag), "--out", str(harvested), "--labels", "truth", "--quiet"]) == 0
    assert _rows(harvested) == before
    assert "already in" in capsys.readouterr().out


def test_predicted_labels_file_by_the_model_and_the_least_certain_go_to_unsure(line_bag, tmp_path):
    out = tmp_path / "crops"
    assert main(["harvest", str(line_bag), "--out", str(out), "--unsure-below", "0.6", "--budget", "8",
                 "--quiet"]) == 0
    rows = _rows(out)
    items = {(r["bag"], r["item_id"]): r for r in rows}
    assert len(items) == 8
    for r in items.values():
        expected = "unsure" if float(r["confidence"]) < 0.6 else r["predicted"]
        assert r["folder"] == expected


def test_budget_takes_disputed_and_unsure_items_first_and_shares_out_the_classes():
    rng = np.random.default_rng(0)

    def item(i: int, label: int, conf: float, disputed: bool = False) -> HarvestedItem:
        p = np.full(6, (1 - conf) / 5)
        p[label] = conf
        q = p.copy()
        if disputed:
            q = np.roll(p, 1)
        crop = np.zeros((4, 4, 3), np.uint8)
        return HarvestedItem("bag", i, [Sighting(0.0, 0, 0, p, crop, crop), Sighting(0.1, 0, 0, q, crop, crop)])

    items = [item(i, i % 2, float(rng.uniform(0.5, 0.99))) for i in range(20)]
    items.append(item(99, 0, 0.99, disputed=True))
    order = usefulness_order(items)
    assert order[0].item_id == 99  # disputed beats any confidence
    assert [it.top2()[1] for it in order[1:]] == sorted(it.top2()[1] for it in order[1:])
    label_of = {it.key: CLASSES[it.top2()[0]] for it in items}
    chosen = select(items, 6, label_of)
    assert len(chosen) == 6 and len({it.key for it in chosen}) == 6
    assert Counter(label_of[it.key] for it in chosen) == {"cardboard": 3, "glass": 3}
    assert len(select(items, 0, label_of)) == len(items)


def test_adapt_lowers_the_loss_on_its_crops_and_writes_a_model_the_cell_loads(harvested, shipped_model, tmp_path):
    from waste_sorting.adaptation.adapt import load_crops
    from waste_sorting.inference.classifier import ImageClassifier
    from waste_sorting.inference.metadata import ModelMetadata

    out = tmp_path / "adapted.onnx"
    code = main(["adapt", "--data", str(harvested), "--out", str(out), "--epochs", "4", "--holdout", "0",
                 "--quiet", "--threads", "2"])
    assert code == 0
    meta, base = ModelMetadata.for_model(out), ModelMetadata.for_model(shipped_model)
    assert (meta.classes, meta.input_size, meta.mean, meta.std) == (base.classes, base.input_size, base.mean,
                                                                      base.std)
    assert meta.training["adapted_from"] == str(shipped_model) and meta.training["bags"] == ["lineA"]
    crops, _ = read_labelled(harvested, meta.classes)
    x, y = load_crops(crops, meta.input_size), np.array([c.label for c in crops])

    def loss(model: Path) -> float:
        p = ImageClassifier(model, "onnxruntime").classify_crops(x)
        return float(-np.log(p[np.arange(len(y)), y] + 1e-9).mean())

    assert loss(out) < loss(shipped_model) - 0.05, (loss(out), loss(shipped_model))


def test_model_labelled_crops_are_trained_on_but_never_held_back(harvested, line_bag, shipped_model, tmp_path):
    from waste_sorting.adaptation.adapt import split_items
    from waste_sorting.inference.metadata import ModelMetadata

    # A person labelled half of the items; the model labels every item of the bag.
    data = tmp_path / "labelled"
    shutil.copytree(harvested, data)
    crops, _ = read_labelled(data, CLASSES)
    keys = sorted({c.item_key for c in crops})
    for c in crops:
        if c.item_key in keys[::2]:
            c.path.unlink()
    pseudo = tmp_path / "model-labelled"
    assert main(["harvest", str(line_bag), "--out", str(pseudo), "--labels", "predicted", "--per-item", "2",
                 "--unsure-below", "0", "--quiet"]) == 0
    report_file, out = tmp_path / "report.json", tmp_path / "adapted.onnx"
    assert main(["adapt", "--data", str(data), "--pseudo", str(pseudo), "--out", str(out), "--epochs", "1",
                 "--quiet", "--threads", "2", "--json", str(report_file)]) == 0
    report = json.loads(report_file.read_text())
    kept, _ = read_labelled(data, CLASSES)
    _, held = split_items(kept, 0.2, 0)
    assert report["held_back_items"] == len({c.item_key for c in held}) > 0  # from the person's labels only
    training = ModelMetadata.for_model(out).training
    # The model labels every item; those a person labelled keep the person's label and count once.
    by_model = {c.item_key for c in read_labelled(pseudo, CLASSES)[0]}
    kept_keys = {c.item_key for c in kept}
    assert set(keys[::2]) <= by_model and kept_keys <= by_model
    assert training["pseudo_items"] == len(by_model - kept_keys)
    assert training["labelled_items"] == len(kept_keys) and training["pseudo_bags"] == ["lineA"]


def test_rehearsal_views_take_the_line_crops_colours(harvested, shipped_model, demo_images):
    """Warm light on the line: the original images, rehearsed, are given its per-channel mean and spread."""
    from waste_sorting.adaptation.adapt import _Rehearsal, load_crops
    from waste_sorting.inference.metadata import ModelMetadata
    from waste_sorting.inference.preprocess import normalize_batch

    meta = ModelMetadata.for_model(shipped_model)
    crops, _ = read_labelled(harvested, meta.classes)
    line = torch.from_numpy(normalize_batch(load_crops(crops, meta.input_size), meta.mean, meta.std))
    rehearsal = _Rehearsal(demo_images, meta.classes, meta.input_size, meta, seed=0)

    def gap() -> float:
        views, _ = rehearsal.batch(96)
        return float((views.mean(dim=(0, 2, 3)) - line.mean(dim=(0, 2, 3))).abs().max())

    before = gap()
    rehearsal.match_colours(line)
    after = gap()
    assert before > 0.15, f"the warm line should differ from the studio photos ({before:.3f})"
    assert after < before / 3, f"per-channel means still {after:.3f} apart (were {before:.3f})"


def test_adapt_with_an_imagenet_teacher_records_it_and_learns_the_crops(harvested, shipped_model, tmp_path):
    from waste_sorting.adaptation.adapt import AdaptConfig, adapt, load_crops
    from waste_sorting.inference.classifier import ImageClassifier
    from waste_sorting.inference.metadata import ModelMetadata

    out = tmp_path / "taught.onnx"
    cfg = AdaptConfig(epochs=4, holdout=0.0, threads=2, teacher="efficientnet-lite0", teacher_epochs=3)
    report = adapt(harvested, shipped_model, out, cfg=cfg, quiet=True)
    assert [h["epoch"] for h in report["teacher"]["history"]] == [1, 2, 3]
    assert report["teacher"]["history"][-1]["train_loss"] < report["teacher"]["history"][0]["train_loss"]
    meta = ModelMetadata.for_model(out)
    assert meta.training["teacher"]["arch"] == "efficientnet-lite0"
    assert meta.architecture == ModelMetadata.for_model(shipped_model).architecture  # still the cell's network
    crops, _ = read_labelled(harvested, meta.classes)
    x, y = load_crops(crops, meta.input_size), np.array([c.label for c in crops])

    def loss(model: Path) -> float:
        p = ImageClassifier(model, "onnxruntime").classify_crops(x)
        return float(-np.log(p[np.arange(len(y)), y] + 1e-9).mean())

    assert loss(out) < loss(shipped_model), (loss(out), loss(shipped_model))


def test_adapt_refuses_a_folder_that_is_not_a_class_and_names_the_classes(harvested, tmp_path, capsys):
    import shutil

    data = tmp_path / "crops"
    shutil.copytree(harvested, data)
    (data / "glas").mkdir()
    out = tmp_path / "m.onnx"
    assert main(["adapt", "--data", str(data), "--out", str(out), "--quiet"]) == 1
    err = capsys.readouterr().err
    assert "'glas' is not a class of the model" in err and "cardboard, glass" in err and "Traceback" not in err
    assert not out.exists()
    with pytest.raises(DataError, match="no such folder"):
        read_labelled(tmp_path / "nothing", CLASSES)


def test_floors_keep_every_bin_at_the_target_with_the_best_recovery():
    # Class 0: right above 0.7, mixed below; class 1: right everywhere; class 2 can never reach 0.9.
    pred = np.array([0] * 10 + [1] * 5 + [2] * 4)
    conf = np.array([0.95, 0.9, 0.85, 0.8, 0.75, 0.72, 0.6, 0.55, 0.5, 0.45, 0.9, 0.8, 0.7, 0.6, 0.5,
                     0.9, 0.8, 0.7, 0.6])
    truth = np.array([0, 0, 0, 0, 0, 0, 3, 0, 3, 3, 1, 1, 1, 1, 1, 3, 2, 2, 3])
    table = ScoreTable(pred, conf, truth, np.array([8, 5, 2, 3]))
    names = ["a", "b", "c", "d"]
    floors = choose_floors(table, names, ["a", "b", "c"], 0.9, [0.5, 0.5, 0.5])
    a, b, c = floors
    # a: purity stays 1.0 down to 0.72, then 6/7 < 0.9; the lowest floor at target keeps 6 of 8.
    assert a.reached and a.floor == pytest.approx(0.72) and a.purity == 1.0 and a.recovery == pytest.approx(6 / 8)
    assert b.reached and b.floor == pytest.approx(0.5) and b.recovery == 1.0
    assert not a.closed and not b.closed
    # c: no floor keeps it at 0.9, so it is closed (the other bins keep the target); the best it could
    # do, 2 of 3 at floor 0.7, is what the caller reports.
    assert not c.reached and c.closed and c.floor == CLOSED_FLOOR
    assert c.purity == pytest.approx(2 / 3) and c.best_floor == pytest.approx(0.7)
    # Asked to sort it anyway, it gets that best floor.
    best = choose_floors(table, names, ["a", "b", "c"], 0.9, [0.5, 0.5, 0.5], unreachable="best")
    assert [f.floor for f in best[:2]] == [a.floor, b.floor]
    assert not best[2].reached and not best[2].closed and best[2].floor == pytest.approx(0.7)
    # Asking the target of the Wilson lower bound: 7 right of 9 passes 0.75 as measured, not as a bound.
    plain = choose_floors(table, names, ["a"], 0.75, [0.5])[0]
    cautious = choose_floors(table, names, ["a"], 0.75, [0.5], z=1.28)[0]
    assert plain.floor == pytest.approx(0.5) and plain.recovery == pytest.approx(7 / 8)
    assert cautious.floor == pytest.approx(0.72) and cautious.recovery == pytest.approx(6 / 8)
    # 6 right of 6 is not enough evidence for 0.9: not reached, but at the target as measured, so it
    # sorts at the floor the data supports best (and the caller says so) rather than closing.
    thin = choose_floors(table, names, ["a"], 0.9, [0.5], z=1.28)[0]
    assert not thin.reached and not thin.closed and thin.purity == 1.0 and thin.floor == pytest.approx(0.72)
    # Out of reach, the floor is the one the data supports best: 11 right of 13, not 1 right of 1.
    conf = np.linspace(0.99, 0.5, 13)
    right = np.array([1, 0, 0] + [1] * 10)
    few = choose_floors(ScoreTable(np.zeros(13, int), conf, 1 - right, np.array([11, 2])), ["x", "y"], ["x"],
                        0.99, [0.5], z=1.28, unreachable="best")[0]
    assert not few.reached and few.floor == pytest.approx(0.5) and few.purity == pytest.approx(11 / 13)


def test_the_fitted_temperature_is_the_one_the_labels_were_drawn_at():
    from waste_sorting.adaptation.thresholds import calibration_error, fit_temperature, tempered

    rng = np.random.default_rng(3)
    logits = rng.normal(0, 3.0, (4000, 6))
    truth_t = 2.5  # the model is this much over-confident: labels follow softmax(logits / 2.5)
    true_p = tempered(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), truth_t)
    labels = np.array([rng.choice(6, p=p) for p in true_p])
    model_p = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    t = fit_temperature(model_p, labels)
    assert t == pytest.approx(truth_t, rel=0.08)
    assert calibration_error(tempered(model_p, t), labels) < 0.5 * calibration_error(model_p, labels)


def test_the_classifier_applies_its_temperature(shipped_model, demo_images):
    import cv2

    from waste_sorting.adaptation.thresholds import tempered
    from waste_sorting.inference.classifier import ImageClassifier

    clf = ImageClassifier(shipped_model, "onnxruntime")
    files = sorted(demo_images.glob("*/*.jpg"))[:8]
    x = np.stack([cv2.resize(cv2.imread(str(f)), (clf.input_size,) * 2) for f in files])
    p1, p2 = clf.classify_crops(x), clf.classify_crops(x, temperature=2.0)
    np.testing.assert_allclose(p2, tempered(p1, 2.0), atol=1e-5)
    assert (p2.max(1) < p1.max(1)).all() and (p2.argmax(1) == p1.argmax(1)).all()


def test_written_floors_are_a_params_file_the_cell_reads(repo, tmp_path):
    from waste_sorting.cell import specs
    from waste_sorting.params_file import node_values

    out = tmp_path / "floors.yaml"
    write_params(repo / "config" / "sorting_cell.yaml", out, [0.61, 0.7, 0.8, 0.9, 0.55], temperature=1.7)
    values = node_values(out, "tracker", specs.TRACKER)
    assert values["bin_min_confidence"] == [0.61, 0.7, 0.8, 0.9, 0.55]
    assert node_values(out, "classifier", specs.CLASSIFIER)["temperature"] == 1.7
    assert node_values(out, "actuator", specs.ACTUATOR)
    assert yaml.safe_load(out.read_text())


def test_compare_and_calibrate_thresholds_on_a_bag(line_bag, harvested, shipped_model, tmp_path, capsys):
    out = tmp_path / "floors.yaml"
    code = main(["calibrate", "thresholds", str(line_bag), "--purity", "0.5", "--out", str(out),
                 "--plot", str(tmp_path / "f.png")])
    text = capsys.readouterr().out
    assert code in (0, 1) and out.is_file() and (tmp_path / "f.png").is_file(), text
    assert "floor" in text and "wrote" in text and "labelled sightings" in text
    written = yaml.safe_load(out.read_text())
    section = next(v for k, v in written.items() if k.endswith("classifier"))["ros__parameters"]
    if "fitted to" in text:  # the temperature goes into the file with the floors
        assert f"-> {section['temperature']:.3f}" in text
    # A target no bin can keep on this bag's few items: every such bin is closed in the file, and said so.
    strict = tmp_path / "strict.yaml"
    code = main(["calibrate", "thresholds", str(line_bag), "--purity", "0.99", "--no-temperature",
                 "--out", str(strict)])
    text = capsys.readouterr().out
    rows = {line.split()[0]: line.split()[1] for line in text.splitlines()
            if line.split() and line.split()[0] in CLASSES[:5]}
    floors = next(v for k, v in yaml.safe_load(strict.read_text()).items()
                  if k.endswith("tracker"))["ros__parameters"]["bin_min_confidence"]
    assert [f == CLOSED_FLOOR for f in floors] == [rows[c] == "closed" for c in CLASSES[:5]], text
    assert any(f == CLOSED_FLOOR for f in floors) and "closed bins sort nothing" in text
    assert code == 1, text  # no open bin keeps 0.99 with a handful of items to show for it
    assert main(["evaluate", str(line_bag), "--compare", str(shipped_model), str(shipped_model)]) == 0
    text = capsys.readouterr().out
    assert "classification" in text and "0 items classified differently" in text


def test_a_labelled_harvest_is_the_truth_of_a_bag_without_any(line_bag, harvested, tmp_path, capsys):
    """A recorded line has no ground truth: the items a person labelled stand in for it, and the floors
    and temperature come out of the same cell decisions as with the simulator's truth."""
    import re

    rows = _rows(harvested)
    items = {r["item_id"] for r in rows}
    out = tmp_path / "floors.yaml"
    code = main(["calibrate", "thresholds", str(line_bag), "--labels", str(harvested), "--purity", "0.5",
                 "--out", str(out)])
    text = capsys.readouterr().out
    assert code in (0, 1) and out.is_file(), text
    found = re.search(r"truth: (\d+) labelled items of lineA", text)
    assert found and 0.8 * len(items) <= int(found.group(1)) <= len(items), text
    decided = int(re.search(r"(\d+) decided items of (\d+)", text).group(1))
    assert decided >= 0.8 * int(found.group(1)), text  # the labelled items are found among the decisions
    assert "pulses scored" not in text  # no ground truth to score pulses against
    capsys.readouterr()
    assert main(["calibrate", "thresholds", str(line_bag), "--labels", str(tmp_path / "none"), "--purity", "0.5",
                 "--out", str(tmp_path / "x.yaml")]) == 1
    assert "no such folder" in capsys.readouterr().err and not (tmp_path / "x.yaml").exists()
