"""Labelled image folders (one sub-folder per class) and the fixed split.

The split is a pure function of the file names and the seed, so training, the
simulator and the evaluator agree on which images the model never saw.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff"})
DEFAULT_CLASSES = ("cardboard", "glass", "metal", "paper", "plastic", "trash")
DEFAULT_SPLIT_SEED = 42
DEFAULT_HOLDOUT_FRACTION = 0.2


@dataclass(frozen=True)
class LabelledImage:
    path: Path
    label: int


def is_image_file(path: Path) -> bool:
    return path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES


def discover_classes(root: Path) -> list[str]:
    """Class names are the sub-folder names that hold at least one image, sorted."""
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    classes = sorted(
        d.name for d in root.iterdir() if d.is_dir() and any(is_image_file(p) for p in d.iterdir())
    )
    if not classes:
        raise ValueError(f"{root} has no class sub-folders with images")
    return classes


def list_images(root: Path, classes: list[str] | tuple[str, ...] | None = None) -> list[LabelledImage]:
    """Every image under ``root/<class>/``, labelled by its class index, in name order."""
    names = list(classes) if classes is not None else discover_classes(root)
    items: list[LabelledImage] = []
    for idx, name in enumerate(names):
        folder = root / name
        if not folder.is_dir():
            continue
        for p in sorted(folder.iterdir()):
            if is_image_file(p):
                items.append(LabelledImage(p, idx))
    return items


def split_images(
    items: list[LabelledImage],
    holdout_fraction: float = DEFAULT_HOLDOUT_FRACTION,
    seed: int = DEFAULT_SPLIT_SEED,
) -> tuple[list[LabelledImage], list[LabelledImage]]:
    """Stratified (train, holdout) split; depends only on file names and the seed."""
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError("holdout_fraction must be in (0, 1)")
    train: list[LabelledImage] = []
    holdout: list[LabelledImage] = []
    for label in sorted({it.label for it in items}):
        group = sorted((it for it in items if it.label == label), key=lambda it: it.path.name)
        rng = np.random.default_rng(seed + label)
        order = rng.permutation(len(group))
        n_hold = max(1, round(len(group) * holdout_fraction))
        hold_idx = set(order[:n_hold].tolist())
        for i, it in enumerate(group):
            (holdout if i in hold_idx else train).append(it)
    return train, holdout


def fingerprint(items: list[LabelledImage]) -> str:
    """A short hash of the file list (class/name/size): identifies the training data."""
    h = hashlib.sha256()
    for it in sorted(items, key=lambda i: (i.label, i.path.name)):
        h.update(f"{it.path.parent.name}/{it.path.name}:{it.path.stat().st_size}\n".encode())
    return h.hexdigest()[:16]
