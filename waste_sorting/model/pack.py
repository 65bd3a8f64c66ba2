"""One file with everything a training run away from the data needs: a lent GPU machine sees only the
files sent with it (64 MiB at most), not ``../shared``.

The split's training and holdout images (as taken, reduced to ``PACK_SIZE``) with their item masks,
a bank of backgrounds to paste the items on, and the teacher's starting weights (ImageNet, or a
teacher already fine-tuned here), all compressed: JPEG images, PNG masks, FP16 weights.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from waste_sorting.data.folders import fingerprint
from waste_sorting.errors import DataError
from waste_sorting.model.backgrounds import BACKGROUND_SETS, random_background
from waste_sorting.model.checkpoint import load_checkpoint
from waste_sorting.model.dataset import Preloaded, preload
from waste_sorting.model.registry import build_network

PACK_VERSION = 1
PACK_SIZE = (192, 144)  # (w, h): items fill 100-140 px of it, more than the 60-110 px the camera gives them
JPEG_QUALITY = 90
BACKGROUND_SIDE = 192


@dataclass
class TrainingPack:
    classes: list[str]
    train: Preloaded
    holdout: Preloaded
    backgrounds: np.ndarray          # M x S x S x 3 uint8 BGR
    teacher_arch: dict[str, Any]
    teacher_state: dict[str, torch.Tensor]
    teacher_trained: bool            # fine-tuned on these classes already (else ImageNet weights, a fresh head)
    data: dict[str, Any]             # root, fingerprint, split seed, holdout fraction, image counts


def _encode(images: np.ndarray, ext: str, params: list[int]) -> tuple[torch.Tensor, torch.Tensor]:
    chunks = []
    for img in images:
        ok, buf = cv2.imencode(ext, img, params)
        if not ok:
            raise DataError(f"could not encode an image as {ext}")
        chunks.append(buf.reshape(-1))
    offsets = np.cumsum([0] + [len(c) for c in chunks])
    return torch.from_numpy(np.concatenate(chunks)), torch.from_numpy(offsets)


def _decode(blob: torch.Tensor, offsets: torch.Tensor, flags: int) -> np.ndarray:
    data, off = blob.numpy(), offsets.numpy()
    return np.stack([cv2.imdecode(data[off[i]:off[i + 1]], flags) for i in range(len(off) - 1)])


def _shrink(data: Preloaded) -> tuple[np.ndarray, np.ndarray]:
    w, h = PACK_SIZE
    images = np.stack([cv2.resize(img, (w, h), interpolation=cv2.INTER_AREA) for img in data.images])
    masks = np.stack([cv2.resize(m, (w, h), interpolation=cv2.INTER_AREA) for m in data.masks])
    return images, masks


def _part(data: Preloaded) -> dict[str, torch.Tensor]:
    images, masks = _shrink(data)
    jpeg, jpeg_off = _encode(images, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    png, png_off = _encode(masks, ".png", [cv2.IMWRITE_PNG_COMPRESSION, 9])
    return {"jpeg": jpeg, "jpeg_offsets": jpeg_off, "png": png, "png_offsets": png_off,
            "labels": torch.from_numpy(data.labels)}


def build_pack(data_root: Path, classes: list[str], train_items: list, hold_items: list, split_seed: int,
               holdout: float, teacher: Path | None, backgrounds: str = "varied", count: int = 256,
               seed: int = 0) -> dict[str, Any]:
    """The pack's contents (``torch.save`` them): ``teacher`` is a fine-tuned teacher's checkpoint, or None
    for EfficientNet-Lite0's ImageNet weights with a new head."""
    rng = np.random.default_rng(seed)
    bank = np.stack([random_background(BACKGROUND_SIDE, BACKGROUND_SIDE, rng, BACKGROUND_SETS[backgrounds])
                     for _ in range(count)])
    bg, bg_off = _encode(bank, ".jpg", [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if teacher is not None:
        ckpt = load_checkpoint(teacher)
        if list(ckpt["classes"]) != classes:
            raise DataError(f"teacher {teacher} knows {ckpt['classes']}, the data has {classes}")
        arch, state, trained = ckpt["arch"], ckpt["model"], True
    else:
        arch = {"name": "efficientnet-lite0", "num_classes": len(classes)}
        state, trained = build_network(arch, pretrained=True).state_dict(), False
    return {
        "version": PACK_VERSION, "classes": classes,
        "train": _part(preload(train_items)), "holdout": _part(preload(hold_items)),
        "backgrounds": bg, "background_offsets": bg_off,
        "teacher_arch": arch, "teacher_trained": trained,
        "teacher_state": {k: v.half() if v.is_floating_point() else v for k, v in state.items()},
        "data": {"root": str(data_root), "fingerprint": fingerprint(train_items), "split_seed": split_seed,
                 "holdout_fraction": holdout, "train_images": len(train_items), "holdout_images": len(hold_items)},
    }


def _preloaded(part: dict[str, torch.Tensor]) -> Preloaded:
    return Preloaded(_decode(part["jpeg"], part["jpeg_offsets"], cv2.IMREAD_COLOR),
                     _decode(part["png"], part["png_offsets"], cv2.IMREAD_GRAYSCALE), part["labels"].numpy())


def load_pack(path: Path) -> TrainingPack:
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as exc:
        raise DataError(f"{path}: not a training pack ({str(exc).splitlines()[0]}); make one with "
                        "`waste-sorting pack`") from None
    if not isinstance(raw, dict) or "version" not in raw:
        raise DataError(f"{path}: not a training pack; make one with `waste-sorting pack`")
    if raw["version"] != PACK_VERSION:
        raise DataError(f"{path}: training pack version {raw['version']}, this code reads {PACK_VERSION}; "
                        "make it again with `waste-sorting pack`")
    return TrainingPack(
        classes=list(raw["classes"]), train=_preloaded(raw["train"]), holdout=_preloaded(raw["holdout"]),
        backgrounds=_decode(raw["backgrounds"], raw["background_offsets"], cv2.IMREAD_COLOR),
        teacher_arch=raw["teacher_arch"], teacher_state={k: v.float() if v.is_floating_point() else v
                                                          for k, v in raw["teacher_state"].items()},
        teacher_trained=bool(raw["teacher_trained"]), data=raw["data"])
