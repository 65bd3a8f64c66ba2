"""Belt travel s(t): the one quantity every position prediction is made from.

Prediction is ``x(t) = x(t0) + s(t) - s(t0)``. With a fixed speed, s is built
from speed changes (each change starts a new segment, so positions observed
before a change stay right); with an encoder, s is the measured travel,
interpolated between samples and extrapolated from the last one at the last
measured speed.
"""

from __future__ import annotations

import bisect
from collections import deque


class BeltOdometry:
    def __init__(self, speed: float = 0.0, history: int = 4096) -> None:
        self._t: deque[float] = deque(maxlen=history)
        self._s: deque[float] = deque(maxlen=history)
        self._v: deque[float] = deque(maxlen=history)
        self._speed = speed

    @property
    def speed(self) -> float:
        """The latest known belt speed (m/s)."""
        return self._speed

    def set_speed(self, speed: float, t: float) -> None:
        """Fixed-speed source: the belt runs at ``speed`` from time t on."""
        s = self.travel(t) if self._t else 0.0
        self._append(t, s, speed)

    def add_sample(self, t: float, travel: float, speed: float | None = None) -> None:
        """Encoder source: measured travel (m) at time t; speed from the samples if not given."""
        if self._t and t <= self._t[-1]:
            if t == self._t[-1]:
                return
            raise ValueError(f"encoder sample at {t} is older than the last one ({self._t[-1]})")
        if speed is None:
            speed = (travel - self._s[-1]) / (t - self._t[-1]) if self._t else self._speed
        self._append(t, travel, speed)

    def _append(self, t: float, s: float, v: float) -> None:
        if self._t and t < self._t[-1]:
            t = self._t[-1]
        self._t.append(t)
        self._s.append(s)
        self._v.append(v)
        self._speed = v

    def travel(self, t: float) -> float:
        """Belt travel (m) at time t."""
        if not self._t:
            return self._speed * t
        ts = self._t
        if t >= ts[-1]:
            return self._s[-1] + (t - ts[-1]) * self._v[-1]
        i = bisect.bisect_right(ts, t)
        if i == 0:
            return self._s[0] - (ts[0] - t) * self._v[0]
        t0, t1 = ts[i - 1], ts[i]
        s0, s1 = self._s[i - 1], self._s[i]
        if t1 == t0:
            return s1
        return s0 + (s1 - s0) * (t - t0) / (t1 - t0)

    def time_at_travel(self, s: float, after: float) -> float | None:
        """When travel reaches ``s`` (extrapolating at the current speed), or None if never."""
        s_now = self.travel(after)
        if s <= s_now:
            return after
        if self._speed <= 1e-6:
            return None
        return after + (s - s_now) / self._speed
