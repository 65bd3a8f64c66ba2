"""`waste-sorting adapt`: fine-tune the shipped attention-ResNet on a line's labelled crops.

The network comes back from the shipped ONNX file (``model.from_onnx``), so
no training run folder is needed. Batches mix the line's crops with belt views
of the original training images (rehearsal), so the model learns the line
without forgetting the rest. A fifth of the labelled *items* (all crops of an
item together) is held back and scored before and after, through the same
ONNX Runtime path the cell runs. Crops an adapted model labelled (``pseudo``)
add items a person did not label: trained on, never held back.

With ``teacher`` (an ImageNet EfficientNet-Lite), that network is fine-tuned
on the same batches first and the student then learns from its full
distribution on the very view it sees (Beyer et al.'s consistent teaching)
as well as from the labels: with a few hundred labelled items the teacher's
ImageNet features generalise further than the student's TrashNet ones.
"""

from __future__ import annotations

import math
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from waste_sorting.adaptation.labelled import MANIFEST, LabelledCrop, read_labelled
from waste_sorting.errors import DataError, UsageError
from waste_sorting.inference.classifier import ImageClassifier
from waste_sorting.inference.metadata import ModelMetadata, file_sha256
from waste_sorting.inference.preprocess import normalize_batch
from waste_sorting.model.registry import TEACHER_ARCHS, build_network
from waste_sorting.model.teacher import OnnxTeacher, distillation_loss
from waste_sorting.progress import Progress


@dataclass
class AdaptConfig:
    epochs: int = 12
    batch_size: int = 32
    lr: float = 3e-4
    weight_decay: float = 0.01
    holdout: float = 0.2         # share of labelled items held back to report before/after
    rehearse_share: float = 0.5  # of each batch, when a rehearsal folder is given
    match_colours: bool = True   # rehearsal views take the line's per-channel colour statistics
    bf16: bool = True            # bf16 autocast (train-ab: 1.7x on this CPU's AVX512-BF16)
    seed: int = 0
    threads: int = 0
    teacher: str | None = None   # an ImageNet EfficientNet-Lite (registry.TEACHER_ARCHS) to distil from
    teacher_epochs: int = 8
    teacher_lr: float = 1e-3
    kd_alpha: float = 0.3        # weight of the labels against the teacher in the student's loss
    kd_temperature: float = 2.0


def split_items(crops: list[LabelledCrop], fraction: float, seed: int) -> tuple[list[LabelledCrop], list[LabelledCrop]]:
    """Training and held-back crops; an item's crops stay together, each class keeps its share."""
    rng = np.random.default_rng(seed)
    by_label: dict[int, list[str]] = {}
    for c in crops:
        keys = by_label.setdefault(c.label, [])
        if c.item_key not in keys:
            keys.append(c.item_key)
    held: set[str] = set()
    for keys in by_label.values():
        n = int(math.floor(len(keys) * fraction))
        if len(keys) >= 3 and fraction > 0:
            n = max(n, 1)
        held.update(rng.permutation(keys)[:n].tolist())
    return [c for c in crops if c.item_key not in held], [c for c in crops if c.item_key in held]


def load_crops(crops: list[LabelledCrop], size: int) -> np.ndarray:
    out = np.empty((len(crops), size, size, 3), np.uint8)
    for i, c in enumerate(crops):
        img = cv2.imread(str(c.path), cv2.IMREAD_COLOR)
        if img is None:
            raise DataError(f"{c.path}: not an image")
        out[i] = img if img.shape[:2] == (size, size) else cv2.resize(img, (size, size), interpolation=cv2.INTER_AREA)
    return out


def augment(batch: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Top-down crops: any flip or quarter turn is the same item; light varies a little."""
    out = np.empty_like(batch)
    for i, img in enumerate(batch):
        img = np.rot90(img, int(rng.integers(4)))
        if rng.random() < 0.5:
            img = img[:, ::-1]
        gain = rng.uniform(0.85, 1.15, 3).astype(np.float32)
        out[i] = np.clip(img.astype(np.float32) * gain + rng.uniform(-12, 12), 0, 255).astype(np.uint8)
    return out


def item_accuracy(probs: np.ndarray, crops: list[LabelledCrop]) -> tuple[float, float]:
    """(item-level top-1 on the mean of each item's crops, crop-level top-1)."""
    labels = np.array([c.label for c in crops])
    crop_acc = float((probs.argmax(1) == labels).mean())
    by_item: dict[str, list[int]] = {}
    for i, c in enumerate(crops):
        by_item.setdefault(c.item_key, []).append(i)
    right = [int(probs[idx].mean(0).argmax() == labels[idx[0]]) for idx in by_item.values()]
    return float(np.mean(right)), crop_acc


class _Rehearsal:
    """Belt views of the original training images, labels in the model's class order."""

    def __init__(self, folder: Path, classes: list[str], size: int, meta: ModelMetadata, seed: int) -> None:
        from waste_sorting.data.folders import DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED
        from waste_sorting.model.augment import AugmentConfig
        from waste_sorting.model.dataset import AugmentedViews, preload
        from waste_sorting.model.train import split_folder

        names, train_items, _hold = split_folder(folder, DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED)
        unknown = [n for n in names if n not in classes]
        if unknown:
            raise DataError(f"{folder}: class folders {', '.join(unknown)} are not classes of the model "
                            f"({', '.join(classes)})")
        print(f"rehearsal: {len(train_items)} images of {folder} (its training split: the holdout stays unseen)",
              flush=True)
        data = preload(train_items)
        data.labels = np.array([classes.index(names[int(y)]) for y in data.labels])
        self.views = AugmentedViews(data, size, AugmentConfig(belt_p=0.8), seed,
                                    tuple(meta.mean), tuple(meta.std))
        self.rng = np.random.default_rng(seed)
        self.colour: tuple[torch.Tensor, torch.Tensor] | None = None  # per-channel scale, shift

    def match_colours(self, line: torch.Tensor, samples: int = 256) -> None:
        """Give the rehearsal views the line's per-channel mean and spread (Reinhard et al. 2001): the
        original images then look lit and white-balanced as the line is, and teach it too."""
        self.colour = None
        ref, _ = self.batch(samples)
        mu_l, sd_l = line.mean(dim=(0, 2, 3)), line.std(dim=(0, 2, 3))
        mu_r, sd_r = ref.mean(dim=(0, 2, 3)), ref.std(dim=(0, 2, 3)).clamp_min(1e-6)
        scale = sd_l / sd_r
        self.colour = (scale.view(1, 3, 1, 1), (mu_l - mu_r * scale).view(1, 3, 1, 1))

    def batch(self, n: int) -> tuple[torch.Tensor, torch.Tensor]:
        idx = self.rng.integers(len(self.views), size=n)
        xs, ys = zip(*(self.views[int(i)] for i in idx), strict=True)
        x = torch.stack(xs)
        if self.colour is not None:
            x = x * self.colour[0] + self.colour[1]
        return x, torch.tensor(ys)


def adapt(data: Path, base: Path, out: Path, rehearse: Path | None = None, cfg: AdaptConfig | None = None,
          quiet: bool = False, pseudo: Path | None = None) -> dict[str, Any]:
    """Fine-tune ``base`` on the crops under ``data``; writes ``out`` (ONNX + sidecar) and returns a report.

    ``pseudo``: crops an adapted model labelled (a harvest with ``--labels predicted``), trained on but never
    held back, so the before/after figure stays one of labels a person (or the truth) gave; an item that
    ``data`` holds too keeps its label there."""
    from waste_sorting.model.export import export_network
    from waste_sorting.model.from_onnx import network_from_onnx

    cfg = cfg or AdaptConfig()
    if out.suffix != ".onnx":
        raise UsageError(f"--out {out}: give a file name ending in .onnx")
    if out.resolve() == base.resolve():
        raise UsageError(f"--out {out} is the base model; write the adapted model to a new file")
    if cfg.teacher is not None and cfg.teacher not in TEACHER_ARCHS:
        raise UsageError(f"--teacher {cfg.teacher}: not a teacher; choose one of {', '.join(TEACHER_ARCHS)}")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    torch.manual_seed(cfg.seed)
    meta = ModelMetadata.for_model(base)
    crops, skipped = read_labelled(data, meta.classes)
    train, held = split_items(crops, cfg.holdout, cfg.seed)
    extra = _pseudo_labelled(pseudo, meta.classes, {c.item_key for c in crops}) if pseudo else []
    pseudo_items = len({c.item_key for c in extra})
    train = train + extra
    size = meta.input_size
    x_train, y_train = load_crops(train, size), np.array([c.label for c in train])
    x_held = load_crops(held, size)
    counts = Counter(meta.classes[c.label] for c in crops)
    print(f"labelled: {len(crops)} crops of {len({c.item_key for c in crops})} items from {data} "
          f"({', '.join(f'{k} {v}' for k, v in sorted(counts.items()))}); "
          f"holding back {len({c.item_key for c in held})} items"
          + (f"; skipped {', '.join(f'{k}/ ({v})' for k, v in skipped.items())}" if skipped else ""), flush=True)
    if pseudo:
        print(f"model-labelled: {len(extra)} crops of {pseudo_items} more items from {pseudo} "
              "(trained on, never held back)", flush=True)
    before = _score(ImageClassifier(base, "onnxruntime"), x_held, held)

    rehearsal = _Rehearsal(rehearse, meta.classes, size, meta, cfg.seed) if rehearse else None
    if rehearsal is not None and cfg.match_colours:
        rehearsal.match_colours(torch.from_numpy(normalize_batch(x_train, meta.mean, meta.std)))
    batches = _Batches(x_train, y_train, rehearsal, cfg, meta)
    t0 = time.perf_counter()
    teacher_report = None
    teacher = None
    if cfg.teacher:
        teacher_net, teacher_report = _fine_tune_teacher(batches, meta, cfg, x_held, held, quiet)
        teacher = OnnxTeacher(teacher_net, size, cfg.threads)
    calib = torch.from_numpy(normalize_batch(x_train[:256], meta.mean, meta.std))
    net, _ = network_from_onnx(base, calibration=calib)
    history = _fine_tune(net, batches, cfg.epochs, cfg.lr, cfg, "", quiet, teacher)
    provenance = {
        "adapted_from": str(base), "base_sha256": file_sha256(base), "data": str(data),
        "bags": _bags_of(data), "labelled_items": len({c.item_key for c in crops}), "labelled_crops": len(crops),
        "per_class": dict(counts), "rehearse": str(rehearse) if rehearse else None,
        "pseudo": str(pseudo) if pseudo else None, "pseudo_items": pseudo_items,
        "pseudo_bags": _bags_of(pseudo) if pseudo else [],
        "rehearsal_colours_matched": bool(rehearsal is not None and cfg.match_colours), "epochs": cfg.epochs,
        "lr": cfg.lr, "bf16": cfg.bf16, "base_training": meta.training,
        "teacher": {"arch": cfg.teacher, "epochs": cfg.teacher_epochs, "kd_alpha": cfg.kd_alpha,
                    "kd_temperature": cfg.kd_temperature} if cfg.teacher else None}
    new_meta = ModelMetadata(classes=meta.classes, input_size=size, mean=meta.mean, std=meta.std,
                             architecture=meta.architecture, training=provenance, accuracy=dict(meta.accuracy))
    export_network(net, new_meta, out)
    after = _score(ImageClassifier(out, "onnxruntime"), x_held, held)
    report = {"model": str(out), "held_back_items": len({c.item_key for c in held}), "held_back_crops": len(held),
              "before": before, "after": after, "teacher": teacher_report, "history": history,
              "seconds": time.perf_counter() - t0,
              "provenance": provenance}
    new_meta.accuracy.update({"adapt_holdout_items": report["held_back_items"],
                              "adapt_holdout_item_top1_before": before["item_top1"],
                              "adapt_holdout_item_top1": after["item_top1"]})
    from waste_sorting.inference.metadata import sidecar_path

    new_meta.write(sidecar_path(out), out)
    return report


def _pseudo_labelled(root: Path, classes: list[str], labelled: set[str]) -> list[LabelledCrop]:
    """The crops of ``root`` whose items are not labelled already."""
    crops, _ = read_labelled(root, classes)
    return [c for c in crops if c.item_key not in labelled]


class _Batches:
    """Training batches: the line's crops (augmented) and, when rehearsing, belt views of the original
    images in a fixed share of each batch."""

    def __init__(self, x: np.ndarray, y: np.ndarray, rehearsal: _Rehearsal | None, cfg: AdaptConfig,
                 meta: ModelMetadata) -> None:
        self.x, self.y, self.rehearsal, self.meta = x, y, rehearsal, meta
        self.batch_size = cfg.batch_size
        self.n_line = cfg.batch_size - (int(cfg.batch_size * cfg.rehearse_share) if rehearsal else 0)
        self.steps_per_epoch = max(1, math.ceil(len(x) / self.n_line))
        self.rng = np.random.default_rng(cfg.seed)

    def epoch(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.rng.permutation(len(self.x))
        for step in range(self.steps_per_epoch):
            idx = order[step * self.n_line:(step + 1) * self.n_line]
            if len(idx) == 0:
                idx = self.rng.integers(len(self.x), size=self.n_line)
            x = torch.from_numpy(normalize_batch(augment(self.x[idx], self.rng), self.meta.mean, self.meta.std))
            y = torch.from_numpy(self.y[idx])
            if self.rehearsal is not None:
                xr, yr = self.rehearsal.batch(self.batch_size - self.n_line)
                x, y = torch.cat([x, xr]), torch.cat([y, yr])
            yield x.contiguous(memory_format=torch.channels_last), y


def _fine_tune(net: torch.nn.Module, batches: _Batches, epochs: int, lr: float, cfg: AdaptConfig, who: str,
               quiet: bool, teacher: OnnxTeacher | None = None) -> list[dict[str, float]]:
    """AdamW with a cosine schedule over ``epochs``; with a teacher, its distribution on the same view."""
    net.to(memory_format=torch.channels_last)
    total = batches.steps_per_epoch * epochs
    opt = torch.optim.AdamW(net.parameters(), lr=lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5 * (1 + math.cos(math.pi * min(1.0, s / total))))
    history = []
    t0 = time.perf_counter()
    for epoch in range(epochs):
        net.train()
        losses = []
        bar = Progress(f"{who}epoch {epoch + 1}/{epochs}", batches.steps_per_epoch, "steps", not quiet)
        for x, y in batches.epoch():
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=cfg.bf16):
                logits = net(x).float()
            loss = F.cross_entropy(logits, y, label_smoothing=0.1)
            if teacher is not None:
                kd = distillation_loss(logits, teacher(x)[1], cfg.kd_temperature)
                loss = cfg.kd_alpha * loss + (1 - cfg.kd_alpha) * kd
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            bar.set_postfix(loss=f"{np.mean(losses):.3f}")
            bar.update()
        bar.close()
        history.append({"epoch": epoch + 1, "train_loss": float(np.mean(losses))})
        print(f"{who}epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.3f} ({time.perf_counter() - t0:.0f} s)",
              flush=True)
    net.eval()
    return history


def _fine_tune_teacher(batches: _Batches, meta: ModelMetadata, cfg: AdaptConfig, x_held: np.ndarray,
                       held: list[LabelledCrop], quiet: bool) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The ImageNet teacher, its head new, trained on batches like the student's."""
    try:
        net = build_network({"name": cfg.teacher, "num_classes": len(meta.classes)}, pretrained=True)
    except RuntimeError as exc:
        raise UsageError(f"--teacher {cfg.teacher}: {exc}") from None
    print(f"teacher: {cfg.teacher} with ImageNet weights, {cfg.teacher_epochs} epochs on the same data",
          flush=True)
    history = _fine_tune(net, batches, cfg.teacher_epochs, cfg.teacher_lr, cfg, "teacher ", quiet)
    report: dict[str, Any] = {"arch": cfg.teacher, "history": history, "item_top1": None}
    if held:
        with torch.no_grad():
            x = torch.from_numpy(normalize_batch(x_held, meta.mean, meta.std))
            probs = torch.cat([torch.softmax(net(x[i:i + 64]).float(), 1) for i in range(0, len(x), 64)])
        report["item_top1"], report["crop_top1"] = item_accuracy(probs.numpy(), held)
        print(f"teacher on the held-back items: top-1 {report['item_top1']:.3f}", flush=True)
    return net, report


def _score(clf: ImageClassifier, x: np.ndarray, crops: list[LabelledCrop]) -> dict[str, float | None]:
    if not crops:
        return {"item_top1": None, "crop_top1": None}
    item, crop = item_accuracy(clf.classify_crops(x), crops)
    return {"item_top1": item, "crop_top1": crop}


def _bags_of(data: Path) -> list[str]:
    import csv

    if not (data / MANIFEST).is_file():
        return []
    with (data / MANIFEST).open(newline="") as f:
        return sorted({row["bag"] for row in csv.DictReader(f)})

