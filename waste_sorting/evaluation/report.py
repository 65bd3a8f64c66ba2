"""The end-of-run report of a simulated cell: what it saw, sorted, missed, and how well."""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from waste_sorting.evaluation.accounting import account, match_decisions, print_accounting, tally
from waste_sorting.evaluation.scoring import ExecutedPulse, Score, TruthItem, score
from waste_sorting.protocol.controller import Pulse
from waste_sorting.scheduling.ejection import EjectorGeometry
from waste_sorting.simulation.belt import BeltSimulator


@dataclass
class SimRunReport:
    items_seen: int
    classified: dict[str, int]
    picks_fired: int
    score: Score
    decisions: dict[str, int]
    actuator: dict[str, int]
    latency_ms: dict[str, float | None]
    frames: int
    classifier_frames: int
    classes: list[str]
    accounting: dict[str, Any]
    picks: list[dict[str, Any]]  # each executed pulse: run time (s), bin, item aimed at, duration

    def as_dict(self) -> dict[str, Any]:
        return {"items_seen": self.items_seen, "classified": self.classified, "picks_fired": self.picks_fired,
                "accounting": self.accounting, "picks": self.picks,
                **self.score.summary(), "per_bin": self.score.per_bin, "per_class": self.score.per_class,
                "decisions": self.decisions, "actuator": self.actuator, "latency_ms": self.latency_ms,
                "camera_frames": self.frames, "classifier_frames": self.classifier_frames}


def truth_from_sim(sim: BeltSimulator, t_start: float, t_end: float, step: float = 0.02) -> list[TruthItem]:
    """Trajectories of every item that entered the view during [t_start, t_end] and has passed it."""
    sim.ground_truth(t_end)  # make sure every item up to t_end is spawned
    out = []
    for it in sim.all_items():
        if it.spawn_time < t_start or it.spawn_time > t_end:
            continue
        ts = np.arange(it.spawn_time, t_end + 30.0, step)
        xs = np.array([sim.position(it, t) for t in ts])
        out.append(TruthItem(it.item_id, it.class_id, it.y, it.length, it.width, ts, xs))
    return out


def build_sim_report(sim: BeltSimulator, t0_wall: float, wall_start: float, camera_end: float,
                     pulses: list[Pulse], geometry: EjectorGeometry, classes: list[str],
                     bin_classes: list[str], decisions: Counter, actuator_outcomes: dict[str, int],
                     latencies: np.ndarray, valve_latency: float, classified: dict[str, int], frames: int,
                     classifier_frames: int, decided: list[np.void] | None = None) -> SimRunReport:
    t_end = camera_end - t0_wall
    # Items must have been fully visible while the camera ran: spawned early enough to cross the view.
    view_time = sim.view_length / max(sim.cfg.speed.speed(t_end), 0.1)
    truth = [it for it in truth_from_sim(sim, 0.0, t_end - view_time)]
    executed = [ExecutedPulse(p.ejector, p.valve_first, p.valve_count, p.wall_time - t0_wall, p.duration,
                              p.item_id) for p in pulses]
    result = score(truth, executed, geometry, classes, bin_classes, valve_latency)
    matched = match_decisions(truth, list(decided or []), stamp_offset=t0_wall)
    plant = dataclasses.replace(geometry, latency=valve_latency)
    outcomes = account(truth, matched, result.bins, executed, plant, classes, bin_classes)
    lat = latencies * 1e3
    return SimRunReport(
        items_seen=len(truth), classified=classified, picks_fired=len(pulses), score=result,
        decisions={f"{s}/{r}": n for (s, r), n in sorted(decisions.items())}, actuator=actuator_outcomes,
        latency_ms={"p50": float(np.percentile(lat, 50)) if lat.size else None,
                    "p99": float(np.percentile(lat, 99)) if lat.size else None},
        frames=frames, classifier_frames=classifier_frames, classes=classes, accounting=tally(outcomes, classes),
        picks=[{"t": round(p.t_open, 4), "bin": bin_classes[p.ejector] if p.ejector < len(bin_classes) else p.ejector,
                "item_id": p.item_id, "duration": round(p.duration, 4)}
               for p in sorted(executed, key=lambda p: p.t_open)])


def _f(v: float | None, fmt: str = "{:.3f}") -> str:
    return "n/a" if v is None or (isinstance(v, float) and np.isnan(v)) else fmt.format(v)


def print_sim_report(r: SimRunReport) -> None:
    s = r.score
    print("\n=== waste_sorting: simulated run report ===")
    print(f"camera frames {r.frames}, frames classified {r.classifier_frames}")
    print(f"items seen (ground truth): {r.items_seen}")
    print("tracks classified per class (tracker's fused decision): " +
          ", ".join(f"{k} {v}" for k, v in sorted(r.classified.items())))
    print(f"picks fired (pulses executed by the controller): {r.picks_fired} "
          f"({s.pulses_hit} hit an item, {s.pulses_empty} hit nothing)")
    print_accounting(r.accounting)
    print("decisions: " + ", ".join(f"{k} {v}" for k, v in r.decisions.items()))
    print("actuator: " + ", ".join(f"{k} {v}" for k, v in sorted(r.actuator.items())))
    print(f"{'bin':12s} {'items':>6s} {'purity':>8s}    {'class':12s} {'items':>6s} {'recovery':>9s}")
    bins, cls = list(s.per_bin.items()), list(s.per_class.items())
    for i in range(max(len(bins), len(cls))):
        left = f"{bins[i][0]:12s} {bins[i][1]['items']:6d} {_f(bins[i][1]['purity']):>8s}" if i < len(bins) \
            else " " * 28
        right = f"{cls[i][0]:12s} {cls[i][1]['items']:6d} {_f(cls[i][1]['recovery']):>9s}" if i < len(cls) else ""
        print(f"{left}    {right}")
    print(f"overall purity {_f(s.purity_overall)}, overall recovery {_f(s.recovery_overall)}")
    summ = s.summary()
    print(f"eject timing error |ms| p50 {_f(summ['timing_error_ms']['p50'], '{:.1f}')} "
          f"p99 {_f(summ['timing_error_ms']['p99'], '{:.1f}')}; position error |mm| "
          f"p50 {_f(summ['position_error_mm']['p50'], '{:.1f}')} p99 {_f(summ['position_error_mm']['p99'], '{:.1f}')}")
    print(f"capture-to-pick latency ms p50 {_f(r.latency_ms['p50'], '{:.1f}')} "
          f"p99 {_f(r.latency_ms['p99'], '{:.1f}')}")
