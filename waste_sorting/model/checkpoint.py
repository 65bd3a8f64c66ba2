"""Training checkpoints: read one, and the network it holds."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import nn

from waste_sorting.model.registry import build_network


def load_checkpoint(path: Path) -> dict[str, Any]:
    return torch.load(path, map_location="cpu", weights_only=False)


def network_from_checkpoint(ckpt: dict[str, Any]) -> nn.Module:
    net = build_network(ckpt["arch"], pretrained=False)
    net.load_state_dict(ckpt["model"])
    return net.eval()
