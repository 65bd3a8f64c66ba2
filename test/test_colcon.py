"""`colcon build` of the package installs the four node executables where `ros2 run` looks."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow


def test_colcon_build_installs_executables_and_data(repo, tmp_path):
    colcon = Path(sys.executable).parent / "colcon"
    if not colcon.exists():
        pytest.skip("colcon is not installed in this environment")
    src = tmp_path / "src" / "waste_sorting"
    files = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    for f in files:
        if (repo / f).is_file():
            (src / f).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(repo / f, src / f)
    result = subprocess.run([str(colcon), "build", "--base-paths", str(tmp_path / "src"), "--build-base",
                             str(tmp_path / "build"), "--install-base", str(tmp_path / "install")],
                            cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout + result.stderr
    prefix = tmp_path / "install" / "waste_sorting"
    for exe in ("camera_driver", "classifier", "tracker", "actuator", "waste-sorting"):
        assert (prefix / "lib" / "waste_sorting" / exe).is_file(), exe
    share = prefix / "share" / "waste_sorting"
    for f in ("package.xml", "launch/sorting_cell.launch.py", "config/sorting_cell.yaml",
              "models/waste_cbam18.onnx", "models/waste_cbam18.json"):
        assert (share / f).is_file(), f
    assert (prefix / "share" / "ament_index" / "resource_index" / "packages" / "waste_sorting").is_file()
    site = next((prefix / "lib").glob("python3*/site-packages/waste_sorting"))
    assert len(list((site / "demo_images").rglob("*.jpg"))) >= 30
