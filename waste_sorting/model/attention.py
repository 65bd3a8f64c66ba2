"""Attention modules placed inside each residual block (CBAM and SE).

CBAM (Woo et al. 2018): channel attention from average- and max-pooled
descriptors through a shared MLP, then spatial attention from the channel-wise
mean and max through a 7x7 convolution. SE (Hu et al. 2018) is the channel-only
baseline kept for the ablation.
"""

from __future__ import annotations

import torch
from torch import nn

ATTENTION_TYPES = ("cbam", "se", "none")


class ChannelAttention(nn.Module):
    """Channel gate: sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(torch.mean(x, dim=(2, 3), keepdim=True))
        mx = self.mlp(torch.amax(x, dim=(2, 3), keepdim=True))
        return torch.sigmoid(avg + mx)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SpatialAttention(nn.Module):
    """Spatial gate: sigmoid(conv7x7([mean_c(x), max_c(x)]))."""

    def __init__(self, kernel_size: int = 7) -> None:
        super().__init__()
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat(
            [torch.mean(x, dim=1, keepdim=True), torch.amax(x, dim=1, keepdim=True)], dim=1
        )
        return torch.sigmoid(self.conv(pooled))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class CBAM(nn.Module):
    """Channel attention followed by spatial attention."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction)
        self.spatial = SpatialAttention()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class SqueezeExcitation(nn.Module):
    """Channel gate from the average-pooled descriptor only."""

    def __init__(self, channels: int, reduction: int = 16) -> None:
        super().__init__()
        hidden = max(channels // reduction, 8)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(self.fc(torch.mean(x, dim=(2, 3), keepdim=True)))


def make_attention(kind: str, channels: int) -> nn.Module:
    """Build the attention module named by ``kind`` (one of ATTENTION_TYPES)."""
    if kind == "cbam":
        return CBAM(channels)
    if kind == "se":
        return SqueezeExcitation(channels)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown attention type {kind!r}; choose one of {ATTENTION_TYPES}")
