"""A dirty real belt (simulated): the technician learns the empty belt, then the cell makes no phantoms."""

from __future__ import annotations

import json

import pytest

from waste_sorting.cli import main


@pytest.fixture(scope="module")
def empty_dirty_bag(tmp_path_factory):
    bag = tmp_path_factory.mktemp("dirty") / "empty"
    assert main(["sim", "--dirty", "--items-per-second", "0", "--duration", "4", "--seed", "3", "--out",
                 str(bag)]) == 0
    return bag


def test_calibrate_belt_learns_the_empty_belt_and_the_cell_starts_from_it(empty_dirty_bag, tmp_path, capsys):
    model = tmp_path / "belt.npz"
    assert main(["calibrate", "belt", str(empty_dirty_bag), "--seconds", "3", "--out", str(model)]) == 0
    out = capsys.readouterr().out
    assert model.is_file() and "0 item blobs" in out and f"belt_model: {model}" in out
    report = tmp_path / "r.json"
    assert main(["evaluate", str(empty_dirty_bag), "--set", f"classifier.belt_model={model}", "--json",
                 str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["items_decided"] == 0 and r["picks_fired"] == 0


def test_calibrating_a_belt_with_items_on_it_says_so(demo_images, tmp_path, capsys):
    bag = tmp_path / "busy"
    assert main(["sim", "--dirty", "--items-per-second", "3", "--duration", "3", "--seed", "4", "--out",
                 str(bag)]) == 0
    assert main(["calibrate", "belt", str(bag), "--out", str(tmp_path / "belt.npz")]) == 1
    assert "the empty belt still shows items" in capsys.readouterr().err


def test_a_missing_belt_model_is_one_line(empty_dirty_bag, tmp_path, capsys):
    code = main(["evaluate", str(empty_dirty_bag), "--set", f"classifier.belt_model={tmp_path / 'none.npz'}"])
    err = capsys.readouterr().err
    assert code == 1 and "waste-sorting evaluate: error: belt model" in err and "calibrate belt" in err
    assert "Traceback" not in err


def test_items_on_a_dirty_belt_are_found_and_nothing_else_is_fired_at(tmp_path):
    bag, report = tmp_path / "dirty", tmp_path / "r.json"
    assert main(["sim", "--dirty", "--items-per-second", "2", "--duration", "12", "--seed", "22", "--out",
                 str(bag)]) == 0
    assert main(["evaluate", str(bag), "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["items"] >= 15 and r["detection_recall"] >= 0.95, r["detection_recall"]
    assert r["phantom_decisions"] <= 1 and r["pulses_empty"] == 0, (r["phantom_decisions"], r["pulses_empty"])
