"""`waste-sorting check-backgrounds`: the holdout items cut out and pasted on several backgrounds.

A model that learnt materials scores about the same on each; one that learnt
TrashNet's boards and light falls on the backgrounds its classes were not shot
on. Every view is the cell's framing (square 1.25x the item), the same seed
for every model, so two models' tables compare item for item.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from waste_sorting.data.folders import DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED
from waste_sorting.errors import DataError
from waste_sorting.inference.classifier import ImageClassifier
from waste_sorting.model.augment import BELT_HOLDOUT_VIEW, augment
from waste_sorting.model.backgrounds import CHECK_BACKGROUNDS
from waste_sorting.model.dataset import preload


def background_table(model: Path, data: Path, backgrounds: tuple[str, ...] = CHECK_BACKGROUNDS,
                     seed: int = 0, limit: int = 0) -> dict[str, float]:
    """Top-1 of ``model`` on the holdout items of ``data`` pasted on each background."""
    from waste_sorting.model.train import split_folder

    clf = ImageClassifier(model, backend="onnxruntime")
    classes, _train, hold = split_folder(data, DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED, limit)
    if classes != clf.classes:
        raise DataError(f"{data} has classes {classes}; {model} knows {clf.classes}")
    held = preload(hold)
    table = {}
    for name in backgrounds:
        cfg = dataclasses.replace(BELT_HOLDOUT_VIEW, backgrounds=name)
        views = np.stack([augment(img, mask, clf.input_size, np.random.default_rng((seed, i)), cfg)
                          for i, (img, mask) in enumerate(zip(held.images, held.masks, strict=True))])
        table[name] = float((clf.classify_crops(views).argmax(1) == held.labels).mean())
        print(f"  {name:8s} top-1 {table[name]:.3f} ({len(held.labels)} holdout items)", flush=True)
    spread = max(table.values()) - min(table.values())
    print(f"spread (best - worst background): {spread:.3f}")
    return table
