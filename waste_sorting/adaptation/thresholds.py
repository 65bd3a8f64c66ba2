"""`waste-sorting calibrate thresholds`: each bin's confidence floor for a purity target.

The score table is the cell's own: every item the offline cell decided, with
the class and fused confidence the tracker decided on (what
``bin_min_confidence`` is compared with), matched to its ground truth; items
the cell never saw count against recovery. For each bin the lowest floor whose
selection keeps purity at or above the target is chosen: the lowest floor
keeps the most items, so it is the one with the best recovery. A bin that is
below the target at every floor is closed (floor 1: its items pass to the
residue), so the bins that do sort keep the purity asked for;
``unreachable="best"`` sorts it at the floor the data supports best instead.

First a temperature is fitted to the labelled sightings, so that a
confidence of 0.8 is right about 8 times in 10 on this line; the floors are
then chosen on the confidences the classifier gives at that temperature.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting.evaluation.scoring import nearest_truth
from waste_sorting.inference.classifier import softmax
from waste_sorting.itemlist import ItemStatus
from waste_sorting.tracking.tracker import CLOSED_FLOOR


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


UNREACHABLE = ("close", "best")  # what a bin that cannot keep the target gets


@dataclass
class BinFloor:
    """One bin's floor; where the target is out of reach, ``purity``, ``recovery`` and ``kept`` describe
    the best the data supports (at ``best_floor``), and ``floor`` is that or ``CLOSED_FLOOR``."""

    name: str
    floor: float
    purity: float | None
    recovery: float
    reached: bool
    kept: int = 0   # decided items at or above the floor
    best_floor: float | None = None  # out of reach: the floor the data supports best

    @property
    def closed(self) -> bool:
        return self.floor >= CLOSED_FLOOR


def wilson_lower(purity: np.ndarray, kept: np.ndarray, z: float) -> np.ndarray:
    """Lower end of the Wilson interval of a share ``purity`` of ``kept`` items (z=0: the share itself)."""
    if z <= 0:
        return purity
    n = kept.astype(float)
    centre = purity + z * z / (2 * n)
    spread = z * np.sqrt(purity * (1 - purity) / n + z * z / (4 * n * n))
    return (centre - spread) / (1 + z * z / n)


def choose_floors(table: ScoreTable, classes: list[str], bin_classes: list[str], target: float,
                  current: list[float], z: float = 0.0, unreachable: str = "close") -> list[BinFloor]:
    """The floor per bin meeting ``target`` purity with the best recovery. With ``z`` > 0 the purity that
    must meet the target is the Wilson lower bound, not the share measured: a floor that 8 lucky items
    pass is not trusted to hold on the next bag. Where no floor meets it (``reached`` False), the bin
    gets the floor whose purity the data supports best (highest Wilson lower bound) if the share
    measured there is at the target (too few items to trust, not too many wrong); if even that share
    is below the target, the bin is closed (``unreachable="best"``: sorted there all the same)."""
    if unreachable not in UNREACHABLE:
        raise ValueError(f"unreachable must be one of {UNREACHABLE}")
    out = []
    for b, name in enumerate(bin_classes):
        c = classes.index(name)
        floors, purity, recovery = table.curve(c)
        if not len(floors):  # nothing decided for it: no evidence that it keeps the target
            out.append(BinFloor(name, CLOSED_FLOOR if unreachable == "close" else current[b], None, 0.0, False))
            continue
        kept = np.arange(1, len(purity) + 1)
        ok = np.flatnonzero(wilson_lower(purity, kept, z) >= target)
        if len(ok):
            i = int(ok[-1])  # the most items kept with purity still at target
            out.append(BinFloor(name, float(floors[i]), float(purity[i]), float(recovery[i]), True, i + 1))
        else:
            # The purity best supported by the data (Wilson lower bound), not the share of a lucky few:
            # 10 right of 10 beats 1 of 1.
            i = int(np.argmax(wilson_lower(purity, kept, max(z, 1.28))))
            best = float(floors[i])
            # At target there but on too few items to trust: sorted there, and said so. Below it: closed.
            below = purity[i] < target and unreachable == "close"
            out.append(BinFloor(name, CLOSED_FLOOR if below else best, float(purity[i]),
                                float(recovery[i]), False, i + 1, best))
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
        if f.purity is not None:  # a closed bin: a cross at the best it could do
            ax.plot([f.recovery], [f.purity], "x" if f.closed else "o", color=line.get_color())
    ax.axhline(target, color="k", ls="--", lw=0.8, label=f"target {target:.2f}")
    ax.set_xlabel("recovery (share of the class's items kept)")
    ax.set_ylabel("purity (share of kept items that are the class)")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("purity-recovery frontier per bin (dots: chosen floors; x: closed bins' best)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


TEMPERATURE_RANGE = (0.05, 20.0)  # the classifier parameter's range


def tempered(probs: np.ndarray, temperature: float) -> np.ndarray:
    """softmax(logits / T) from softmax(logits): log p differs from the logits by a constant per row."""
    return softmax(np.log(np.clip(probs, 1e-12, 1.0)) / temperature)


def labelled_sightings(sightings: list[tuple[float, float, float, np.ndarray]], truth: list[Any]
                       ) -> tuple[np.ndarray, np.ndarray]:
    """(distributions, true classes) of the classifications (``BagLog.sightings``) that fall on a
    truth item of a class the model has."""
    rows = [(p, hit.class_id) for stamp, x, y, p in sightings
            if (hit := nearest_truth(truth, stamp, x, y)) is not None and 0 <= hit.class_id < len(p)]
    return np.array([p for p, _ in rows]).reshape(len(rows), -1), np.array([c for _, c in rows], int)


def nll(probs: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.clip(probs[np.arange(len(labels)), labels], 1e-12, 1.0)).mean())


def calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error: how far, on average over sightings, confidence is from accuracy."""
    conf, right = probs.max(1), probs.argmax(1) == labels
    edges = np.minimum((conf * bins).astype(int), bins - 1)
    return float(sum(abs(conf[edges == b].mean() - right[edges == b].mean()) * np.mean(edges == b)
                     for b in range(bins) if np.any(edges == b)))


def fit_temperature(probs: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising the negative log-likelihood of the labelled sightings (Guo et al.,
    "On calibration of modern neural networks"), ``probs`` taken at temperature 1: a grid over log T,
    then golden-section search around its best point."""
    lo, hi = np.log(TEMPERATURE_RANGE[0]), np.log(TEMPERATURE_RANGE[1])
    grid = np.linspace(lo, hi, 121)
    losses = [nll(tempered(probs, float(np.exp(g))), labels) for g in grid]
    k = int(np.argmin(losses))
    a, b = grid[max(k - 1, 0)], grid[min(k + 1, len(grid) - 1)]
    ratio = (np.sqrt(5) - 1) / 2
    for _ in range(40):
        c, d = b - ratio * (b - a), a + ratio * (b - a)
        if nll(tempered(probs, float(np.exp(c))), labels) < nll(tempered(probs, float(np.exp(d))), labels):
            b = d
        else:
            a = c
    return float(np.exp((a + b) / 2))


def write_params(source: Path, out: Path, floors: list[float], temperature: float | None = None) -> None:
    """``source`` with the tracker's ``bin_min_confidence`` (and the classifier's ``temperature``) replaced:
    a full params file that run and launch take."""
    import os

    import yaml

    data = yaml.safe_load(source.read_text()) or {}

    def section(node: str) -> dict[str, Any]:
        key = next((k for k in data if str(k).rstrip("/").split("/")[-1] == node), f"/**/{node}")
        return data.setdefault(key, {}).setdefault("ros__parameters", {})

    section("tracker")["bin_min_confidence"] = [round(f, 4) for f in floors]
    if temperature is not None:
        section("classifier")["temperature"] = round(temperature, 4)
    tmp = out.with_name(out.name + ".part")
    tmp.write_text(f"# {source} with bin_min_confidence" + (" and temperature" if temperature is not None else "")
                   + " chosen by `waste-sorting calibrate thresholds`\n" + yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, out)
