"""`waste-sorting harvest`: the crops worth labelling, from a line's own bags.

The bag runs through the same offline cell as ``evaluate`` (detector with its
classification budget, tracker); every classification the detector makes is
kept with the track the tracker gave that detection, so an item's crops are
exactly what the classifier saw of it. Items are then ranked for labelling:
disputed (its sightings disagree) first, then least confident.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from waste_sorting.bags.io import bag_name
from waste_sorting.cell import Detected
from waste_sorting.errors import BagError
from waste_sorting.evaluation.offline import BagLog, bag_events, build_cell, cell_truth
from waste_sorting.evaluation.scoring import nearest_truth
from waste_sorting.inference.preprocess import crop_square, square_box

CONTEXT_MARGIN = 2.2   # the context crop's side, in item extents: enough belt around it to judge
CONTEXT_PX = 192


@dataclass
class Sighting:
    stamp: float
    x: float
    y: float
    probs: np.ndarray    # the classifier's distribution for this crop
    crop: np.ndarray     # S x S x 3 BGR, exactly as classified
    context: np.ndarray  # the same place with more belt around it, for a person


@dataclass
class HarvestedItem:
    bag: str
    item_id: int
    sightings: list[Sighting] = field(default_factory=list)
    truth: str | None = None  # ground-truth class name, where the bag has it

    @property
    def key(self) -> str:
        return f"{self.bag}-{self.item_id:05d}"

    @property
    def mean_probs(self) -> np.ndarray:
        return np.mean([s.probs for s in self.sightings], axis=0)

    def top2(self) -> tuple[int, float, int, float]:
        p = self.mean_probs
        order = np.argsort(-p)
        second = int(order[1]) if len(order) > 1 else -1
        return int(order[0]), float(p[order[0]]), second, float(p[second]) if second >= 0 else 0.0

    @property
    def disputed(self) -> bool:
        """Its sightings do not agree on the class."""
        return len({int(np.argmax(s.probs)) for s in self.sightings}) > 1


def _context(image: np.ndarray, blob: object) -> np.ndarray:
    left, top, side = square_box(blob.x0, blob.y0, blob.x1, blob.y1, CONTEXT_MARGIN)  # type: ignore[attr-defined]
    return crop_square(image, left, top, side, CONTEXT_PX)


def harvest_bag(bag: Path, params_file: Path, model: Path | None, topics: dict[str, str] | None = None,
                progress: bool = True) -> tuple[list[HarvestedItem], list[str]]:
    """Every tracked item of ``bag`` that was classified at least once, and the model's classes."""
    cell, _ = build_cell(params_file, model)
    classes = cell.classes
    log = BagLog()
    items: dict[int, HarvestedItem] = {}
    name = bag_name(bag)
    for event in bag_events(bag, cell.detect, log, keep_crops=True, progress=f"harvest {name}" if progress else None,
                            **(topics or {})):
        if not isinstance(event, Detected):
            cell.on_encoder(event.stamp, event.names, event.position, event.velocity)
            continue
        res = event.result
        ids = cell.on_detections(res.records, event.stamp)
        if res.crops is None or res.probs is None:
            continue
        for k, i in enumerate(np.flatnonzero(res.classified)):
            track = int(ids[i])
            if track < 0:
                continue
            rec = res.records[i]
            item = items.setdefault(track, HarvestedItem(name, track))
            item.sightings.append(Sighting(event.stamp, float(rec["x"]), float(rec["y"]), res.probs[k].copy(),
                                           res.crops[k], _context(event.image, res.blobs[i])))
    truth = cell_truth(bag, log, cell)  # class ids of the model, mapped by name
    for item in items.values():
        first = item.sightings[0]
        hit = nearest_truth(truth, first.stamp, first.x, first.y)
        if hit is not None and 0 <= hit.class_id < len(classes):
            item.truth = classes[hit.class_id]
    return list(items.values()), classes


def usefulness_order(items: Sequence[HarvestedItem]) -> list[HarvestedItem]:
    """Most worth a label first: disputed items, then the least confident, then the least separated."""
    def key(it: HarvestedItem) -> tuple[bool, float, float]:
        _c, conf, _c2, conf2 = it.top2()
        return (not it.disputed, conf, conf - conf2)

    return sorted(items, key=key)


def select(items: Sequence[HarvestedItem], budget: int, label_of: dict[str, str]) -> list[HarvestedItem]:
    """At most ``budget`` items (0: all), most useful first, taken in turn from each label so that
    every class gets its share while it has items; ``label_of`` maps an item's key to its label."""
    by_label: dict[str, list[HarvestedItem]] = defaultdict(list)
    for it in usefulness_order(items):
        by_label[label_of[it.key]].append(it)
    if budget <= 0:
        budget = len(items)
    queues = [by_label[k] for k in sorted(by_label)]
    chosen: list[HarvestedItem] = []
    depth = 0
    while len(chosen) < budget and any(depth < len(q) for q in queues):
        for q in queues:
            if depth < len(q) and len(chosen) < budget:
                chosen.append(q[depth])
        depth += 1
    return chosen


def pick_sightings(item: HarvestedItem, per_item: int) -> list[Sighting]:
    """Up to ``per_item`` of an item's sightings, spread over its pass through the view."""
    n = len(item.sightings)
    if per_item <= 0 or n <= per_item:
        return list(item.sightings)
    return [item.sightings[int(i)] for i in np.linspace(0, n - 1, per_item).round().astype(int)]


def check_bags(bags: Sequence[Path]) -> None:
    names = [bag_name(b) for b in bags]
    for b in bags:
        if not b.exists():
            raise BagError(f"{b}: no such bag (give a rosbag2 folder, or a .mcap or .db3 file)")
    if len(set(names)) != len(names):
        raise BagError(f"two bags share a name ({', '.join(names)}); an item is named after its bag, "
                       "so rename one")
