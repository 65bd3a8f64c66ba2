"""ImageNet ResNet weights in torchvision's state-dict layout, mapped into the attention-ResNet.

torchvision's ``resnet18``/``resnet34`` have the same stem and BasicBlocks as
the attention-ResNet of the same depth; what they lack is the attention before
each skip add. The network is built with gates of ``2 * sigmoid`` and every
attention module's last layer zeroed, so each gate is exactly 1 at step 0 and
the network computes exactly what the pretrained ResNet computes, while the
gates still receive gradients. The ImageNet classifier head is left out (the
cell's classes are not ImageNet's); torchvision itself is not needed, only a
file saved with ``torch.save(model.state_dict(), FILE)``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import torch
from torch import nn

from waste_sorting.errors import ModelError
from waste_sorting.model.registry import build_network

IDENTITY_GATE_SCALE = 2.0
_BLOCK_DEPTH = {(2, 2, 2, 2): 18, (3, 4, 6, 3): 34}


def _rename(key: str) -> str | None:
    """torchvision key -> attention-ResNet key (None: the ImageNet head)."""
    if key.startswith("fc."):
        return None
    key = key.replace("conv1.", "stem.0.", 1) if key.startswith("conv1.") else key
    key = key.replace("bn1.", "stem.1.", 1) if key.startswith("bn1.") else key
    m = re.match(r"layer(\d)\.(\d+)\.(.*)", key)
    if m:
        rest = m.group(3).replace("downsample.", "shortcut.")
        key = f"stages.{int(m.group(1)) - 1}.{m.group(2)}.{rest}"
    return key


def depth_of(state: dict[str, torch.Tensor]) -> int:
    """18 or 34 from the blocks the state dict holds; refuses Bottleneck ResNets (50 and deeper)."""
    if any(k.endswith("conv3.weight") for k in state):
        raise ModelError("a Bottleneck ResNet (resnet50 or deeper): the attention-ResNet is built of BasicBlocks; "
                         "give resnet18 or resnet34 weights")
    blocks = tuple(len({k.split(".")[1] for k in state if k.startswith(f"layer{i}.")}) for i in range(1, 5))
    if blocks not in _BLOCK_DEPTH:
        raise ModelError(f"blocks per stage {blocks} are neither resnet18's nor resnet34's")
    return _BLOCK_DEPTH[blocks]


def load_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except (OSError, RuntimeError) as exc:
        raise ModelError(f"{path}: not a PyTorch state dict ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    if not isinstance(state, dict) or "conv1.weight" not in state:
        raise ModelError(f"{path}: not a torchvision ResNet state dict (no conv1.weight)")
    return state


def network_from_torchvision(state: dict[str, torch.Tensor], arch: dict[str, Any]) -> nn.Module:
    """The attention-ResNet of ``arch`` (its depth must be the weights') with the weights loaded and
    every attention module the identity; ``arch`` gets the identity gate scale."""
    depth = depth_of(state)
    if arch.get("depth") != depth or arch.get("width", 64) != 64:
        raise ModelError(f"these are resnet{depth} weights (width 64): train with --depth {depth} --width 64")
    arch["gate_scale"] = IDENTITY_GATE_SCALE
    net = build_network(arch)
    own = net.state_dict()
    mapped: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        name = _rename(key)
        if name is None:
            continue
        if name not in own or own[name].shape != value.shape:
            raise ModelError(f"torchvision key {key} has no place of that shape in the attention-ResNet")
        mapped[name] = value
    missing = [k for k in own if k not in mapped and ".attention." not in k and not k.startswith("fc.")]
    if missing:
        raise ModelError(f"the weights lack {', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}")
    net.load_state_dict(mapped, strict=False)
    for module in net.modules():  # each gate's input starts at 0: 2 * sigmoid(0) = 1
        if hasattr(module, "mlp"):
            nn.init.zeros_(module.mlp[-1].weight)
        elif hasattr(module, "fc") and isinstance(module.fc, nn.Sequential):
            nn.init.zeros_(module.fc[-1].weight)
            nn.init.zeros_(module.fc[-1].bias)
        elif module.__class__.__name__ == "SpatialAttention":
            nn.init.zeros_(module.conv.weight)
    return net
