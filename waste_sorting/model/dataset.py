"""Preloaded, cached training images with their item masks."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from waste_sorting.data.folders import LabelledImage
from waste_sorting.data.photos import PHOTO_ASPECT
from waste_sorting.inference.preprocess import normalize_batch
from waste_sorting.model.augment import AugmentConfig, augment
from waste_sorting.progress import Progress
from waste_sorting.simulation.cutout import CUTOUT_VERSION, item_mask

PRELOAD_SIZE = (320, round(320 / PHOTO_ASPECT))  # (w, h): photos as taken (data.photos), enough for 224 px crops


def cache_dir() -> Path:
    return Path(os.environ.get("WASTE_SORTING_CACHE", Path.home() / ".cache" / "waste_sorting"))


@dataclass
class Preloaded:
    images: np.ndarray  # N x H x W x 3 uint8 BGR
    masks: np.ndarray  # N x H x W uint8
    labels: np.ndarray  # N int64


def load_image(path: Path) -> np.ndarray:
    """Read an image as BGR uint8, raising a clear error when it is not a readable image."""
    data = np.fromfile(str(path), np.uint8)
    img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if img is None:
        raise ValueError(f"{path}: not a readable image (corrupt or unsupported format)")
    return img


def preload(items: list[LabelledImage], use_cache: bool = True) -> Preloaded:
    """Decode, resize and cut out every image once; cache the arrays on disk."""
    key = hashlib.sha256(
        "".join(f"{it.path}:{it.path.stat().st_size}:{it.label}\n" for it in items).encode()
        + repr((PRELOAD_SIZE, CUTOUT_VERSION)).encode()
    ).hexdigest()[:16]
    path = cache_dir() / f"preload-{key}.npz"
    if use_cache and path.exists():
        z = np.load(path)
        return Preloaded(z["images"], z["masks"], z["labels"])
    w, h = PRELOAD_SIZE
    images = np.empty((len(items), h, w, 3), np.uint8)
    masks = np.empty((len(items), h, w), np.uint8)
    keep = []
    progress = Progress("cutting out the items (once; cached)", len(items), "images")
    for i, it in enumerate(items):
        progress.update()
        try:
            img = cv2.resize(load_image(it.path), (w, h), interpolation=cv2.INTER_AREA)
        except ValueError as exc:  # one bad file must not stop a long training run
            print(f"warning: skipping {exc}", flush=True)
            continue
        images[i] = img
        masks[i] = item_mask(img)
        keep.append(i)
    progress.close()
    images, masks = images[keep], masks[keep]
    labels = np.array([items[i].label for i in keep], np.int64)
    if use_cache:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, images=images, masks=masks, labels=labels)
        tmp.replace(path)
    return Preloaded(images, masks, labels)


class AugmentedViews(torch.utils.data.Dataset):
    """Random belt-like views of preloaded images, normalised like the cell does."""

    def __init__(self, data: Preloaded, size: int, cfg: AugmentConfig | None, seed: int,
                 mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.data, self.size, self.cfg, self.seed = data, size, cfg, seed
        self.mean, self.std = mean, std
        self.epoch = 0

    def __len__(self) -> int:
        return len(self.data.labels)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
        img, mask = self.data.images[i], self.data.masks[i]
        if self.cfg is None:  # evaluation: centre square, as `classify` frames a photo
            h, w = img.shape[:2]
            side = min(h, w)
            crop = img[(h - side) // 2:(h + side) // 2, (w - side) // 2:(w + side) // 2]
            view = cv2.resize(crop, (self.size, self.size), interpolation=cv2.INTER_AREA)
        else:
            rng = np.random.default_rng((self.seed, self.epoch, i))
            view = augment(img, mask, self.size, rng, self.cfg)
        x = normalize_batch(view[None], self.mean, self.std)[0]
        return torch.from_numpy(x), int(self.data.labels[i])
