"""`waste-sorting calibrate thresholds`: each bin's confidence floor for a purity target.

The score table is the cell's own: every item the offline cell decided, with
the class and fused confidence the tracker decided on (what
``bin_min_confidence`` is compared with), matched to its ground truth; items
the cell never saw count against recovery. For each bin the lowest floor whose
selection keeps purity at or above the target is chosen: the lowest floor
keeps the most items, so it is the one with the best recovery.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting.itemlist import ItemStatus


@dataclass
class ScoreTable:
    """One row per decided item: predicted class, its confidence, true class (model class indices)."""

    predicted: np.ndarray
    confidence: np.ndarray
    truth: np.ndarray
    truth_counts: np.ndarray  # items of each true class in the bag, seen or not

    def curve(self, c: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(floors, purity, recovery) for class ``c``, for every floor that changes the selection."""
        conf = self.confidence[self.predicted == c]
        right = self.truth[self.predicted == c] == c
        order = np.argsort(-conf)
        conf, right = conf[order], right[order]
        kept = np.arange(1, len(conf) + 1)
        hits = np.cumsum(right)
        total = max(int(self.truth_counts[c]), 1)
        return conf, hits / kept, hits / total


@dataclass
class BinFloor:
    name: str
    floor: float
    purity: float | None
    recovery: float
    reached: bool


def wilson_lower(purity: np.ndarray, kept: np.ndarray, z: float) -> np.ndarray:
    """Lower end of the Wilson interval of a share ``purity`` of ``kept`` items (z=0: the share itself)."""
    if z <= 0:
        return purity
    n = kept.astype(float)
    centre = purity + z * z / (2 * n)
    spread = z * np.sqrt(purity * (1 - purity) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def choose_floors(table: ScoreTable, classes: list[str], bin_classes: list[str], target: float,
                  current: list[float], z: float = 0.0) -> list[BinFloor]:
    """The floor per bin meeting ``target`` purity with the best recovery; where no floor meets it,
    the floor with the best purity (``reached`` False), so the caller can say so. With ``z`` > 0 the
    purity that must meet the target is the Wilson lower bound, not the share measured: a floor
    that 8 lucky items pass is not trusted to hold on the next bag."""
    out = []
    for b, name in enumerate(bin_classes):
        c = classes.index(name)
        floors, purity, recovery = table.curve(c)
        if not len(floors):
            out.append(BinFloor(name, current[b], None, 0.0, False))
            continue
        ok = np.flatnonzero(wilson_lower(purity, np.arange(1, len(purity) + 1), z) >= target)
        if len(ok):
            i = int(ok[-1])  # the most items kept with purity still at target
            out.append(BinFloor(name, float(floors[i]), float(purity[i]), float(recovery[i]), True))
        else:
            i = int(np.argmax(purity))
            out.append(BinFloor(name, float(floors[i]), float(purity[i]), float(recovery[i]), False))
    return out


def table_from_cell(decisions: list[np.void], truth: list[Any], n_classes: int) -> ScoreTable:
    """The score table of an offline run; ``truth`` carries the model's class ids (``cell_truth``)."""
    from waste_sorting.evaluation.accounting import match_decisions

    counts = np.bincount([it.class_id for it in truth if 0 <= it.class_id < n_classes], minlength=n_classes)
    classified = [d for d in decisions
                  if not (int(d["status"]) == ItemStatus.MISSED and not 0 <= int(d["class_id"]) < n_classes)]
    matched = match_decisions(truth, classified)
    rows = [(int(matched[it.item_id]["class_id"]), float(matched[it.item_id]["confidence"]), it.class_id)
            for it in truth if it.item_id in matched]
    arr = np.array(rows, float).reshape(-1, 3)
    return ScoreTable(arr[:, 0].astype(int), arr[:, 1], arr[:, 2].astype(int), counts.astype(np.int64))


def plot_frontier(path: Path, table: ScoreTable, classes: list[str], bin_classes: list[str],
                  floors: list[BinFloor], target: float) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 4.5))
    for name, f in zip(bin_classes, floors, strict=True):
        _, purity, recovery = table.curve(classes.index(name))
        line = ax.plot(recovery, purity, label=name)[0]
        if f.purity is not None:
            ax.plot([f.recovery], [f.purity], "o", color=line.get_color())
    ax.axhline(target, color="k", ls="--", lw=0.8, label=f"target {target:.2f}")
    ax.set_xlabel("recovery (share of the class's items kept)")
    ax.set_ylabel("purity (share of kept items that are the class)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("purity-recovery frontier per bin (dots: chosen floors)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_params(source: Path, out: Path, floors: list[float]) -> None:
    """``source`` with the tracker's ``bin_min_confidence`` replaced (a full params file run/launch take)."""
    import os

    import yaml

    data = yaml.safe_load(source.read_text()) or {}
    key = next((k for k in data if str(k).rstrip("/").split("/")[-1] == "tracker"), "/**/tracker")
    section = data.setdefault(key, {}).setdefault("ros__parameters", {})
    section["bin_min_confidence"] = [round(f, 4) for f in floors]
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(f"# {source} with bin_min_confidence chosen by `waste-sorting calibrate thresholds`\n"
                   + yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, out)
