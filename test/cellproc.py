"""Helpers to run the cell's nodes as separate processes over real DDS, as `ros2 launch` does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

NODES = ("camera_driver", "classifier", "tracker", "actuator")


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
