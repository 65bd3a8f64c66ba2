"""Where every item went and why: one outcome per ground-truth item, for `run`'s report and `evaluate`.

Outcomes add up to the items seen:

- ``sorted``: in its class's bin;
- ``wrong_bin``: in another bin (classified wrong, or caught by a neighbour's pulse);
- ``left``: its class has no bin and it stayed on the belt, as it should;
- ``passed``: the tracker let it pass on purpose (too little confidence, or taken for a binless class);
- ``missed``: it should have been sorted and was not, with the reason (not detected, too late, a
  refused command, a pulse that missed, ...).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from waste_sorting.evaluation.scoring import RESIDUE, ExecutedPulse, TruthItem, hits, nearest_truth
from waste_sorting.itemlist import ItemStatus, MissReason
from waste_sorting.scheduling.ejection import EjectorGeometry

OUTCOMES = ("sorted", "wrong_bin", "left", "passed", "missed")


@dataclass(frozen=True)
class ItemOutcome:
    item_id: int
    name: str      # its true class
    outcome: str   # one of OUTCOMES
    reason: str    # why, for wrong_bin, passed and missed


def outcome_of(it: TruthItem, decision: np.void | None, got: int, classes: list[str], bin_classes: list[str],
               fired_reason: str | None = None, pulse_missed: bool | None = None) -> ItemOutcome:
    """The outcome of one truth item from the tracker's decision on it (None: never tracked), the bin
    the physics put it in (RESIDUE: the belt's end), and, where known, what became of its command."""
    n = len(classes)
    name = classes[it.class_id] if 0 <= it.class_id < n else str(it.class_id)
    target = bin_classes.index(name) if name in bin_classes else RESIDUE
    predicted = int(decision["class_id"]) if decision is not None else -1
    taken_for = classes[predicted] if 0 <= predicted < n else None
    if got == target:
        return ItemOutcome(it.item_id, name, "sorted" if target != RESIDUE else "left",
                           "" if target != RESIDUE else "no bin for its class")
    if got != RESIDUE:
        why = "wrong class" if decision is not None and predicted != it.class_id else "hit by a neighbour's pulse"
        return ItemOutcome(it.item_id, name, "wrong_bin", f"ended in the {bin_classes[got]} bin ({why})")
    if decision is None:
        return ItemOutcome(it.item_id, name, "missed", "not detected")
    status, why = int(decision["status"]), MissReason(int(decision["reason"]))
    if status == ItemStatus.PASSED:
        reason = why.name.lower().replace("_", " ")
        if taken_for is not None:
            reason += f" (classified as {taken_for})"
        return ItemOutcome(it.item_id, name, "passed", reason)
    if status == ItemStatus.MISSED:
        return ItemOutcome(it.item_id, name, "missed", why.name.lower().replace("_", " "))
    if taken_for is not None and taken_for != name:
        return ItemOutcome(it.item_id, name, "missed", f"classified as {taken_for}")
    if fired_reason is not None:
        return ItemOutcome(it.item_id, name, "missed", fired_reason)
    if pulse_missed is None:
        return ItemOutcome(it.item_id, name, "missed", "not ejected")
    return ItemOutcome(it.item_id, name, "missed", "pulse missed the item" if pulse_missed else "not ejected")


def match_decisions(truth: list[TruthItem], decisions: list[np.void], stamp_offset: float = 0.0
                    ) -> dict[int, np.void]:
    """Each truth item's decision: the first decided record at its position (``stamp - stamp_offset``
    is the truth's clock)."""
    matched: dict[int, np.void] = {}
    for d in decisions:
        best = nearest_truth(truth, float(d["stamp"]) - stamp_offset, float(d["x"]), float(d["y"]))
        if best is not None:
            matched.setdefault(best.item_id, d)
    return matched


def account(truth: list[TruthItem], matched: dict[int, np.void], bins: dict[int, int],
            pulses: list[ExecutedPulse], geom: EjectorGeometry, classes: list[str], bin_classes: list[str],
            refused: dict[int, str] | None = None) -> list[ItemOutcome]:
    """Every truth item's outcome: ``matched`` its decision, ``bins`` where the physics put it, ``pulses``
    what the controller executed (``geom`` the plant's), ``refused`` track id -> why its command failed."""
    first_pulse: dict[int, ExecutedPulse] = {}
    for p in pulses:
        first_pulse.setdefault(p.item_id, p)
    out = []
    for it in truth:
        d = matched.get(it.item_id)
        track = int(d["item_id"]) if d is not None else None
        pulse = first_pulse.get(track) if track is not None else None
        missed_pulse = None if pulse is None else not hits(pulse, it, geom, geom.latency)
        out.append(outcome_of(it, d, bins[it.item_id], classes, bin_classes,
                              (refused or {}).get(track) if track is not None else None, missed_pulse))
    return out


def _kind_of(o: ItemOutcome) -> str:
    """The reason without the item's particulars: 'wrong class', 'low confidence', 'too late', ..."""
    if o.outcome == "wrong_bin":
        return o.reason.rsplit("(", 1)[-1].rstrip(")")
    return o.reason.split(" (")[0]


def tally(outcomes: list[ItemOutcome], classes: list[str]) -> dict[str, Any]:
    """Counts per outcome, per reason, and per class (every class, binless ones too)."""
    per_class = {c: dict.fromkeys(OUTCOMES, 0) for c in classes}
    for o in outcomes:
        per_class.setdefault(o.name, dict.fromkeys(OUTCOMES, 0))[o.outcome] += 1
    return {"items": len(outcomes), "outcomes": dict(Counter(o.outcome for o in outcomes)),
            "reasons": {k: dict(Counter(_kind_of(o) for o in outcomes if o.outcome == k))
                        for k in ("wrong_bin", "passed", "missed")},
            "per_class": per_class}


def print_accounting(t: dict[str, Any]) -> None:
    c = t["outcomes"]
    print(f"items seen {t['items']}: sorted {c.get('sorted', 0)}, wrong bin {c.get('wrong_bin', 0)}, "
          f"left on the belt (no bin for their class) {c.get('left', 0)}, passed on purpose {c.get('passed', 0)}, "
          f"missed {c.get('missed', 0)}")
    for kind, label in (("passed", "passed"), ("missed", "missed"), ("wrong_bin", "wrong bin")):
        for reason, n in sorted(t["reasons"][kind].items(), key=lambda kv: -kv[1]):
            print(f"  {label:9s} {n:4d}  {reason}")
    print(f"{'class':12s} {'items':>6s} {'sorted':>7s} {'wrong':>6s} {'left':>5s} {'passed':>7s} {'missed':>7s}")
    for name, row in t["per_class"].items():
        total = sum(row.values())
        print(f"{name:12s} {total:6d} {row['sorted']:7d} {row['wrong_bin']:6d} {row['left']:5d} "
              f"{row['passed']:7d} {row['missed']:7d}")
