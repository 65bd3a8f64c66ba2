"""Ejector geometry and pulse planning.

An air-jet bank is a row of valves across the belt at position ``x`` along it.
Air should blow while the item passes the valve line, so the valves are
commanded open ``latency`` before the item's leading edge arrives and stay open
until its trailing edge has passed (plus a margin). Which valves open follows
the item's lateral extent. A robot ejector instead picks at (x, y) at the time
the item's centre reaches ``x``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field


@dataclass
class EjectorGeometry:
    x: list[float] = field(default_factory=lambda: [1.4, 1.7, 2.0, 2.3, 2.6])
    valve_count: int = 32
    valve_pitch: float = 0.02        # m between valve centres
    y_center: float = 0.0            # belt y of the bank's centre
    latency: float = 0.015           # s from command to air flowing (compensated)
    pulse_margin: float = 0.02       # s of extra air, split before and after the item
    min_pulse: float = 0.01
    max_pulse: float = 0.25
    lateral_margin: float = 0.01     # m of extra coverage either side of the item
    mode: str = "airjet"             # "airjet" or "robot"

    def validate(self) -> None:
        if not self.x:
            raise ValueError("at least one ejector position is needed")
        if any(not math.isfinite(v) for v in self.x):
            raise ValueError("ejector positions must be finite")
        if self.valve_count < 1 or self.valve_pitch <= 0:
            raise ValueError("valve_count must be >= 1 and valve_pitch > 0")
        if not 0 <= self.latency < 1:
            raise ValueError("latency must be in [0, 1) s")
        if not 0 < self.min_pulse <= self.max_pulse:
            raise ValueError("need 0 < min_pulse <= max_pulse")
        if self.mode not in ("airjet", "robot"):
            raise ValueError("mode must be 'airjet' or 'robot'")

    def valve_y(self, index: int) -> float:
        return self.y_center + (index - (self.valve_count - 1) / 2) * self.valve_pitch

    def valves_for(self, y: float, width: float) -> tuple[int, int]:
        """(first valve, count) covering [y - width/2, y + width/2] plus the lateral margin."""
        lo = y - width / 2 - self.lateral_margin
        hi = y + width / 2 + self.lateral_margin
        offset = self.y_center - (self.valve_count - 1) / 2 * self.valve_pitch
        first = math.ceil((lo - offset) / self.valve_pitch - 0.5)
        last = math.floor((hi - offset) / self.valve_pitch + 0.5)
        first, last = max(first, 0), min(last, self.valve_count - 1)
        if last < first:  # item beside the bank: nearest valve
            nearest = min(max(round((y - offset) / self.valve_pitch), 0), self.valve_count - 1)
            return nearest, 1
        return first, last - first + 1

    def valve_span(self, first: int, count: int) -> tuple[float, float]:
        """Belt y range covered by valves first .. first+count-1 (each covers one pitch)."""
        return self.valve_y(first) - self.valve_pitch / 2, self.valve_y(first + count - 1) + self.valve_pitch / 2


@dataclass(frozen=True)
class PulsePlan:
    fire_time: float    # when to command the valves open (ROS clock, s)
    pulse: float        # how long they stay open (s)
    center_time: float  # when the item's centre crosses the valve line
    valve_first: int
    valve_count: int


def plan_pulse(geom: EjectorGeometry, ejector: int, center_time: float, speed: float, length: float,
               y: float, width: float) -> PulsePlan:
    """Pulse for an item whose centre crosses ejector ``ejector`` at ``center_time``."""
    if geom.mode == "robot":
        return PulsePlan(center_time - geom.latency, 0.0, center_time, 0, 0)
    v = max(speed, 1e-3)
    air = length / v + geom.pulse_margin
    pulse = min(max(air, geom.min_pulse), geom.max_pulse)
    fire = center_time - pulse / 2 - geom.latency
    first, count = geom.valves_for(y, width)
    return PulsePlan(fire, pulse, center_time, first, count)
