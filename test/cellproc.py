"""Helpers to run the cell's nodes as separate processes over real DDS.

``start_nodes`` names each override on the command line (``-p node:name:=value``);
``start_launched`` starts the processes with exactly the arguments
``ros2 launch waste_sorting sorting_cell.launch.py`` gives them.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

NODES = ("camera_driver", "classifier", "tracker", "actuator")
SIM_CAMERA = "source:=sim"  # the params file's camera is a real device


def start_nodes(params_file: Path, overrides: dict[str, list[str]], log_dir: Path,
                extra_env: dict[str, str] | None = None, only: tuple[str, ...] = NODES) -> list[subprocess.Popen]:
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
    procs = []
    for name in only:
        args = [sys.executable, "-m", f"waste_sorting.nodes.{name}", "--ros-args", "--params-file",
                str(params_file)]
        for item in overrides.get(name, []):
            args += ["-p", f"{name}:{item}"]  # node-scoped: wins over the file's node section
        log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
        procs.append(subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, env=env))
    return procs


def spin_for(node: object, seconds: float) -> None:
    import time

    import rclpy

    end = time.time() + seconds
    while time.time() < end:
        rclpy.spin_once(node, timeout_sec=0.05)


def stop_nodes(procs: list[subprocess.Popen], timeout: float = 10.0) -> None:
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    for p in procs:
        try:
            p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def launched_command(executable: str, action: dict) -> list[str]:
    """What launch_ros runs for a recorded ``Node(...)``: the node's module, then its ROS arguments."""
    from waste_sorting.launching import ros_arguments

    params_file, override = action["parameters"]
    return [sys.executable, "-m", f"waste_sorting.nodes.{executable}",
            *ros_arguments(action["name"], action["namespace"], Path(params_file), Path(override))]


def popen_logged(cmd: list[str], log_path: Path, extra_env: dict[str, str] | None = None) -> subprocess.Popen:
    """A process in a session of its own (like a terminal's process group), output to ``log_path``."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(extra_env or {}))
    log = open(log_path, "w")  # noqa: SIM115 - closed with the process
    return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)


def ctrl_c(procs: list[subprocess.Popen], timeout: float = 15.0) -> list[int]:
    """What Ctrl-C under ``ros2 launch`` does: SIGINT to each group, SIGINT again directly, then wait."""
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGINT)
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGINT)
    codes = []
    for p in procs:
        try:
            codes.append(p.wait(timeout=timeout))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
    return codes
