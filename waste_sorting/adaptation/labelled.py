"""The labelled-crops folder: what `harvest` writes, a person corrects, and `adapt` reads.

Layout::

    DIR/<class>/<bag>-<item>-<k>.png   crops exactly as the classifier saw them
    DIR/unsure/...                     the least certain (predicted labels): a person files them
    DIR/_review/context/...jpg         the same crops with belt around them, to judge by
    DIR/_review/<class>.png            a contact sheet per folder, each crop with its confidence
    DIR/manifest.csv                   one row per crop: bag, item, stamp, position, prediction, truth

A person corrects labels by moving files between class folders; the folder a
crop lies in is its label. One item's crops always share a folder, and an item
already in the manifest is never written again (harvesting more bags adds to it).
"""

from __future__ import annotations

import csv
import os
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from waste_sorting.adaptation.harvest import HarvestedItem, pick_sightings
from waste_sorting.errors import DataError
from waste_sorting.evaluation.scoring import TruthItem

MANIFEST = "manifest.csv"
UNSURE = "unsure"
REVIEW = "_review"
FIELDS = ("file", "bag", "item_id", "stamp", "x", "y", "predicted", "confidence", "runner_up",
          "runner_up_confidence", "disputed", "truth", "folder")
SHEET_COLUMNS, SHEET_MAX = 10, 100


def item_key_of(path: Path) -> str:
    """``<bag>-<item>`` of a crop file ``<bag>-<item>-<k>.png``: the unit a holdout must keep whole."""
    return path.stem.rsplit("-", 1)[0]


def existing_keys(root: Path) -> set[str]:
    if not (root / MANIFEST).is_file():
        return set()
    with (root / MANIFEST).open(newline="") as f:
        return {f"{row['bag']}-{int(row['item_id']):05d}" for row in csv.DictReader(f)}


def write_harvest(root: Path, items: Sequence[HarvestedItem], classes: Sequence[str], labels: str,
                  per_item: int, unsure_below: float) -> Counter:
    """Write ``items`` under ``root`` (created, or added to); returns crops written per folder."""
    if labels == "truth" and any(it.truth is None for it in items):
        missing = sum(it.truth is None for it in items)
        raise DataError(f"{missing} of {len(items)} items have no ground truth in their bag; "
                        "use --labels predicted for a recorded line")
    root.mkdir(parents=True, exist_ok=True)
    known = existing_keys(root)
    rows, written = [], Counter()
    for item in items:
        if item.key in known:
            continue
        known.add(item.key)
        c, conf, c2, conf2 = item.top2()
        predicted = classes[c]
        if labels == "truth":
            folder = str(item.truth)
        else:
            folder = UNSURE if conf < unsure_below else predicted
        for k, s in enumerate(pick_sightings(item, per_item)):
            name = f"{item.key}-{k}"
            _write_image(root / folder / f"{name}.png", s.crop)
            _write_image(root / REVIEW / "context" / f"{name}.jpg", s.context)
            rows.append({"file": f"{folder}/{name}.png", "bag": item.bag, "item_id": item.item_id,
                         "stamp": f"{s.stamp:.6f}", "x": f"{s.x:.4f}", "y": f"{s.y:.4f}", "predicted": predicted,
                         "confidence": f"{conf:.4f}", "runner_up": classes[c2] if c2 >= 0 else "",
                         "runner_up_confidence": f"{conf2:.4f}", "disputed": int(item.disputed),
                         "truth": item.truth or "", "folder": folder})
            written[folder] += 1
    _append_manifest(root / MANIFEST, rows)
    write_sheets(root)
    return written


def write_sheets(root: Path) -> None:
    """A contact sheet per folder, of what lies in it now (after a person moved files, too)."""
    with (root / MANIFEST).open(newline="") as f:
        caption = {Path(r["file"]).name: f"{r['predicted'][:5]} {float(r['confidence']):.2f}"
                   for r in csv.DictReader(f)}
    for folder in sorted(p for p in root.iterdir() if p.is_dir() and p.name != REVIEW):
        firsts = sorted(folder.glob("*-0.png"))
        crops = [(img, caption.get(f.name, "")) for f in firsts[:SHEET_MAX]
                 if (img := cv2.imread(str(f), cv2.IMREAD_COLOR)) is not None]
        if crops:
            _write_image(root / REVIEW / f"{folder.name}.png", contact_sheet(crops))


def _write_image(path: Path, image: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    ok, data = cv2.imencode(path.suffix, image)
    if not ok:
        raise DataError(f"could not encode {path.name}")
    tmp = path.with_name(path.name + ".part")
    tmp.write_bytes(data.tobytes())
    os.replace(tmp, path)


def _append_manifest(path: Path, rows: list[dict[str, object]]) -> None:
    """The manifest with ``rows`` added, replaced in one step (a failed harvest leaves the old one)."""
    old = path.read_text() if path.is_file() else ""
    tmp = path.with_name(path.name + ".part")
    with tmp.open("w", newline="") as f:
        if old:
            f.write(old)
        writer = csv.DictWriter(f, FIELDS)
        if not old:
            writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def contact_sheet(crops: Sequence[tuple[np.ndarray, str]], cell: int = 112) -> np.ndarray:
    """A grid of crops, each captioned (class and confidence), for a person to scan a folder."""
    crops = list(crops)[:SHEET_MAX]
    rows = max(1, -(-len(crops) // SHEET_COLUMNS))
    sheet = np.full((rows * (cell + 18), SHEET_COLUMNS * cell, 3), 255, np.uint8)
    for i, (crop, caption) in enumerate(crops):
        r, c = divmod(i, SHEET_COLUMNS)
        y, x = r * (cell + 18), c * cell
        sheet[y:y + cell, x:x + cell] = cv2.resize(crop, (cell, cell), interpolation=cv2.INTER_AREA)
        cv2.putText(sheet, caption, (x + 3, y + cell + 13), cv2.FONT_HERSHEY_SIMPLEX, 0.4, (0, 0, 0), 1,
                    cv2.LINE_AA)
    return sheet


@dataclass(frozen=True)
class LabelledCrop:
    path: Path
    label: int      # index into the model's classes
    item_key: str   # crops of one item share it


def read_labelled(root: Path, classes: Sequence[str]) -> tuple[list[LabelledCrop], dict[str, int]]:
    """Every labelled crop under ``root`` (the folder a crop lies in is its label); ``unsure/`` and
    ``_review/`` are skipped and counted. Refuses a folder that is not one of ``classes``."""
    if not root.is_dir():
        raise DataError(f"{root}: no such folder (harvest one with `waste-sorting harvest`)")
    crops: list[LabelledCrop] = []
    skipped: dict[str, int] = {}
    for sub in sorted(p for p in root.iterdir() if p.is_dir()):
        files = sorted(f for f in sub.iterdir() if f.suffix.lower() in (".png", ".jpg", ".jpeg"))
        if sub.name in (UNSURE, REVIEW):
            skipped[sub.name] = len(files)
            continue
        if sub.name not in classes:
            raise DataError(f"{root}: folder {sub.name!r} is not a class of the model; "
                            f"it knows {', '.join(classes)} (move or rename it)")
        label = list(classes).index(sub.name)
        crops += [LabelledCrop(f, label, item_key_of(f)) for f in files]
    if not crops:
        raise DataError(f"{root}: no labelled crops in any class folder ({', '.join(classes)})")
    return crops, skipped


def labelled_truth(root: Path, bag: str, classes: Sequence[str]) -> tuple[list[TruthItem], int]:
    """The labelled items of ``bag`` as ground truth (its class is the folder its crops lie in now; its
    path the belt positions its crops were seen at), for scoring a recorded bag that has no ground
    truth of its own. Returns the items and how many labelled items had too few sightings to follow."""
    crops, _ = read_labelled(root, classes)
    label_of = {c.path.name: c.label for c in crops}
    if not (root / MANIFEST).is_file():
        raise DataError(f"{root}: no {MANIFEST} (the folder must come from `waste-sorting harvest`)")
    with (root / MANIFEST).open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if r["bag"] == bag and Path(r["file"]).name in label_of]
    by_item: dict[int, list[dict[str, str]]] = {}
    for r in rows:
        by_item.setdefault(int(r["item_id"]), []).append(r)
    out, short = [], 0
    for item_id, item_rows in sorted(by_item.items()):
        item_rows.sort(key=lambda r: float(r["stamp"]))
        labels = {label_of[Path(r["file"]).name] for r in item_rows}
        if len(item_rows) < 2 or len(labels) != 1:  # one sighting gives no path; split crops no one label
            short += 1
            continue
        t = np.array([float(r["stamp"]) for r in item_rows])
        x = np.array([float(r["x"]) for r in item_rows])
        out.append(TruthItem(item_id, labels.pop(), float(np.mean([float(r["y"]) for r in item_rows])), 0.0, 0.0,
                             t, x))
    return out, short
