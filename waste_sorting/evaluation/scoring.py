"""Where did every item really go? Physical scoring of executed pulses against ground truth.

A pulse blows air on ``[t_open + valve_latency, t_open + valve_latency + duration]``
over the lateral span of its valves. An item is ejected into that ejector's
bin when its centre crosses the valve line while the air blows and lies within
the span; the first such pulse wins. Everything else reaches the residue at
the belt's end. This counts collateral ejections too, so purity is honest.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from waste_sorting.scheduling.ejection import EjectorGeometry

RESIDUE = -1


@dataclass
class TruthItem:
    item_id: int
    class_id: int
    y: float
    length: float
    width: float
    t: np.ndarray  # increasing sample times (s)
    x: np.ndarray  # centre along travel at those times (m)

    def x_at(self, t: float) -> float:
        if t <= self.t[0] or t >= self.t[-1]:
            # extrapolate linearly from the nearest pair of samples
            i = 0 if t <= self.t[0] else len(self.t) - 2
            if len(self.t) < 2:
                return float(self.x[0])
            v = (self.x[i + 1] - self.x[i]) / max(self.t[i + 1] - self.t[i], 1e-9)
            ref = i if t <= self.t[0] else i + 1
            return float(self.x[ref] + v * (t - self.t[ref]))
        return float(np.interp(t, self.t, self.x))

    def time_at(self, x: float) -> float | None:
        """When the centre passes x (belt moves forward: x is non-decreasing)."""
        if len(self.t) < 2 or x < self.x[0] - 5 or x > self.x[-1] + 5:
            return None
        if self.x[0] <= x <= self.x[-1]:
            return float(np.interp(x, self.x, self.t))
        i = 0 if x < self.x[0] else len(self.t) - 2
        v = (self.x[i + 1] - self.x[i]) / max(self.t[i + 1] - self.t[i], 1e-9)
        if v <= 0:
            return None
        ref = i if x < self.x[0] else i + 1
        return float(self.t[ref] + (x - self.x[ref]) / v)


@dataclass(frozen=True)
class ExecutedPulse:
    ejector: int
    valve_first: int
    valve_count: int
    t_open: float   # same clock as the ground truth
    duration: float
    item_id: int    # the track id the cell aimed at


@dataclass
class Score:
    bins: dict[int, int]                      # truth item id -> ejector (or RESIDUE)
    timing_error_ms: list[float]              # t_centre_cross - air mid-time, per hitting pulse
    position_error_mm: list[float]            # x(mid-time) - valve line of the pulse's target, per hitting pulse
    pulses_hit: int = 0
    pulses_empty: int = 0
    pulse_speeds: list[float] = field(default_factory=list)  # belt speed at each timing_error_ms entry
    per_bin: dict[str, Any] = field(default_factory=dict)
    per_class: dict[str, Any] = field(default_factory=dict)
    purity_overall: float = float("nan")
    recovery_overall: float = float("nan")
    right: int = 0
    wrong: int = 0
    missed: int = 0
    residue_correct: int = 0

    def summary(self) -> dict[str, Any]:
        def pct(values: list[float], q: float) -> float | None:
            return float(np.percentile(np.abs(values), q)) if values else None

        return {
            "purity": {**{k: v["purity"] for k, v in self.per_bin.items()},
                       "overall": _none_if_nan(self.purity_overall)},
            "recovery": {**{k: v["recovery"] for k, v in self.per_class.items()},
                         "overall": _none_if_nan(self.recovery_overall)},
            "right_bin": self.right, "wrong_bin": self.wrong, "missed": self.missed,
            "residue_correct": self.residue_correct,
            "pulses_hit": self.pulses_hit, "pulses_empty": self.pulses_empty,
            "timing_error_ms": {"p50": pct(self.timing_error_ms, 50), "p99": pct(self.timing_error_ms, 99)},
            "position_error_mm": {"p50": pct(self.position_error_mm, 50),
                                  "p99": pct(self.position_error_mm, 99)},
        }


def _none_if_nan(v: float) -> float | None:
    return None if v != v else v


def nearest_truth(truth: list[TruthItem], stamp: float, x: float, y: float, tol: float = 0.06) -> TruthItem | None:
    """The ground-truth item at belt position (x, y) at ``stamp``, if one is within ``tol`` (m) both ways."""
    if not truth:
        return None
    best = min(truth, key=lambda it: abs(it.x_at(stamp) - x) + abs(it.y - y))
    return best if abs(best.x_at(stamp) - x) < tol and abs(best.y - y) < tol else None


def hits(pulse: ExecutedPulse, item: TruthItem, geom: EjectorGeometry, valve_latency: float) -> bool:
    x_line = geom.x[pulse.ejector]
    if geom.mode == "robot":
        t = pulse.t_open + valve_latency
        return abs(item.x_at(t) - x_line) <= item.length / 2 and \
            abs(item.y - geom.y_center) <= 10  # robots reach the whole belt width
    a = pulse.t_open + valve_latency
    b = a + pulse.duration
    if not item.x_at(a) <= x_line <= item.x_at(b):
        return False
    lo, hi = geom.valve_span(pulse.valve_first, pulse.valve_count)
    return lo <= item.y <= hi


def score(truth: list[TruthItem], pulses: list[ExecutedPulse], geom: EjectorGeometry,
          classes: list[str], bin_classes: list[str], valve_latency: float) -> Score:
    """Assign every truth item to a bin and compute purity/recovery and timing errors."""
    bins: dict[int, int] = {it.item_id: RESIDUE for it in truth}
    first_hit: dict[int, float] = {}
    timing, position, speeds = [], [], []
    n_hit = n_empty = 0
    for p in sorted(pulses, key=lambda p: p.t_open):
        a = p.t_open + valve_latency
        mid = a + p.duration / 2
        hit = [it for it in truth if hits(p, it, geom, valve_latency)]
        for it in hit:  # every item the air caught lands in this bin, the target and any neighbour
            if it.item_id not in first_hit or a < first_hit[it.item_id]:
                first_hit[it.item_id] = a
                bins[it.item_id] = p.ejector
        if hit:
            # Aim is judged on the item the pulse was centred on (the nearest the valve line at mid-pulse),
            # not on a neighbour it also caught: that one was never the target.
            target = min(hit, key=lambda it: abs(it.x_at(mid) - geom.x[p.ejector]))
            t_cross = target.time_at(geom.x[p.ejector])
            if t_cross is not None:
                timing.append((t_cross - mid) * 1e3)
                speeds.append((target.x_at(t_cross + 0.01) - target.x_at(t_cross - 0.01)) / 0.02)
            position.append((target.x_at(mid) - geom.x[p.ejector]) * 1e3)
        n_hit += bool(hit)
        n_empty += not hit
    result = Score(bins, timing, position, n_hit, n_empty, pulse_speeds=speeds)
    _tally(result, truth, classes, bin_classes)
    return result


def _tally(result: Score, truth: list[TruthItem], classes: list[str], bin_classes: list[str]) -> None:
    in_bin: dict[int, Counter] = {e: Counter() for e in range(len(bin_classes))}
    by_class: dict[int, Counter] = {c: Counter() for c in range(len(classes))}
    for it in truth:
        b = result.bins[it.item_id]
        by_class.setdefault(it.class_id, Counter())[b] += 1
        if b != RESIDUE:
            in_bin.setdefault(b, Counter())[it.class_id] += 1
        target = bin_classes.index(classes[it.class_id]) if 0 <= it.class_id < len(classes) and \
            classes[it.class_id] in bin_classes else RESIDUE
        if target == RESIDUE:
            if b == RESIDUE:
                result.residue_correct += 1
            else:
                result.wrong += 1
        elif b == target:
            result.right += 1
        elif b == RESIDUE:
            result.missed += 1
        else:
            result.wrong += 1
    total_in = correct_in = 0
    for e, counter in in_bin.items():
        name = bin_classes[e] if e < len(bin_classes) else f"ejector{e}"
        want = classes.index(name) if name in classes else None
        n = sum(counter.values())
        ok = counter.get(want, 0) if want is not None else 0
        total_in += n
        correct_in += ok
        result.per_bin[name] = {"items": n, "correct": ok, "purity": ok / n if n else None}
    result.purity_overall = correct_in / total_in if total_in else float("nan")
    total_s = got_s = 0
    for c, counter in by_class.items():
        name = classes[c] if 0 <= c < len(classes) else str(c)
        n = sum(counter.values())
        if name not in bin_classes:
            continue
        target = bin_classes.index(name)
        got = counter.get(target, 0)
        total_s += n
        got_s += got
        result.per_class[name] = {"items": n, "recovered": got, "recovery": got / n if n else None}
    result.recovery_overall = got_s / total_s if total_s else float("nan")
