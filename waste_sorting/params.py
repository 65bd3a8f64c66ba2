"""Parameters declared once: type, default, unit, range and description.

Nodes turn these specs into ROS parameter descriptors (so `ros2 param
describe` explains each one) and validate every change against them; the
specs themselves are plain data so tests and docs can use them without ROS.
"""

from __future__ import annotations

import array
import math
from collections.abc import Sequence
from dataclasses import dataclass
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


# -- shared by several nodes (set under /** in the params file) -----------------
CLASSES = Param("classes", ["cardboard", "glass", "metal", "paper", "plastic", "trash"],
                "class names in model output order (checked against the model's metadata)")
EJECTOR_PARAMS = (
    Param("ejector_x", [1.4, 1.7, 2.0, 2.3, 2.6], "valve line of each ejector along the belt",
          "m", 0.0, 50.0),
    Param("ejector_mode", "airjet", "air-jet valve banks or robot pickers", choices=("airjet", "robot")),
    Param("valve_count", 32, "valves per air-jet bank", "", 1, 255),
    Param("valve_pitch", 0.02, "distance between valve centres", "m", 0.001, 0.2),
    Param("valve_y_center", 0.0, "belt y of the bank's centre", "m", -2.0, 2.0),
    Param("valve_latency", 0.015, "command-to-air latency compensated for", "s", 0.0, 0.2),
    Param("pulse_margin", 0.02, "extra air time around the item", "s", 0.0, 0.2),
    Param("min_pulse", 0.01, "shortest pulse", "s", 0.001, 0.5),
    Param("max_pulse", 0.25, "longest pulse", "s", 0.001, 2.0),
    Param("lateral_margin", 0.01, "extra valve coverage either side of the item", "m", 0.0, 0.2),
)
