"""The launch file, evaluated for given launch arguments, and its processes started as launch_ros starts them."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest
import rclpy
from rclpy.node import Node
from sensor_msgs.msg import PointCloud2

from waste_sorting.errors import UsageError
from waste_sorting.itemlist import ItemStatus
from waste_sorting.launching import CellLaunch, parse_bool
from waste_sorting.ros.messages import cloud_to_items

from cellproc import ctrl_c, launched_command, popen_logged
from launchshim import launch_actions


def _actions(repo: Path, **arguments: str) -> list:
    return launch_actions(repo / "launch" / "sorting_cell.launch.py", repo, arguments)


def _start(actions: list, log_dir: Path) -> dict[str, object]:
    procs = {}
    for a in actions:
        if a.kind == "process":  # the emulator, by the installed CLI
            cmd = [sys.executable, "-m", "waste_sorting.cli", *a.kwargs["cmd"][1:]]
            procs["emulator"] = popen_logged(cmd, log_dir / "emulator.log")
        else:
            name = a.kwargs["name"]
            procs[name] = popen_logged(launched_command(a.kwargs["executable"], a.kwargs), log_dir / f"{name}.log")
    return procs


@pytest.mark.parametrize("text,value", [("true", True), ("True", True), ("1", True), ("false", False),
                                        ("False", False), ("0", False)])
def test_bool_arguments_read_as_ros_reads_them(text, value):
    assert parse_bool("sim", text) is value


def test_a_bad_argument_is_refused_by_name():
    with pytest.raises(UsageError, match=r"sim:='maybe' is not a bool"):
        CellLaunch.from_strings(sim="maybe")
    with pytest.raises(UsageError, match="camera_source:='usb'"):
        CellLaunch.from_strings(camera_source="usb")
    with pytest.raises(UsageError, match="namespace"):
        CellLaunch.from_strings(namespace="9cell")


def test_sim_false_simulates_nothing_and_sim_true_uses_the_cells_own_link(repo):
    hardware = _actions(repo, serial_port="/dev/ttyACM7")
    assert [a.kind for a in hardware] == ["node"] * 4, "sim:=false starts no emulator"
    for sim in ("true", "True", "1"):
        actions = _actions(repo, sim=sim, namespace="line2")
        emulator = [a for a in actions if a.kind == "process"]
        assert len(emulator) == 1
        link = emulator[0].kwargs["cmd"][-1]
        assert "line2" in link and link != "/tmp/waste_sorting_tty"
        actuator = next(a for a in actions if a.kind == "node" and a.kwargs["name"] == "actuator")
        assert link in Path(actuator.kwargs["parameters"][1]).read_text()
    again = next(a for a in _actions(repo, sim="true", namespace="line2") if a.kind == "process")
    assert again.kwargs["cmd"][-1] != link, "two launches of one namespace share a pty link"


def _user_params(repo: Path, tmp_path: Path, key: str) -> Path:
    """The package's params file with the actuator's section under another key a user may write."""
    text = (repo / "config" / "sorting_cell.yaml").read_text().replace("/**/actuator:", f"{key}:")
    path = tmp_path / f"params-{key.replace('/', '_').replace('*', 'x')}.yaml"
    path.write_text(text)
    return path


@pytest.mark.slow
@pytest.mark.parametrize("key", ["/**/actuator", "actuator", "/actuator"])
def test_serial_port_override_reaches_the_actuator_whatever_the_params_file_holds(repo, tmp_path, key):
    port = str(tmp_path / "ttyNOTHERE")
    actions = [a for a in _actions(repo, params_file=str(_user_params(repo, tmp_path, key)), serial_port=port)
               if a.kwargs.get("name") in ("actuator", "camera_driver")]
    procs = _start(actions, tmp_path)
    log, camera_log = tmp_path / "actuator.log", tmp_path / "camera_driver.log"
    deadline = time.time() + 60
    while time.time() < deadline and (port not in log.read_text() or "started as" not in camera_log.read_text()):
        time.sleep(0.1)
    codes = ctrl_c(list(procs.values()))
    text = log.read_text()
    assert port in text, f"the actuator never tried {port}:\n{text}"
    assert "/dev/ttyUSB0" not in text
    camera = camera_log.read_text()
    assert "camera source 'device'" in camera and "'sim'" not in camera, camera
    assert codes == [0, 0], f"exit codes {codes}:\n{text}\n{camera}"
    assert "Traceback" not in text + camera


class Listener(Node):
    def __init__(self, namespace: str) -> None:
        super().__init__("launch_test_listener", namespace=namespace)
        self.fired: list = []
        self.create_subscription(PointCloud2, "picks/fired", lambda m: self.fired.extend(cloud_to_items(m)), 50)


@pytest.mark.slow
def test_launched_sim_cell_fires_every_pick_and_stops_cleanly(repo, tmp_path):
    actions = _actions(repo, sim="True", namespace="launch_test")
    link = Path(next(a for a in actions if a.kind == "process").kwargs["cmd"][-1])
    procs = _start(actions, tmp_path)
    rclpy.init()
    listener = Listener("launch_test")
    try:
        deadline = time.time() + 120
        while time.time() < deadline and sum(r["status"] == ItemStatus.SORTED for r in listener.fired) < 6:
            rclpy.spin_once(listener, timeout_sec=0.1)
            dead = [name for name, p in procs.items() if p.poll() is not None]
            assert not dead, f"processes died: {dead}; logs in {tmp_path}"
        assert link.is_symlink(), "the emulator's link is missing while the cell runs"
        camera_code = ctrl_c([procs["camera_driver"]])
        end = time.time() + 4.0  # the picks in flight fire
        while time.time() < end:
            rclpy.spin_once(listener, timeout_sec=0.1)
    finally:
        codes = ctrl_c([p for name, p in procs.items() if name != "camera_driver"])
        listener.destroy_node()
        rclpy.shutdown()
    logs = {name: (tmp_path / f"{name}.log").read_text() for name in procs}
    sorted_ids = {int(r["item_id"]) for r in listener.fired if r["status"] == ItemStatus.SORTED}
    assert len(sorted_ids) >= 6, logs["actuator"][-3000:]
    fired_ids = {int(m) for m in re.findall(r" item (\d+) ejector", logs["emulator"])}
    assert sorted_ids <= fired_ids, f"acknowledged but never fired: {sorted(sorted_ids - fired_ids)}"
    assert "MISSED_LINK_DOWN" not in logs["actuator"]
    assert camera_code + codes == [0] * len(procs), f"exit codes {camera_code + codes}"
    for name, text in logs.items():
        assert "Traceback" not in text, f"{name}:\n{text[-3000:]}"
    assert "disarmed: every valve closed" in logs["emulator"], "the actuator did not close the valves on exit"
    assert not link.exists() and not link.is_symlink(), f"{link} left behind"


@pytest.mark.slow
@pytest.mark.parametrize("how", ["sigterm", "ctrl-c"])
def test_a_node_stops_with_exit_0_and_no_traceback(repo, tmp_path, how):
    import signal

    action = next(a for a in _actions(repo) if a.kwargs.get("name") == "tracker")
    proc = popen_logged(launched_command("tracker", action.kwargs), tmp_path / "tracker.log")
    log = tmp_path / "tracker.log"
    deadline = time.time() + 30
    while time.time() < deadline and "started as /tracker" not in log.read_text():
        time.sleep(0.1)
    if how == "sigterm":
        proc.send_signal(signal.SIGTERM)
        code = proc.wait(timeout=15)
    else:
        code = ctrl_c([proc])[0]
    assert code == 0 and "Traceback" not in log.read_text(), log.read_text()
