"""What `ros2 launch waste_sorting sorting_cell.launch.py` hands each node, ROS- and launch-free.

launch_ros writes a ``Node``'s dict parameters to a temporary file keyed
``/**`` unless the node's name and namespace are both given; rcl merges that
key into the params file's own ``/**`` section, and the file's later
``/**/NODE`` section then wins, so the override never arrives. The launch
file therefore writes each node's overrides to a file of its own, keyed
``/**/NODE`` and given after the params file: rcl lets a later file's entry
win whatever the first file holds (``/**``, ``/**/NODE``, ``NODE`` or
``/NS/NODE``). The tests build the same files and the same command line.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from waste_sorting.errors import UsageError

NODES = ("camera_driver", "classifier", "tracker", "actuator")
CAMERA_SOURCES = ("sim", "video", "images", "device")
_TRUE, _FALSE = ("true", "1", "yes", "on"), ("false", "0", "no", "off")


def parse_bool(name: str, text: str) -> bool:
    """A launch argument as ROS reads a bool: true/True/1/yes/on or false/False/0/no/off."""
    word = str(text).strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise UsageError(f"launch argument {name}:={text!r} is not a bool (use true or false)")


@dataclass(frozen=True)
class CellLaunch:
    """The launch arguments, checked."""

    sim: bool = False
    camera_source: str = ""  # "" = the params file's
    serial_port: str = ""  # "" = the params file's
    use_sim_time: bool = False
    namespace: str = ""

    @classmethod
    def from_strings(cls, sim: str = "false", camera_source: str = "", serial_port: str = "",
                     use_sim_time: str = "false", namespace: str = "") -> CellLaunch:
        source = camera_source.strip()
        if source and source not in CAMERA_SOURCES:
            raise UsageError(f"launch argument camera_source:={source!r} is not one of {', '.join(CAMERA_SOURCES)}")
        ns = namespace.strip().strip("/")
        if ns and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*", ns):
            raise UsageError(f"launch argument namespace:={namespace!r} is not a ROS namespace "
                             "(letters, digits, '_' and '/', not starting with a digit)")
        return cls(sim=parse_bool("sim", sim), camera_source=source, serial_port=serial_port.strip(),
                   use_sim_time=parse_bool("use_sim_time", use_sim_time), namespace=ns)


def sim_link(namespace: str, run_id: str) -> Path:
    """The emulator's pty link for one cell: named after its namespace and run, removed on exit."""
    slug = namespace.replace("/", "_") or "cell"
    return Path(tempfile.gettempdir()) / f"waste_sorting-{slug}-{run_id}.tty"


def node_overrides(cell: CellLaunch, link: Path | None) -> dict[str, dict[str, Any]]:
    """Each node's overrides: what the launch arguments say, nothing they leave to the params file."""
    out: dict[str, dict[str, Any]] = {n: {"use_sim_time": cell.use_sim_time} for n in NODES}
    source = "sim" if cell.sim else cell.camera_source
    if source:
        out["camera_driver"]["source"] = source
    port = str(link) if cell.sim and link is not None else cell.serial_port
    if port:
        out["actuator"]["port"] = port
    return out


def write_override_file(node: str, values: dict[str, Any], directory: Path) -> Path:
    """``values`` for ``node`` as a params file keyed ``/**/NODE`` (see the module docstring)."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{node}.overrides.yaml"
    path.write_text(yaml.safe_dump({f"/**/{node}": {"ros__parameters": values}}, default_flow_style=False))
    return path


def ros_arguments(node: str, namespace: str, params_file: Path, override_file: Path) -> list[str]:
    """The arguments launch_ros gives the node's process for a ``Node`` with name, namespace and two files."""
    return ["--ros-args", "-r", f"__node:={node}", "-r", f"__ns:=/{namespace}",
            "--params-file", str(params_file), "--params-file", str(override_file)]
