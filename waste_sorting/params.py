"""Parameters declared once: type, default, unit, range and description.

Nodes turn these specs into ROS parameter descriptors (so `ros2 param
describe` explains each one) and validate every change against them; the
specs themselves are plain data so tests and docs can use them without ROS.
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any


@dataclass(frozen=True)
class Param:
    name: str
    default: Any
    description: str
    unit: str = ""
    min: float | None = None
    max: float | None = None
    choices: tuple[str, ...] | None = None
    read_only: bool = False  # takes effect only at start-up

    @property
    def kind(self) -> type:
        if isinstance(self.default, list):
            return list
        return type(self.default)

    def describe(self) -> str:
        parts = [self.description]
        if self.unit:
            parts.append(f"unit: {self.unit}")
        if self.min is not None or self.max is not None:
            parts.append(f"range: [{self.min}, {self.max}]")
        if self.choices:
            parts.append(f"one of: {', '.join(self.choices)}")
        if self.read_only:
            parts.append("read-only at run time (restart to change)")
        return "; ".join(parts)

    def check(self, value: Any) -> str | None:
        """None when ``value`` is acceptable, else the reason it is not."""
        kind = self.kind
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if kind is list:
            if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple, array.array)):
                return f"{self.name} must be a list"
            items: Sequence[Any] = list(value)
        else:
            if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
                return f"{self.name} must be {kind.__name__}, got {type(value).__name__}"
            items = [value]
        for v in items:
            if isinstance(v, float) and not math.isfinite(v):
                return f"{self.name} must be finite"
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if self.min is not None and v < self.min:
                    return f"{self.name}={v} is below the minimum {self.min} {self.unit}".rstrip()
                if self.max is not None and v > self.max:
                    return f"{self.name}={v} is above the maximum {self.max} {self.unit}".rstrip()
            if self.choices is not None and v not in self.choices:
                return f"{self.name}={v!r} is not one of {', '.join(self.choices)}"
        return None


def by_name(specs: Sequence[Param]) -> dict[str, Param]:
    return {p.name: p for p in specs}


def default_of(cls: type, name: str) -> Any:
    """The default a core dataclass declares for ``name``: a spec's default is taken from the
    object it configures, so each default is written once, where it is used."""
    for f in fields(cls):
        if f.name == name:
            if f.default is not MISSING:
                return list(f.default) if isinstance(f.default, tuple) else f.default
            if f.default_factory is not MISSING:
                value = f.default_factory()
                return list(value) if isinstance(value, tuple) else value
            raise TypeError(f"{cls.__name__}.{name} has no default")
    raise AttributeError(f"{cls.__name__} has no field {name}")


def defaults(specs: Sequence[Param]) -> dict[str, Any]:
    """Every spec's default by name: the values a node starts from when the params file is silent."""
    return {p.name: p.default for p in specs}
