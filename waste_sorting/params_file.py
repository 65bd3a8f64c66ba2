"""Read and check a standard ROS 2 params file without ROS (run, evaluate, the offline tools).

Applies the same precedence a node sees: spec defaults, then the ``/**``
wildcard section, then the node's own section; every value is checked
against its spec. ``check_file`` refuses what a node would silently ignore:
a misspelt name (with the closest known one) and a value out of range, naming
the file, node, parameter, value and range.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from waste_sorting.errors import ParamsError
from waste_sorting.params import Param

#: Parameters ROS itself gives every node; a params file may set them for any node.
ROS_OWNED = ("use_sim_time", "start_type_description_service", "start_parameter_event_publisher")


def ros_owned(name: str) -> bool:
    return name in ROS_OWNED or name.startswith("qos_overrides.")


def _load(params_file: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(Path(params_file).read_text())
    except OSError as exc:
        raise ParamsError(f"{params_file}: cannot read it ({exc.strerror})") from None
    except yaml.YAMLError as exc:
        raise ParamsError(f"{params_file}: not valid YAML ({str(exc).splitlines()[0]})") from None
    if data is not None and not isinstance(data, dict):
        raise ParamsError(f"{params_file}: not a ROS 2 params file (expected 'NODE: ros__parameters: ...')")
    return data or {}


def _is_wildcard(key: str) -> bool:
    return key in ("/**", "**")


def _node_of(key: str) -> str | None:
    """The node a section key names (``tracker``, ``/tracker``, ``/**/tracker``, ``/ns/tracker``)."""
    return None if _is_wildcard(key) else key.rstrip("/").split("/")[-1]


def _sections(data: dict[str, Any], node: str) -> list[dict[str, Any]]:
    wildcard, own = [], []
    for key, section in data.items():
        params = (section or {}).get("ros__parameters", {}) if isinstance(section, dict) else {}
        if _is_wildcard(key):
            wildcard.append(params)
        elif _node_of(key) == node and (key.count("/") <= 1 or key.startswith("/**/")):
            own.append(params)
    return wildcard + own


def did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else f"; {len(known)} known, see `waste-sorting param list`"


def unknown_name(params_file: Path | str, node: str, name: str, known: Sequence[str]) -> ParamsError:
    return ParamsError(f"{params_file}: {node}.{name}: no such parameter{did_you_mean(name, known)}")


def node_values(params_file: Path, node: str, specs: Sequence[Param],
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The node's parameter values from the file, then ``overrides`` (each checked against its spec)."""
    data = _load(params_file)
    values = {p.name: p.default for p in specs}
    table = {p.name: p for p in specs}
    for name in overrides or {}:
        if name not in table:
            raise unknown_name("override", node, name, list(table))
    sources = [(section, f"{params_file}: {node}") for section in _sections(data, node)]
    for section, where in [*sources, (overrides or {}, f"override: {node}")]:
        for name, value in section.items():
            if name not in table:
                continue  # another node's (wildcard) or ROS's own; check_file refuses the misspelt
            values[name] = _checked(table[name], value, where)
    return values


def _checked(spec: Param, value: Any, where: str) -> Any:
    if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if spec.kind is list and isinstance(value, list) and spec.default and isinstance(spec.default[0], float):
        value = [float(v) if isinstance(v, int) and not isinstance(v, bool) else v for v in value]
    reason = spec.check(value)
    if reason:
        raise ParamsError(f"{where}: {reason}")
    return value


def check_file(params_file: Path, nodes: Mapping[str, Sequence[Param]]) -> None:
    """Refuse unknown names and bad values for the cell's ``nodes`` (sections of other nodes are theirs)."""
    data = _load(params_file)
    every = sorted({p.name for specs in nodes.values() for p in specs})
    for key, section in data.items():
        node = _node_of(str(key))
        if node is not None and node not in nodes:
            continue
        if not isinstance(section, dict) or not isinstance(section.get("ros__parameters", {}), dict):
            raise ParamsError(f"{params_file}: section {key!r} must hold 'ros__parameters:' with a mapping")
        for name in section.get("ros__parameters", {}) or {}:
            known = every if node is None else [p.name for p in nodes[node]]
            if not ros_owned(name) and name not in known:
                raise unknown_name(params_file, node or str(key), name, known)
    for node, specs in nodes.items():
        node_values(params_file, node, specs)
