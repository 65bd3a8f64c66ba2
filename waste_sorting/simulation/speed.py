"""Belt speed over time and the belt travel it integrates to."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class SpeedProfile:
    """Piecewise-linear speed v(t) (m/s) through (t, v) knots; constant outside them.

    ``travel(t)`` is the exact integral of v from 0 to t, the quantity an
    encoder measures.
    """

    def __init__(self, knots: Sequence[tuple[float, float]]) -> None:
        if not knots:
            raise ValueError("speed profile needs at least one (t, v) knot")
        pts = sorted((float(t), float(v)) for t, v in knots)
        if any(v < 0 for _, v in pts):
            raise ValueError("belt speed must be >= 0")
        self.times = [t for t, _ in pts]
        self.speeds = [v for _, v in pts]
        # Travel at every knot, for O(log n) queries.
        self._s = [0.0]
        for i in range(1, len(pts)):
            dt = self.times[i] - self.times[i - 1]
            self._s.append(self._s[-1] + dt * (self.speeds[i] + self.speeds[i - 1]) / 2)

    @classmethod
    def constant(cls, v: float) -> SpeedProfile:
        return cls([(0.0, v)])

    @classmethod
    def parse(cls, text: str) -> SpeedProfile:
        """'0:2.0,10:1.5,20:2.5' -> knots; a bare number is a constant speed."""
        text = text.strip()
        if ":" not in text:
            return cls.constant(float(text))
        knots = []
        for part in text.split(","):
            t, v = part.split(":")
            knots.append((float(t), float(v)))
        return cls(knots)

    def speed(self, t: float) -> float:
        i = bisect.bisect_right(self.times, t)
        if i == 0:
            return self.speeds[0]
        if i == len(self.times):
            return self.speeds[-1]
        t0, t1 = self.times[i - 1], self.times[i]
        a = (t - t0) / (t1 - t0)
        return self.speeds[i - 1] + a * (self.speeds[i] - self.speeds[i - 1])

    def travel(self, t: float) -> float:
        """Belt travel (m) from t = 0 to t."""
        return self._travel_from_first(t) - self._travel_from_first(0.0)

    def _travel_from_first(self, t: float) -> float:
        if t <= self.times[0]:
            return (t - self.times[0]) * self.speeds[0]
        i = bisect.bisect_right(self.times, t) - 1
        if i >= len(self.times) - 1:
            return self._s[-1] + (t - self.times[-1]) * self.speeds[-1]
        v = self.speed(t)
        return self._s[i] + (t - self.times[i]) * (self.speeds[i] + v) / 2
