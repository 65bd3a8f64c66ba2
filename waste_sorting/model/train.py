"""`waste-sorting train`: train (or distil) a classifier on a labelled image folder.

Checkpoints every epoch to ``OUT/checkpoint.pt`` and resumes from it, so an
interrupted run continues where it stopped. The reported accuracy is measured
on the fixed holdout split, which is never trained on and never used to pick
an epoch: the last epoch is the model.
"""

from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from waste_sorting.data.folders import (
    DEFAULT_HOLDOUT_FRACTION,
    DEFAULT_SPLIT_SEED,
    discover_classes,
    fingerprint,
    list_images,
    split_images,
)
from waste_sorting.errors import ModelError, UsageError
from waste_sorting.inference.preprocess import IMAGENET_MEAN, IMAGENET_STD
from waste_sorting.model.augment import BELT_HOLDOUT_VIEW, AugmentConfig
from waste_sorting.model.checkpoint import load_checkpoint, network_from_checkpoint
from waste_sorting.model.dataset import AugmentedViews, preload
from waste_sorting.model.metrics import classification_report, save_confusion_png, save_curves_png
from waste_sorting.model.registry import TEACHER_ARCHS, build_network, embed_and_logits, embedding_dim
from waste_sorting.model.runlock import lock_run_folder
from waste_sorting.model.teacher import OnnxTeacher, distillation_loss


@dataclass
class TrainConfig:
    """One training run; `waste-sorting train` takes its options' defaults from here."""

    data: Path                               # folder with one sub-folder per class
    out: Path                                # run folder: checkpoint, report, model.onnx
    arch: str = "attention-resnet"           # or one of TEACHER_ARCHS
    depth: int = 18                          # 10, 18 or 34
    attention: str = "cbam"                  # cbam, se or none
    width: int = 64
    size: int = 160                          # input size in pixels (square)
    size_schedule: str = ""                  # progressive resizing 'SIZE:FROM_EPOCH,...'
    init_from: Path | None = None            # a checkpoint's weights (fresh optimiser)
    init_onnx: Path | None = None            # the attention-ResNet in an ONNX file
    init_torchvision: Path | None = None     # torchvision ResNet-18/34 ImageNet weights
    bf16: bool = False                       # bfloat16 autocast (AVX512-BF16 CPUs)
    backgrounds: str = "belt"                # one of BACKGROUND_SETS
    white_balance: float = 0.0               # spread of a random per-channel gain (0 disables)
    epochs: int = 60
    batch_size: int = 32
    optimizer: str = "adamw"                 # adamw or sgd
    lr: float = 2e-3
    weight_decay: float = 0.05
    warmup_epochs: float = 2.0
    label_smoothing: float = 0.1
    mixup: float = 0.0                       # mixup Beta(a, a); 0 disables
    belt_p: float = 0.5                      # share of views composited on belt
    teacher: Path | None = None              # teacher checkpoint.pt for distillation
    kd_alpha: float = 0.2                    # weight of the hard-label loss
    kd_temperature: float = 2.0
    teacher_size: int = 224
    teacher_tta: bool = False                # average teacher logits over a mirror view
    feature_kd: float = 0.0                  # weight of feature distillation (0 disables)
    holdout: float = DEFAULT_HOLDOUT_FRACTION
    split_seed: int = DEFAULT_SPLIT_SEED
    seed: int = 0
    limit_per_class: int = 0                 # at most N images per class (tests)
    threads: int = 0                         # torch threads (0: all cores)
    keep_epochs: int = 0                     # also keep the last N epochs' weights for `average`
    no_export: bool = False                  # skip ONNX export at the end
    quiet: bool = False                      # no progress bar


def _arch_dict(args: TrainConfig, num_classes: int) -> dict[str, Any]:
    if args.arch == "attention-resnet":
        return {"name": "attention-resnet", "depth": args.depth, "attention": args.attention,
                "num_classes": num_classes, "width": args.width, "dropout": 0.2}
    return {"name": args.arch, "num_classes": num_classes}


def _limit(items: list, per_class: int) -> list:
    if per_class <= 0:
        return items
    counts: dict[int, int] = {}
    out = []
    for it in items:
        if counts.get(it.label, 0) < per_class:
            out.append(it)
            counts[it.label] = counts.get(it.label, 0) + 1
    return out


def parse_size_schedule(text: str, default: int) -> list[tuple[int, int]]:
    """'96:0,128:60' -> [(0, 96), (60, 128)] as (from_epoch, size), sorted."""
    if not text:
        return [(0, default)]
    steps = sorted((int(e), int(sz)) for sz, e in (part.split(":") for part in text.split(",")))
    if steps[0][0] != 0:
        raise ValueError("the size schedule must start at epoch 0")
    return steps


def size_at(schedule: list[tuple[int, int]], epoch: int) -> int:
    return [sz for e, sz in schedule if e <= epoch][-1]


@torch.no_grad()
def predict(net: nn.Module, loader: torch.utils.data.DataLoader) -> tuple[np.ndarray, np.ndarray]:
    net.eval()
    probs, labels = [], []
    for x, y in loader:
        probs.append(torch.softmax(net(x.contiguous(memory_format=torch.channels_last)), 1).numpy())
        labels.append(y.numpy())
    return np.concatenate(probs), np.concatenate(labels)


def split_folder(data: Path, holdout: float, split_seed: int, limit_per_class: int = 0
                 ) -> tuple[list[str], list, list]:
    """Classes, training and holdout images of a class-folder tree (the fixed, stratified split)."""
    classes = discover_classes(data)
    items = list_images(data, classes)
    train_items, hold_items = split_images(items, holdout, split_seed)
    train_items, hold_items = _limit(train_items, limit_per_class), _limit(hold_items, limit_per_class)
    print(f"data: {data} ({len(items)} images, {len(classes)} classes: {', '.join(classes)}); "
          f"train {len(train_items)}, holdout {len(hold_items)} (seed {split_seed})", flush=True)
    return classes, train_items, hold_items


def holdout_loaders(hold_data: Any, size: int, mean: tuple[float, ...], std: tuple[float, ...]
                    ) -> tuple[torch.utils.data.DataLoader, torch.utils.data.DataLoader]:
    """The holdout photos, centre-framed as `classify` frames them, and the same images on the belt."""
    # The cell never sees a studio photo: it sees the item cut out on the belt. The same holdout
    # images, each composited once on belt texture (fixed seed), measure that domain every epoch.
    photos = AugmentedViews(hold_data, size, None, 0, mean, std)
    belt = AugmentedViews(hold_data, size, BELT_HOLDOUT_VIEW, 0, mean, std)
    return (torch.utils.data.DataLoader(photos, batch_size=64), torch.utils.data.DataLoader(belt, batch_size=64))


def write_report(out: Path, classes: list[str], probs: np.ndarray, labels: np.ndarray, belt_probs: np.ndarray,
                 belt_labels: np.ndarray, history: list[dict[str, Any]], arch: dict[str, Any],
                 **extra: Any) -> dict[str, Any]:
    """report.json and confusion.png of the holdout predictions (photos, and on the belt); prints the summary."""
    report = classification_report(labels, probs.argmax(1), classes)
    report["belt"] = classification_report(belt_labels, belt_probs.argmax(1), classes)
    report.update(history=history, arch=arch, **extra)
    (out / "report.json").write_text(json.dumps(report, indent=2))
    save_confusion_png(np.array(report["confusion"]), classes, out / "confusion.png")
    print(f"holdout top-1 {report['top1']:.4f} on {len(labels)} images never trained on "
          f"(on the belt: {report['belt']['top1']:.4f})")
    for name in classes:
        c = report["per_class"][name]
        print(f"  {name:10s} precision {c['precision']:.3f} recall {c['recall']:.3f} f1 {c['f1']:.3f}")
    return report


def init_from_onnx(path: Path, classes: list[str], arch: dict[str, Any], views: AugmentedViews, size: int
                   ) -> nn.Module:
    """The network of a shipped ONNX file, its batch norms measured on 256 training views."""
    from waste_sorting.model.from_onnx import network_from_onnx

    count = min(256, len(views))
    batch = torch.stack([views[i][0] for i in range(count)])
    if batch.shape[-1] != size:
        batch = F.interpolate(batch, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
    net, meta = network_from_onnx(path, calibration=batch)
    if meta.classes != classes or meta.architecture != arch:
        raise ModelError(f"{path} has classes {meta.classes} and architecture {meta.architecture}; "
                         f"this run has {classes} and {arch}")
    return net


def weights_only(ckpt: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint without the optimiser's state: enough to export, average or initialise from."""
    return {k: v for k, v in ckpt.items() if k not in ("optimizer", "scheduler", "projector")}


def feature_distance(student: torch.Tensor, teacher: torch.Tensor) -> torch.Tensor:
    """1 - cosine between batch-centred embeddings: what tells images apart, not the common offset."""
    return (1 - F.cosine_similarity(student - student.mean(0), teacher - teacher.mean(0), dim=1)).mean()


def _lr_factor(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))


def train(args: TrainConfig) -> dict[str, Any]:
    """Train (or resume) the run in ``args.out``, which no other process may write meanwhile."""
    with lock_run_folder(args.out):
        return _train(args)


def _train(args: TrainConfig) -> dict[str, Any]:
    torch.manual_seed(args.seed)
    if args.threads:
        torch.set_num_threads(args.threads)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    classes, train_items, hold_items = split_folder(args.data, args.holdout, args.split_seed, args.limit_per_class)
    train_data, hold_data = preload(train_items), preload(hold_items)

    arch = _arch_dict(args, len(classes))
    if args.init_torchvision:
        from waste_sorting.model.from_torchvision import load_state, network_from_torchvision

        if args.arch != "attention-resnet" or args.init_from or args.init_onnx:
            raise UsageError("--init-torchvision starts the attention-ResNet, and alone (not with "
                             "--init-from or --init-onnx)")
        net = network_from_torchvision(load_state(args.init_torchvision), arch)  # sets arch's gate scale
        net = net.to(memory_format=torch.channels_last)
        print(f"initialised from {args.init_torchvision} (torchvision layout; attention starts as the identity)",
              flush=True)
    else:
        net = build_network(arch, pretrained=args.arch in TEACHER_ARCHS).to(memory_format=torch.channels_last)
    teacher: OnnxTeacher | None = None
    projector: nn.Linear | None = None
    if args.teacher:
        teacher_net = network_from_checkpoint(load_checkpoint(args.teacher))
        teacher = OnnxTeacher(teacher_net, args.teacher_size, args.threads)
        if args.feature_kd > 0:
            # Six logits say little about an image; the teacher's 1280-d embedding carries what it
            # learnt on ImageNet, which a from-scratch student cannot see in 1,677 images.
            projector = nn.Linear(embedding_dim(net), embedding_dim(teacher_net))
    schedule = parse_size_schedule(args.size_schedule, args.size)
    args.size = schedule[-1][1]  # the model's input size
    view_size = max(args.size, args.teacher_size) if teacher is not None else args.size
    mean, std = IMAGENET_MEAN, IMAGENET_STD
    augment_cfg = AugmentConfig(belt_p=args.belt_p, backgrounds=args.backgrounds, white_balance=args.white_balance)
    train_set = AugmentedViews(train_data, view_size, augment_cfg, args.seed, mean, std)
    if args.init_from:
        net.load_state_dict(network_from_checkpoint(load_checkpoint(args.init_from)).state_dict())
        print(f"initialised from {args.init_from}", flush=True)
    elif args.init_onnx:
        net.load_state_dict(init_from_onnx(args.init_onnx, classes, arch, train_set, args.size).state_dict())
        print(f"initialised from {args.init_onnx}", flush=True)
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True,
                                               drop_last=len(train_set) > args.batch_size)
    hold_loader, hold_belt_loader = holdout_loaders(hold_data, args.size, mean, std)

    counts = np.bincount(train_data.labels, minlength=len(classes)).astype(np.float64)
    class_weights = torch.tensor((counts.sum() / np.maximum(counts, 1)) ** 0.5, dtype=torch.float32)
    class_weights /= class_weights.mean()
    trained = list(net.named_parameters()) + (list(projector.named_parameters()) if projector else [])
    decay = [p for n, p in trained if p.ndim > 1]
    no_decay = [p for n, p in trained if p.ndim <= 1]
    groups = [{"params": decay, "weight_decay": args.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    opt: torch.optim.Optimizer = (
        torch.optim.AdamW(groups, lr=args.lr) if args.optimizer == "adamw"
        else torch.optim.SGD(groups, lr=args.lr, momentum=0.9, nesterov=True)
    )
    steps_per_epoch = len(train_loader)
    total = steps_per_epoch * args.epochs
    warmup = int(args.warmup_epochs * steps_per_epoch)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: _lr_factor(s, total, warmup))

    ckpt_path = out / "checkpoint.pt"
    start_epoch, history = 0, []
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt["arch"] != arch:
            raise UsageError(f"{ckpt_path} holds a different architecture ({ckpt['arch']}); use another --out")
        net.load_state_dict(ckpt["model"])
        if projector is not None:
            projector.load_state_dict(ckpt["projector"])
        opt.load_state_dict(ckpt["optimizer"])
        sched.load_state_dict(ckpt["scheduler"])
        start_epoch, history = ckpt["epoch"], ckpt["history"]
        print(f"resuming from {ckpt_path} after epoch {start_epoch}", flush=True)

    def holdout_predictions() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(probs, labels) on the holdout photos, then on the same images on the belt."""
        return (*predict(net, hold_loader), *predict(net, hold_belt_loader))

    last: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None = None  # the final epoch's
    rng = np.random.default_rng(args.seed + 1000 * start_epoch)
    for epoch in range(start_epoch, args.epochs):
        train_set.epoch = epoch
        size = size_at(schedule, epoch)
        net.train()
        t0, seen, loss_sum, correct = time.time(), 0, 0.0, 0
        bar = None
        if not args.quiet:
            from tqdm import tqdm
            bar = tqdm(total=steps_per_epoch, desc=f"epoch {epoch + 1}/{args.epochs}", leave=False)
        for x, y in train_loader:
            x = x.contiguous(memory_format=torch.channels_last)
            targets = F.one_hot(y, len(classes)).float()
            if args.mixup > 0:
                lam = float(rng.beta(args.mixup, args.mixup))
                perm = torch.randperm(x.shape[0])
                x = lam * x + (1 - lam) * x[perm]
                targets = lam * targets + (1 - lam) * targets[perm]
            xs = x if view_size == size else F.interpolate(
                x, size=(size, size), mode="bilinear", antialias=True, align_corners=False)
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                emb, logits = embed_and_logits(net, xs)
            emb, logits = emb.float(), logits.float()
            smooth = targets * (1 - args.label_smoothing) + args.label_smoothing / len(classes)
            hard = -(smooth * F.log_softmax(logits, 1) * class_weights).sum(1).mean()
            loss = hard
            if teacher is not None:
                t_in = x if view_size == args.teacher_size else F.interpolate(
                    x, size=(args.teacher_size,) * 2, mode="bilinear", antialias=True, align_corners=False)
                t_emb, t_logits = teacher(t_in)
                if args.teacher_tta:
                    t_emb2, t_logits2 = teacher(t_in.flip(3))
                    t_emb, t_logits = (t_emb + t_emb2) / 2, (t_logits + t_logits2) / 2
                kd = distillation_loss(logits, t_logits, args.kd_temperature)
                loss = args.kd_alpha * hard + (1 - args.kd_alpha) * kd
                if projector is not None:
                    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=args.bf16):
                        projected = projector(emb)
                    loss = loss + args.feature_kd * feature_distance(projected.float(), t_emb)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            seen += y.shape[0]
            loss_sum += float(loss.detach()) * y.shape[0]
            correct += int((logits.argmax(1) == targets.argmax(1)).sum())
            if bar is not None:
                bar.set_postfix(loss=f"{loss_sum / seen:.3f}", acc=f"{correct / seen:.3f}")
                bar.update()
        if bar is not None:
            bar.close()
        last = probs, labels, belt_probs, belt_labels = holdout_predictions()
        hold_acc = float((probs.argmax(1) == labels).mean())
        belt_acc = float((belt_probs.argmax(1) == belt_labels).mean())
        history.append({"epoch": epoch + 1, "train_loss": loss_sum / seen, "train_acc": correct / seen,
                        "holdout_acc": hold_acc, "holdout_belt_acc": belt_acc, "seconds": time.time() - t0,
                        "lr": opt.param_groups[0]["lr"]})
        print(f"epoch {epoch + 1}/{args.epochs} loss {loss_sum / seen:.4f} train_acc {correct / seen:.3f} "
              f"holdout_acc {hold_acc:.3f} belt {belt_acc:.3f} ({time.time() - t0:.0f} s)", flush=True)
        ckpt = {"arch": arch, "model": net.state_dict(), "optimizer": opt.state_dict(),
                "scheduler": sched.state_dict(), "epoch": epoch + 1,
                "projector": projector.state_dict() if projector is not None else None, "history": history,
                "classes": classes, "size": args.size, "mean": mean, "std": std,
                "args": {k: str(v) for k, v in vars(args).items()},
                "data": {"root": str(args.data), "fingerprint": fingerprint(train_items),
                         "split_seed": args.split_seed, "holdout_fraction": args.holdout,
                         "train_images": len(train_items), "holdout_images": len(hold_items)}}
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(ckpt, tmp)
        tmp.replace(ckpt_path)
        if epoch + 1 > args.epochs - args.keep_epochs:  # weights only, for `waste-sorting average`
            torch.save(weights_only(ckpt), out / f"epoch-{epoch + 1:03d}.pt")

    report = write_report(out, classes, *(last if last is not None else holdout_predictions()), history, arch)
    save_curves_png(history, out / "curves.png")
    if args.arch == "attention-resnet" and not args.no_export:
        from waste_sorting.model.export import export_checkpoint
        onnx_path = export_checkpoint(ckpt_path, out / "model.onnx", holdout_top1=report["top1"])
        print(f"exported {onnx_path}")
    return report
