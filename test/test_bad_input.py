"""A user's mistake gets one line (what is wrong, what to do), the right exit code, and nothing written."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

CLI = [sys.executable, "-m", "waste_sorting.cli"]


@pytest.fixture(scope="module")
def bad(tmp_path_factory, repo) -> Path:
    """A folder of bad inputs: files that are not models or bags, params files with a typo or bad values."""
    root = tmp_path_factory.mktemp("bad")
    (root / "notonnx.onnx").write_text("not a model")
    (root / "notabag.mcap").write_text("not a bag")
    (root / "notes.txt").write_text("notes")
    (root / "empty").mkdir()
    (root / "existing").mkdir()
    base = yaml.safe_load((repo / "config" / "sorting_cell.yaml").read_text())

    def params(name: str, section: str, key: str, value: object) -> None:
        data = yaml.safe_load(yaml.safe_dump(base))
        data[section]["ros__parameters"][key] = value
        (root / name).write_text(yaml.safe_dump(data))

    params("typo.yaml", "/**/tracker", "pick_laed", 0.1)
    params("neg.yaml", "/**/tracker", "belt_speed", -5.0)
    params("fast.yaml", "/**/tracker", "belt_speed", 1000.0)
    params("latency.yaml", "/**", "valve_latency", 5.0)
    return root


CASES = [
    (["classify", "--model", "/nonexistent.onnx", "x.jpg"], 1, "model file not found: /nonexistent.onnx"),
    (["classify", "--model", "{bad}/notonnx.onnx", "x.jpg"], 1, "notonnx.onnx: cannot read the ONNX file"),
    (["run", "--model", "/nonexistent.onnx", "--duration", "1"], 1, "model file not found"),
    (["run", "--params", "{bad}/typo.yaml"], 1, "tracker.pick_laed: no such parameter; did you mean pick_lead?"),
    (["run", "--params", "{bad}/neg.yaml"], 1, "tracker: belt_speed=-5.0 is below the minimum 0.0 m/s"),
    (["run", "--params", "{bad}/fast.yaml"], 1, "belt_speed=1000.0 is above the maximum"),
    (["run", "--params", "{bad}/latency.yaml"], 1, "valve_latency=5.0 is above the maximum 0.2 s"),
    (["run", "--belt-speed", "-5"], 2, "argument --belt-speed: -5 is not a number > 0"),
    (["run", "--items-per-second", "100", "--duration", "1"], 1, "sim_items_per_second=100.0 is above the maximum"),
    (["evaluate", "{bad}/notabag.mcap"], 1, "notabag.mcap: not a readable rosbag2 bag (File magic is invalid.)"),
    (["evaluate", "{bad}/notes.txt"], 1, "notes.txt: a file, not a bag (a rosbag2 bag is a folder"),
    (["evaluate", "{bad}/empty"], 1, "empty: not a readable rosbag2 bag (no metadata.yaml, no storage file"),
    (["evaluate", "/nonexistent"], 1, "/nonexistent: no such bag"),
    (["evaluate", "/nonexistent", "--params", "{bad}/typo.yaml"], 1, "did you mean pick_lead?"),
    (["evaluate", "/nonexistent", "--set", "classifier.max_area_fraction=2"], 1,  # the override's, not the file's
     "override: classifier: max_area_fraction=2.0 is above the maximum 1.0"),
    (["replay", "/nonexistent"], 1, "/nonexistent: no such bag"),
    (["adapt", "--data", "{bad}/empty", "--out", "{bad}/m.onnx", "--json", "{bad}/m.json"], 2,
     "m.json is the model's sidecar (its classes and input size)"),
    (["sim", "--out", "{bad}/new1", "--duration", "-1"], 2, "argument --duration: -1 is not a number > 0"),
    (["sim", "--out", "{bad}/new2", "--fps", "0"], 2, "argument --fps: 0 is not a number > 0"),
    (["sim", "--out", "{bad}/new3", "--fps", "-5"], 2, "argument --fps: -5 is not a number > 0"),
    (["sim", "--out", "{bad}/new4", "--items-per-second", "-1"], 2, "-1 is not a number >= 0"),
    (["sim", "--out", "{bad}/new5", "--belt-speed", "-2"], 2, "argument --belt-speed: -2 is not a number > 0"),
    (["sim", "--out", "{bad}/new6", "--images", "{bad}/empty", "--duration", "1"], 1, "has no class sub-folders"),
    (["sim", "--out", "{bad}/existing", "--duration", "1"], 2, "exists; choose a new bag path"),
]


@pytest.mark.parametrize(("argv", "code", "message"), CASES, ids=[" ".join(c[0][:3]) for c in CASES])
def test_a_bad_input_is_one_line_and_leaves_nothing_behind(bad, argv, code, message, tmp_path):
    args = [a.replace("{bad}", str(bad)) for a in argv]
    before = sorted(p.name for p in bad.iterdir())
    r = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=120, cwd=tmp_path)
    err = r.stderr.strip()
    assert r.returncode == code, (r.returncode, err[-2000:])
    assert message in err and "Traceback" not in err, err[-2000:]
    assert err.splitlines()[-1].startswith(f"waste-sorting {argv[0]}: error: "), err[-2000:]
    assert sorted(p.name for p in bad.iterdir()) == before  # no bag, no model, nothing half-written
    assert not any(tmp_path.iterdir())


@pytest.mark.parametrize(("params", "message"), [("typo.yaml", "pick_laed: no such parameter; did you mean pick_lead?"),
                                                  ("neg.yaml", "belt_speed=-5.0 is below the minimum")])
def test_a_node_started_by_launch_refuses_a_setting_it_cannot_honour(bad, params, message):
    """What `ros2 launch` starts: the node exits 1 with one ERROR line instead of running without it."""
    cmd = [sys.executable, "-m", "waste_sorting.nodes.tracker", "--ros-args", "-r", "__node:=tracker",
           "--params-file", str(bad / params)]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    out = r.stdout + r.stderr
    assert r.returncode == 1, out[-2000:]
    errors = [line for line in out.splitlines() if "[ERROR]" in line]
    assert len(errors) == 1 and message in errors[0] and "Traceback" not in out, out[-2000:]
