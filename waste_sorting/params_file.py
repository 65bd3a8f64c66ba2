"""Read a standard ROS 2 params file without ROS, for the offline tools (evaluate, bench).

Applies the same precedence a node sees: spec defaults, then the ``/**``
wildcard section, then the node's own section; every value is checked
against its spec.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import yaml

from waste_sorting.params import Param


def _sections(data: dict[str, Any], node: str) -> list[dict[str, Any]]:
    wildcard, own = [], []
    for key, section in (data or {}).items():
        params = (section or {}).get("ros__parameters", {}) if isinstance(section, dict) else {}
        if key in ("/**", "**"):
            wildcard.append(params)
        elif key.rstrip("/").split("/")[-1] == node and (key.count("/") <= 1 or key.startswith("/**/")):
            own.append(params)
    return wildcard + own


def node_values(params_file: Path, node: str, specs: Sequence[Param],
                overrides: dict[str, Any] | None = None) -> dict[str, Any]:
    """The node's parameter values from the file, then ``overrides`` (each checked against its spec)."""
    data = yaml.safe_load(Path(params_file).read_text())
    values = {p.name: p.default for p in specs}
    table = {p.name: p for p in specs}
    unknown = set(overrides or {}) - set(table)
    if unknown:
        raise ValueError(f"{node} has no parameter(s) {sorted(unknown)}")
    for section in [*_sections(data, node), overrides or {}]:
        for name, value in section.items():
            if name not in table:
                continue
            spec = table[name]
            if spec.kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            if spec.kind is list and isinstance(value, list) and spec.default and isinstance(spec.default[0], float):
                value = [float(v) for v in value]
            reason = spec.check(value)
            if reason:
                raise ValueError(f"{params_file}: {node}: {reason}")
            values[name] = value
    return values
