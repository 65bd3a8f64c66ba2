"""`waste-sorting distill`: patient, consistent distillation on a training pack, for as long as a budget allows.

After Beyer et al., "Knowledge distillation: A good teacher is patient and
consistent" (function matching): teacher and student see the very same view,
views are mixed aggressively (mixup of two views, no labels), the student
matches the teacher's whole distribution and its pooled features, and the
schedule is long. Every view is made on the device (``batch_views``), from a
pack (``model.pack``) that holds the images, so a GPU runs thousands of epochs
in minutes. The learning rate's cosine runs over a time budget, so a run fits a
lease; the run folder keeps a checkpoint and resumes, and the student's weights
come out in parts small enough for a lent machine to send back.

The teacher starts from the pack: fine-tuned already, or ImageNet weights that
are fine-tuned first, on the same views, for ``teacher_minutes``.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from waste_sorting.inference.preprocess import IMAGENET_MEAN, IMAGENET_STD
from waste_sorting.model.augment import AugmentConfig
from waste_sorting.model.batch_views import ImageBank, belt_views, normalise
from waste_sorting.model.checkpoint import load_checkpoint, save_split
from waste_sorting.model.dataset import AugmentedViews
from waste_sorting.model.pack import TrainingPack, load_pack
from waste_sorting.model.registry import build_network, embed_and_logits, embedding_dim
from waste_sorting.model.runlock import lock_run_folder
from waste_sorting.model.teacher import distillation_loss
from waste_sorting.model.train import feature_distance, holdout_loaders, init_from_onnx

STUDENT_ARCH = {"name": "attention-resnet", "depth": 18, "attention": "cbam", "width": 64, "dropout": 0.2}
REPORT_EVERY = 20.0  # s between progress lines


@dataclass
class DistillConfig:
    """One run; `waste-sorting distill` takes its options' defaults from here."""

    pack: Path                     # from `waste-sorting pack`
    out: Path                      # run folder: checkpoint.pt, student.pt.000..., teacher.pt, report.json
    device: str = "cuda"           # or cpu (a tiny run to try the recipe)
    minutes: float = 8.0           # the student's budget: its learning rate's cosine runs over it
    steps: int = 0                 # or exactly this many steps (0: the time budget)
    teacher_minutes: float = 1.0   # fine-tune an ImageNet teacher first for this long (none if the pack's is tuned)
    teacher_steps: int = 0         # or this many steps
    init_onnx: Path | None = None  # start the student from this attention-ResNet (e.g. models/waste_cbam18.onnx)
    size: int = 128                # the student's input
    teacher_size: int = 160        # the views' size, the teacher's input
    batch_size: int = 256
    lr: float = 2e-3
    teacher_lr: float = 1e-3
    weight_decay: float = 0.05
    warmup: float = 0.03           # share of the budget the learning rate warms up over
    mixup: float = 1.0             # views mixed with Beta(a, a) weights (function matching); 0 disables
    kd_temperature: float = 1.0
    feature_kd: float = 1.0        # weight of matching the teacher's pooled features (0 disables)
    belt_p: float = 0.8            # share of views with the item cut out and pasted on a background
    white_balance: float = 0.15
    bf16: bool = True
    eval_minutes: float = 1.0      # holdout figures every so often
    checkpoint_minutes: float = 2.0
    seed: int = 0


class Budget:
    """How far a phase is through its budget (0 to 1), by steps or by the clock."""

    def __init__(self, minutes: float, steps: int, spent: float = 0.0, done: int = 0) -> None:
        self.minutes, self.steps = minutes, steps
        self.start, self.spent, self.done = time.monotonic() - spent, spent, done

    def elapsed(self) -> float:
        return time.monotonic() - self.start

    def progress(self) -> float:
        if self.steps > 0:
            return self.done / self.steps
        return self.elapsed() / max(self.minutes * 60, 1e-9)

    def lr_factor(self, warmup: float) -> float:
        p = min(self.progress(), 1.0)
        return min(1.0, (p + 1e-6) / max(warmup, 1e-6)) * 0.5 * (1 + math.cos(math.pi * p))


def _autocast(device: torch.device, enabled: bool) -> torch.autocast:
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=enabled)


def _fixed_views(data: Any, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(photos, the same items on the belt, labels): the holdout as train.py measures it, on the device."""
    tensors = []
    for loader in holdout_loaders(data, size, IMAGENET_MEAN, IMAGENET_STD):
        tensors.append(torch.cat([x for x, _ in loader]).to(device))
    return tensors[0], tensors[1], torch.from_numpy(data.labels).to(device)


@torch.no_grad()
def _accuracy(net: nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> float:
    net.eval()
    right = 0
    for k in range(0, len(x), 256):
        with _autocast(x.device, bf16):
            logits = embed_and_logits(net, x[k:k + 256].contiguous(memory_format=torch.channels_last))[1]
        right += int((logits.float().argmax(1) == y[k:k + 256]).sum())
    return right / max(len(y), 1)


def _optimizer(params: list[tuple[str, nn.Parameter]], lr: float, weight_decay: float) -> torch.optim.AdamW:
    decay = [p for _, p in params if p.ndim > 1]
    rest = [p for _, p in params if p.ndim <= 1]
    return torch.optim.AdamW([{"params": decay, "weight_decay": weight_decay},
                              {"params": rest, "weight_decay": 0.0}], lr=lr)


def _mix(x: torch.Tensor, a: float, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each view mixed with another of the batch, its own Beta(a, a) weight: (mixed, weights, partner)."""
    b = x.shape[0]
    perm = torch.randperm(b, generator=gen, device=x.device)
    if a <= 0:
        return x, torch.ones(b, device=x.device), perm
    beta = torch.distributions.Beta(torch.tensor(a, device=x.device), torch.tensor(a, device=x.device))
    lam = beta.sample((b,))
    return lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm], lam, perm


class _Progress:
    """A line every REPORT_EVERY seconds: where the phase is, how fast, how it learns."""

    def __init__(self, name: str, images: int) -> None:
        self.name, self.images = name, images
        self.last, self.seen, self.loss = time.monotonic(), 0, torch.zeros(())

    def step(self, budget: Budget, batch: int, loss: torch.Tensor, lr: float) -> None:
        """Reads the loss back from the device only when it prints: a read every step would stall a GPU."""
        self.seen += batch
        self.loss = self.loss.to(loss.device) + loss.detach() * batch
        now = time.monotonic()
        if now - self.last >= REPORT_EVERY:
            print(f"{self.name}: {budget.progress():.0%} of its budget, step {budget.done}, "
                  f"{budget.done * batch / self.images:.0f} epochs, {self.seen / (now - self.last):.0f} views/s, "
                  f"loss {float(self.loss) / max(self.seen, 1):.4f}, lr {lr:.2e}", flush=True)
            self.last, self.seen, self.loss = now, 0, torch.zeros(())


def _teacher(pack: TrainingPack, cfg: DistillConfig, bank: ImageBank, backgrounds: torch.Tensor,
             aug: AugmentConfig, gen: torch.Generator, device: torch.device, out: Path) -> nn.Module:
    """The pack's teacher, fine-tuned here first unless it already was (or this run did it before)."""
    saved = out / "teacher.pt"
    net = build_network(pack.teacher_arch, pretrained=False)
    if saved.exists():
        net.load_state_dict(load_checkpoint(saved)["model"])
        print(f"teacher: {saved} (fine-tuned by this run before)", flush=True)
        return net.to(device, memory_format=torch.channels_last).eval()
    net.load_state_dict(pack.teacher_state)
    net = net.to(device, memory_format=torch.channels_last)
    if pack.teacher_trained:
        print("teacher: the pack's, fine-tuned already", flush=True)
        return net.eval()
    print(f"teacher: fine-tuning ImageNet EfficientNet-Lite0 on the views for "
          f"{cfg.teacher_steps or cfg.teacher_minutes} {'steps' if cfg.teacher_steps else 'minutes'}", flush=True)
    opt = _optimizer(list(net.named_parameters()), cfg.teacher_lr, 0.01)
    budget, progress = Budget(cfg.teacher_minutes, cfg.teacher_steps), _Progress("teacher", len(bank))
    n = len(pack.classes)
    while budget.progress() < 1:
        net.train()
        idx = torch.randint(0, len(bank), (cfg.batch_size,), generator=gen, device=device)
        with torch.no_grad():
            x = normalise(belt_views(bank, idx, cfg.teacher_size, aug, backgrounds, gen), IMAGENET_MEAN, IMAGENET_STD)
            x, lam, perm = _mix(x.contiguous(memory_format=torch.channels_last), 0.2, gen)
            y = F.one_hot(bank.labels[idx], n).float() * 0.9 + 0.1 / n
            y = lam[:, None] * y + (1 - lam[:, None]) * y[perm]
        for g in opt.param_groups:
            g["lr"] = cfg.teacher_lr * budget.lr_factor(0.1)
        with _autocast(device, cfg.bf16):
            logits = embed_and_logits(net, x)[1]
        loss = -(y * F.log_softmax(logits.float(), 1)).sum(1).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        budget.done += 1
        progress.step(budget, cfg.batch_size, loss, opt.param_groups[0]["lr"])
    state = {k: v.half() if v.is_floating_point() else v for k, v in net.state_dict().items()}
    torch.save({"arch": pack.teacher_arch, "model": state, "classes": pack.classes, "size": cfg.teacher_size,
                "mean": IMAGENET_MEAN, "std": IMAGENET_STD, "epoch": budget.done, "history": []}, saved)
    return net.eval()


def distill(cfg: DistillConfig, on_eval: Callable[[dict[str, Any]], None] | None = None) -> dict[str, Any]:
    """Run (or resume) ``cfg.out``, which no other process may write meanwhile; returns the report."""
    with lock_run_folder(cfg.out):
        return _distill(cfg, on_eval)


def _distill(cfg: DistillConfig, on_eval: Callable[[dict[str, Any]], None] | None) -> dict[str, Any]:
    device = torch.device(cfg.device)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    out = cfg.out
    pack = load_pack(cfg.pack)
    classes, n = pack.classes, len(pack.classes)
    print(f"pack {cfg.pack}: {len(pack.train.labels)} training and {len(pack.holdout.labels)} holdout images, "
          f"{len(pack.backgrounds)} backgrounds; device {device}", flush=True)
    bank = ImageBank.from_arrays(pack.train.images, pack.train.masks, pack.train.labels, device)
    backgrounds = torch.from_numpy(np.ascontiguousarray(pack.backgrounds[..., ::-1])).permute(0, 3, 1, 2).to(device)
    aug = AugmentConfig(belt_p=cfg.belt_p, white_balance=cfg.white_balance)
    teacher = _teacher(pack, cfg, bank, backgrounds, aug, gen, device, out)
    photos_t, belt_t, labels = _fixed_views(pack.holdout, cfg.teacher_size, device)
    teacher_acc = {"photos": _accuracy(teacher, photos_t, labels, cfg.bf16),
                   "belt": _accuracy(teacher, belt_t, labels, cfg.bf16)}
    print(f"teacher holdout top-1: photos {teacher_acc['photos']:.3f}, belt {teacher_acc['belt']:.3f}", flush=True)
    photos, belt, _ = _fixed_views(pack.holdout, cfg.size, device)

    arch = {**STUDENT_ARCH, "num_classes": n}
    student = build_network(arch)
    if cfg.init_onnx:
        views = AugmentedViews(pack.train, cfg.size, aug, cfg.seed, IMAGENET_MEAN, IMAGENET_STD)
        student.load_state_dict(init_from_onnx(cfg.init_onnx, classes, arch, views, cfg.size).state_dict())
        print(f"student: from {cfg.init_onnx}", flush=True)
    student = student.to(device, memory_format=torch.channels_last)
    projector = nn.Linear(embedding_dim(student), embedding_dim(teacher)).to(device)
    opt = _optimizer(list(student.named_parameters()) + list(projector.named_parameters()), cfg.lr,
                     cfg.weight_decay)
    ckpt_path, history = out / "checkpoint.pt", []
    budget = Budget(cfg.minutes, cfg.steps)
    if ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        student.load_state_dict(ckpt["model"])
        projector.load_state_dict(ckpt["projector"])
        opt.load_state_dict(ckpt["optimizer"])
        history = ckpt["history"]
        budget = Budget(cfg.minutes, cfg.steps, ckpt["elapsed"], ckpt["step"])
        print(f"resuming {ckpt_path} at step {budget.done} ({budget.progress():.0%} of the budget)", flush=True)

    def evaluate() -> None:
        row = {"step": budget.done, "epochs": budget.done * cfg.batch_size / len(bank),
               "minutes": budget.elapsed() / 60, "holdout_acc": _accuracy(student, photos, labels, cfg.bf16),
               "holdout_belt_acc": _accuracy(student, belt, labels, cfg.bf16)}
        history.append(row)
        print(f"student at step {row['step']} ({row['epochs']:.0f} epochs, {row['minutes']:.1f} min): holdout "
              f"top-1 photos {row['holdout_acc']:.3f}, belt {row['holdout_belt_acc']:.3f}", flush=True)
        if on_eval is not None:
            on_eval(row)

    def save() -> None:
        ckpt = {"arch": arch, "model": student.state_dict(), "projector": projector.state_dict(),
                "optimizer": opt.state_dict(), "step": budget.done, "elapsed": budget.elapsed(),
                "history": history, "classes": classes, "size": cfg.size, "mean": IMAGENET_MEAN,
                "std": IMAGENET_STD, "data": pack.data, "args": {k: str(v) for k, v in asdict(cfg).items()},
                "epoch": round(budget.done * cfg.batch_size / len(bank))}
        tmp = ckpt_path.with_suffix(".tmp")
        torch.save(ckpt, tmp)
        tmp.replace(ckpt_path)

    progress = _Progress("student", len(bank))
    last_eval = last_save = time.monotonic()
    while budget.progress() < 1:
        student.train()
        idx = torch.randint(0, len(bank), (cfg.batch_size,), generator=gen, device=device)
        with torch.no_grad():
            views = belt_views(bank, idx, cfg.teacher_size, aug, backgrounds, gen)
            x_t = _mix(normalise(views, IMAGENET_MEAN, IMAGENET_STD), cfg.mixup, gen)[0]
            x_t = x_t.contiguous(memory_format=torch.channels_last)
            with _autocast(device, cfg.bf16):
                t_emb, t_logits = embed_and_logits(teacher, x_t)
            # The same view for both: the student's is the teacher's at the student's size.
            x_s = x_t if cfg.size == cfg.teacher_size else F.interpolate(
                x_t, size=(cfg.size, cfg.size), mode="bilinear", antialias=True, align_corners=False)
        for g in opt.param_groups:
            g["lr"] = cfg.lr * budget.lr_factor(cfg.warmup)
        with _autocast(device, cfg.bf16):
            emb, logits = embed_and_logits(student, x_s.contiguous(memory_format=torch.channels_last))
            projected = projector(emb) if cfg.feature_kd > 0 else None
        loss = distillation_loss(logits.float(), t_logits.float(), cfg.kd_temperature)
        if projected is not None:
            loss = loss + cfg.feature_kd * feature_distance(projected.float(), t_emb.float())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        budget.done += 1
        progress.step(budget, cfg.batch_size, loss, opt.param_groups[0]["lr"])
        now = time.monotonic()
        if now - last_eval >= cfg.eval_minutes * 60:
            evaluate()
            last_eval = now
        if now - last_save >= cfg.checkpoint_minutes * 60:
            save()
            last_save = now
    evaluate()
    save()
    weights = {k: v.half() if v.is_floating_point() else v for k, v in student.state_dict().items()}
    final = {k: v for k, v in load_checkpoint(ckpt_path).items() if k not in ("optimizer", "projector")}
    parts = save_split({**final, "model": weights}, out / "student.pt")
    report = {"teacher": teacher_acc, "student": history[-1], "history": history, "config": asdict(cfg)}
    (out / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    print(f"student weights in {len(parts)} part(s): {', '.join(p.name for p in parts)}; "
          f"`waste-sorting export {out / 'student.pt'} --out model.onnx` joins and exports them", flush=True)
    return report
