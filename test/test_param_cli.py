"""`waste-sorting param`, `enable`/`disable` and `status` against launched nodes in a namespace, over DDS."""

from __future__ import annotations

import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from waste_sorting.protocol.emulator import ControllerEmulator
from waste_sorting.status import CellStatus

from cellproc import ctrl_c, launched_command, popen_logged
from launchshim import launch_actions

NS = "param_cli_test"


def cli(*args: str, namespace: str = NS) -> subprocess.CompletedProcess:
    extra = ["--namespace", namespace] if namespace else []
    return subprocess.run([sys.executable, "-m", "waste_sorting.cli", *args, *extra, "--timeout", "10"],
                          capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def cell(repo, tmp_path_factory):
    log_dir = tmp_path_factory.mktemp("param_cli")
    emulator = ControllerEmulator()
    port = emulator.start()
    actions = launch_actions(repo / "launch" / "sorting_cell.launch.py", repo,
                             {"namespace": NS, "serial_port": port})
    procs = [popen_logged(launched_command(a.kwargs["name"], a.kwargs), log_dir / f"{a.kwargs['name']}.log")
             for a in actions if a.kwargs.get("name") in ("tracker", "actuator")]
    deadline = time.time() + 30
    while time.time() < deadline and not all(
            "started as" in (log_dir / f"{n}.log").read_text() for n in ("tracker", "actuator")):
        time.sleep(0.1)
    yield
    ctrl_c(procs)
    emulator.close()


@pytest.mark.slow
def test_get_set_describe_list(cell):
    r = cli("param", "get", "tracker", "belt_speed")
    assert r.returncode == 0 and r.stdout.strip() == "belt_speed: 2.0", r.stderr
    r = cli("param", "set", "tracker", "belt_speed", "2")  # an integer for a double, as a person types it
    assert r.returncode == 0, r.stderr
    assert cli("param", "get", "tracker", "belt_speed").stdout.strip() == "belt_speed: 2.0"
    r = cli("param", "set", "tracker", "belt_speed", "2.5")
    assert r.returncode == 0 and "belt_speed set to 2.5" in r.stdout, r.stderr
    assert cli("param", "get", "tracker", "belt_speed").stdout.strip() == "belt_speed: 2.5"
    d = cli("param", "describe", "tracker", "belt_speed")
    assert "Range:" in d.stdout and "double" in d.stdout
    assert "pick_lead" in cli("param", "list", "tracker").stdout.split()


@pytest.mark.slow
def test_refusals_are_one_line_and_non_zero(cell):
    r = cli("param", "set", "tracker", "belt_speed", "-5")
    assert r.returncode == 1 and "refused belt_speed=-5" in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert cli("param", "get", "tracker", "belt_speed").stdout.strip() == "belt_speed: 2.5", "old value kept"
    r = cli("param", "get", "tracker", "pick_laed")
    assert r.returncode == 2 and "did you mean pick_lead?" in r.stderr, r.stderr
    r = cli("param", "get", "tracker", "belt_speed", namespace="")
    assert r.returncode == 1 and "ROS_DOMAIN_ID" in r.stderr and len(r.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_disable_and_enable_the_software_stop(cell):
    r = cli("disable")
    assert r.returncode == 0 and "firing disabled" in r.stdout, r.stderr
    assert cli("param", "get", "actuator", "enabled").stdout.strip() == "enabled: False"
    r = cli("enable")
    assert r.returncode == 0 and "firing enabled" in r.stdout
    assert cli("param", "get", "actuator", "enabled").stdout.strip() == "enabled: True"


def _diag(name: str, level: int = 0, message: str = "streaming") -> SimpleNamespace:
    return SimpleNamespace(status=[SimpleNamespace(name=f"waste_sorting: {name}", level=level, message=message,
                                                   values=[])])


def test_status_marks_a_silent_node_stale_and_ignores_other_cells():
    view = CellStatus(namespace="line1", stale_after=2.0)
    view.on_diagnostics(_diag("/line1/camera_driver"))
    view.on_diagnostics(_diag("/line2/tracker", level=2, message="another cell's"))
    text = view.render()
    assert "camera_driver  OK    streaming" in text and "another cell's" not in text
    view.heard["camera_driver"] -= 15
    assert "camera_driver  STALE not heard for 15 s" in view.render()


def test_status_hears_nothing_and_says_where_it_listened():
    view = CellStatus(namespace="line1", stale_after=2.0)
    view.started -= 5
    assert "ROS_DOMAIN_ID" in view.render() and "namespace /line1" in view.render()
