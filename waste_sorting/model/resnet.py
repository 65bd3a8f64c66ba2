"""ResNet with attention inside every residual block (before the skip add)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from waste_sorting.model.attention import make_attention

#: Blocks per stage for the BasicBlock depths we support.
DEPTHS: dict[int, tuple[int, int, int, int]] = {
    10: (1, 1, 1, 1),
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
}


@dataclass(frozen=True)
class ArchConfig:
    """Everything needed to rebuild the network (stored in checkpoints and sidecars)."""

    depth: int = 18
    attention: str = "cbam"
    num_classes: int = 6
    width: int = 64
    dropout: float = 0.2
    gate_scale: float = 1.0  # 2.0: attention gates can start as the identity (torchvision initialisation)


class BasicBlock(nn.Module):
    """conv-bn-relu-conv-bn, attention, then the skip add and relu."""

    def __init__(self, in_ch: int, out_ch: int, stride: int, attention: str, gate_scale: float = 1.0) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_ch)
        self.conv2 = nn.Conv2d(out_ch, out_ch, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_ch)
        self.attention = make_attention(attention, out_ch, gate_scale)
        self.relu = nn.ReLU(inplace=True)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_ch != out_ch:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_ch, out_ch, 1, stride, bias=False), nn.BatchNorm2d(out_ch)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        out = self.attention(out)
        return self.relu(out + self.shortcut(x))


class AttentionResNet(nn.Module):
    """ImageNet-style ResNet stem and four stages; logits out."""

    def __init__(self, cfg: ArchConfig) -> None:
        super().__init__()
        if cfg.depth not in DEPTHS:
            raise ValueError(f"unsupported depth {cfg.depth}; choose one of {sorted(DEPTHS)}")
        self.cfg = cfg
        w = cfg.width
        self.stem = nn.Sequential(
            nn.Conv2d(3, w, 7, 2, 3, bias=False),
            nn.BatchNorm2d(w),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
        )
        stages: list[nn.Module] = []
        in_ch = w
        for i, blocks in enumerate(DEPTHS[cfg.depth]):
            out_ch = w * 2**i
            layers = []
            for b in range(blocks):
                stride = 2 if (b == 0 and i > 0) else 1
                layers.append(BasicBlock(in_ch, out_ch, stride, cfg.attention, cfg.gate_scale))
                in_ch = out_ch
            stages.append(nn.Sequential(*layers))
        self.stages = nn.Sequential(*stages)
        self.dropout = nn.Dropout(cfg.dropout)
        self.fc = nn.Linear(in_ch, cfg.num_classes)
        self._init_weights()

    def _init_weights(self) -> None:
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        # Zero-init the last BN of each block so every block starts as identity.
        for m in self.modules():
            if isinstance(m, BasicBlock):
                nn.init.zeros_(m.bn2.weight)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.stages(self.stem(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Globally pooled features, the input of the classifier head."""
        return torch.mean(self.features(x), dim=(2, 3))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.dropout(self.embed(x)))


def build_model(cfg: ArchConfig) -> AttentionResNet:
    return AttentionResNet(cfg)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
