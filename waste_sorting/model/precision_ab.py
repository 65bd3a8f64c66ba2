"""`waste-sorting train-ab`: FP32 against bf16 autocast training, interleaved step by step on the same batches.

Two copies of one initialised network train on identical batches, one step
each in turn, so both see the same load on a shared machine; the figures are
images per second of each and their ratio, then the holdout top-1 (photos and
belt) of each after the same epochs.
"""

from __future__ import annotations

import copy
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from waste_sorting.inference.preprocess import IMAGENET_MEAN, IMAGENET_STD
from waste_sorting.model.augment import AugmentConfig
from waste_sorting.model.dataset import AugmentedViews, preload
from waste_sorting.model.registry import build_network, embed_and_logits


def _step(net: torch.nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> float:
    t0 = time.perf_counter()
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
        _emb, logits = embed_and_logits(net, x)
    loss = F.cross_entropy(logits.float(), y, label_smoothing=0.1)
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    return time.perf_counter() - t0


def train_ab(data: Path, epochs: int, size: int, batch_size: int, limit_per_class: int, lr: float
             ) -> dict[str, Any]:
    """FP32 and bf16 copies of one network trained on the same batches: speed and holdout top-1 of each."""
    from waste_sorting.model.train import holdout_loaders, predict, split_folder

    torch.manual_seed(0)
    classes, train_items, hold_items = split_folder(data, 0.2, 42, limit_per_class)
    train_data, hold_data = preload(train_items), preload(hold_items)
    views = AugmentedViews(train_data, size, AugmentConfig(belt_p=0.8), 0, IMAGENET_MEAN, IMAGENET_STD)
    loader = torch.utils.data.DataLoader(views, batch_size=batch_size, shuffle=True, drop_last=True)
    base = build_network({"name": "attention-resnet", "depth": 18, "attention": "cbam", "num_classes": len(classes),
                          "width": 64, "dropout": 0.2}).to(memory_format=torch.channels_last)
    nets = {"fp32": base, "bf16": copy.deepcopy(base)}
    opts = {k: torch.optim.AdamW(n.parameters(), lr=lr, weight_decay=0.05) for k, n in nets.items()}
    seconds = {k: 0.0 for k in nets}
    seen = 0
    for epoch in range(epochs):
        views.epoch = epoch
        for n in nets.values():
            n.train()
        for x, y in loader:
            x = x.contiguous(memory_format=torch.channels_last)
            for k in nets:
                seconds[k] += _step(nets[k], opts[k], x, y, k == "bf16")
            seen += y.shape[0]
        print(f"epoch {epoch + 1}/{epochs}: fp32 {seen / seconds['fp32']:.1f} img/s, "
              f"bf16 {seen / seconds['bf16']:.1f} img/s", flush=True)
    photos, belt = holdout_loaders(hold_data, size, IMAGENET_MEAN, IMAGENET_STD)
    result: dict[str, Any] = {"images_per_epoch": len(views), "epochs": epochs}
    for k, n in nets.items():
        p, labels = predict(n, photos)
        bp, blabels = predict(n, belt)
        result[k] = {"images_per_s": seen / seconds[k], "holdout_top1": float((p.argmax(1) == labels).mean()),
                     "belt_top1": float((bp.argmax(1) == blabels).mean())}
        print(f"{k}: {result[k]['images_per_s']:.1f} img/s, holdout top-1 {result[k]['holdout_top1']:.3f}, "
              f"belt {result[k]['belt_top1']:.3f} ({len(labels)} images)")
    result["speedup"] = result["bf16"]["images_per_s"] / result["fp32"]["images_per_s"]
    print(f"bf16 / fp32 speed: {result['speedup']:.2f}x")
    return result
