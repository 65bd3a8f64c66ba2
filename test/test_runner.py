"""`waste-sorting run`: a node that fails stops the run with a clear error, it never hangs."""

from __future__ import annotations

import json
import time

import pytest

from waste_sorting.cli import main

pytestmark = pytest.mark.slow


def test_failing_node_ends_the_run_with_its_error(monkeypatch, capsys):
    from waste_sorting.nodes.tracker import Tracker

    def broken(self, msg):  # noqa: ANN001
        raise RuntimeError("tracker exploded")

    monkeypatch.setattr(Tracker, "_on_items", broken)
    t0 = time.monotonic()
    assert main(["run", "--duration", "120", "--quiet"]) == 1
    assert time.monotonic() - t0 < 60
    assert "tracker exploded" in capsys.readouterr().err


def test_a_short_simulated_run_accounts_for_every_item_and_ends_quietly(tmp_path, capfd):
    report = tmp_path / "report.json"
    assert main(["run", "--duration", "4", "--quiet", "--json", str(report)]) == 0
    r = json.loads(report.read_text())
    assert r["camera_frames"] > 0 and r["items_seen"] > 0
    # Every item the simulator put on the belt is in exactly one outcome.
    assert r["right_bin"] + r["wrong_bin"] + r["missed"] + r["residue_correct"] == r["items_seen"]
    # The report's accounting: each item once, deliberate passes apart from misses, every class a row.
    acc = r["accounting"]
    assert acc["items"] == r["items_seen"] == sum(acc["outcomes"].values())
    assert acc["outcomes"].get("sorted", 0) == r["right_bin"] and acc["outcomes"].get("wrong_bin", 0) == r["wrong_bin"]
    assert acc["outcomes"].get("passed", 0) + acc["outcomes"].get("missed", 0) == r["missed"]
    assert set(acc["per_class"]) >= {"cardboard", "glass", "metal", "paper", "plastic", "trash"}
    assert len(r["picks"]) == r["picks_fired"] and all(p["t"] >= 0 for p in r["picks"])
    for kind in ("passed", "missed", "wrong_bin"):
        assert sum(acc["reasons"][kind].values()) == acc["outcomes"].get(kind, 0)
    err = capfd.readouterr().err
    assert "stalled" not in err  # the run stopping its own camera is not a camera fault
