"""`waste-sorting average`: the mean of a run's last epochs' weights, batch norm measured again.

Late in a decaying schedule the weights wander around a flat minimum; their
mean sits nearer its centre and usually generalises a little better than any
one epoch (stochastic weight averaging). The batch-norm statistics that fit the
averaged weights are not the average of each epoch's, so they are measured
again on training views, the way training draws them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from waste_sorting.data.folders import fingerprint
from waste_sorting.errors import DataError, UsageError
from waste_sorting.model.augment import AugmentConfig
from waste_sorting.model.checkpoint import load_checkpoint
from waste_sorting.model.dataset import AugmentedViews, preload
from waste_sorting.model.registry import build_network
from waste_sorting.model.train import (
    holdout_loaders,
    predict,
    split_folder,
    weights_only,
    write_report,
)


def average_states(states: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    """Element-wise mean of floating-point tensors; counters (integer buffers) from the last state."""
    if not states:
        raise ValueError("nothing to average")
    keys = states[0].keys()
    if any(s.keys() != keys for s in states):
        raise ValueError("the checkpoints hold different networks")
    return {k: (torch.stack([s[k].float() for s in states]).mean(0).to(states[0][k].dtype)
                if states[0][k].is_floating_point() else states[-1][k].clone()) for k in keys}


@torch.no_grad()
def recalibrate_batchnorm(net: nn.Module, loader: torch.utils.data.DataLoader) -> int:
    """Re-measure every batch-norm layer's running mean/variance over ``loader``; returns images seen."""
    norms = [m for m in net.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a plain average over every batch, not an exponential one
    net.train()
    seen = 0
    for x, _ in loader:
        net(x.contiguous(memory_format=torch.channels_last))
        seen += x.shape[0]
    for m, momentum in zip(norms, momenta, strict=True):
        m.momentum = momentum
    net.eval()
    return seen


def average_run(checkpoints: list[Path], data: Path, out: Path, seed: int, no_export: bool) -> dict[str, Any]:
    """Average a run's epoch checkpoints, re-measure batch norm, report on the holdout and export."""
    ckpts = [load_checkpoint(p) for p in checkpoints]
    last = ckpts[-1]
    if any(c["arch"] != last["arch"] or c["size"] != last["size"] for c in ckpts):
        raise UsageError("the checkpoints come from different architectures or input sizes")
    trained = last["data"]
    classes, train_items, hold_items = split_folder(data, trained["holdout_fraction"], trained["split_seed"])
    if fingerprint(train_items) != trained["fingerprint"]:
        raise DataError(f"{data} is not the data these checkpoints were trained on (fingerprint differs)")
    net = build_network(last["arch"]).to(memory_format=torch.channels_last)
    net.load_state_dict(average_states([c["model"] for c in ckpts]))
    size, mean, std = int(last["size"]), tuple(last["mean"]), tuple(last["std"])
    belt_p = float(last.get("args", {}).get("belt_p", 0.5))
    views = AugmentedViews(preload(train_items), size, AugmentConfig(belt_p=belt_p), seed, mean, std)
    seen = recalibrate_batchnorm(net, torch.utils.data.DataLoader(views, batch_size=64, shuffle=False))
    print(f"averaged {len(ckpts)} checkpoints (epochs {', '.join(str(c.get('epoch')) for c in ckpts)}); "
          f"batch norm measured on {seen} training views", flush=True)
    hold_loader, hold_belt_loader = holdout_loaders(preload(hold_items), size, mean, std)
    out.mkdir(parents=True, exist_ok=True)
    averaged_from = [str(p) for p in checkpoints]
    report = write_report(out, classes, *predict(net, hold_loader), *predict(net, hold_belt_loader),
                          last.get("history", []), last["arch"], averaged_from=averaged_from)
    ckpt_path = out / "checkpoint.pt"
    torch.save({**weights_only(last), "model": net.state_dict(), "averaged_from": averaged_from}, ckpt_path)
    if last["arch"].get("name") == "attention-resnet" and not no_export:
        from waste_sorting.model.export import export_checkpoint

        print(f"exported {export_checkpoint(ckpt_path, out / 'model.onnx', holdout_top1=report['top1'])}")
    return report
