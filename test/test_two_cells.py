"""Two cells on one host: on one ROS domain and namespace they are told apart; in two namespaces they do not mix."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow

RUN = ["--duration", "10", "--seed", "3", "--belt-speed", "2.0"]


def _two_runs(tmp_path: Path, namespaces: tuple[str, str]) -> list[tuple[int, str, dict | None]]:
    procs = []
    for i, ns in enumerate(namespaces):
        out = tmp_path / f"cell{i}.json"
        cmd = [sys.executable, "-m", "waste_sorting.cli", "run", "--sim", *RUN, "--json", str(out)]
        if ns:
            cmd += ["--namespace", ns]
        procs.append((subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True), out))
    results = []
    for p, out in procs:
        text, _ = p.communicate(timeout=240)
        results.append((p.returncode, text, json.loads(out.read_text()) if out.exists() else None))
    return results


def test_two_cells_in_one_namespace_are_detected(tmp_path):
    results = _two_runs(tmp_path, ("", ""))
    text = "\n".join(t for _, t, _ in results)
    assert "publishers on /camera/image_raw where this cell has 1" in text, text[-4000:]
    for code, out, report in results:
        assert "Traceback" not in out
        if report is not None:  # a run that was scored was fed by its own camera alone
            assert code == 0 and report["classifier_frames"] <= report["camera_frames"]
        else:
            assert code == 1 and "not scored" in out, out[-2000:]


def test_two_cells_in_two_namespaces_score_as_if_alone(tmp_path):
    results = _two_runs(tmp_path, ("line1", "line2"))
    reports = []
    for code, out, report in results:
        assert code == 0 and report is not None, out[-3000:]
        assert "publishers on" not in out, "a cell saw the other's topics"
        assert report["classifier_frames"] <= report["camera_frames"]
        reports.append(report)
    a, b = reports
    # The same seed renders the same items in both cells: each sees and fires for its own belt.
    # Item counts differ by a few items at the window's edges (start-up timing on 2 loaded cores), not by a belt.
    assert a["items_seen"] > 0 and abs(a["items_seen"] - b["items_seen"]) <= max(4, 0.3 * a["items_seen"]), \
        (a["items_seen"], b["items_seen"])
    assert a["pulses_empty"] <= 2 and b["pulses_empty"] <= 2, (a["pulses_empty"], b["pulses_empty"])
    # Mixed cells show as pulses on empty belt (40 of 74 in the report that found it) and frames from the
    # other camera; how many items each sorts right also depends on how the two share 2 cores, so that
    # figure only has to be of the same order.
    for r in (a, b):
        assert r["pulses_hit"] >= r["picks_fired"] - 2, r
    assert abs(a["right_bin"] - b["right_bin"]) <= max(4, 0.5 * a["items_seen"]), (a["right_bin"], b["right_bin"])
