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


def _gate(z: torch.Tensor, scale: float) -> torch.Tensor:
    """sigmoid, or ``scale * sigmoid``: with scale 2 a gate whose input is 0 passes x exactly as it is
    (2 * sigmoid(0) = 1) and still learns (the slope there is 0.5), so attention can start as the
    identity inside pretrained blocks."""
    g = torch.sigmoid(z)
    return g if scale == 1.0 else g * scale


class ChannelAttention(nn.Module):
    """Channel gate: sigmoid(MLP(avgpool(x)) + MLP(maxpool(x)))."""

    def __init__(self, channels: int, reduction: int = 16, gate_scale: float = 1.0) -> None:
        super().__init__()
        self.gate_scale = gate_scale
        hidden = max(channels // reduction, 8)
        self.mlp = nn.Sequential(
            nn.Conv2d(channels, hidden, 1, bias=False),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1, bias=False),
        )

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        avg = self.mlp(torch.mean(x, dim=(2, 3), keepdim=True))
        mx = self.mlp(torch.amax(x, dim=(2, 3), keepdim=True))
        return _gate(avg + mx, self.gate_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class SpatialAttention(nn.Module):
    """Spatial gate: sigmoid(conv7x7([mean_c(x), max_c(x)]))."""

    def __init__(self, kernel_size: int = 7, gate_scale: float = 1.0) -> None:
        super().__init__()
        self.gate_scale = gate_scale
        self.conv = nn.Conv2d(2, 1, kernel_size, padding=kernel_size // 2, bias=False)

    def gate(self, x: torch.Tensor) -> torch.Tensor:
        pooled = torch.cat(
            [torch.mean(x, dim=1, keepdim=True), torch.amax(x, dim=1, keepdim=True)], dim=1
        )
        return _gate(self.conv(pooled), self.gate_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class CBAM(nn.Module):
    """Channel attention followed by spatial attention."""

    def __init__(self, channels: int, reduction: int = 16, gate_scale: float = 1.0) -> None:
        super().__init__()
        self.channel = ChannelAttention(channels, reduction, gate_scale)
        self.spatial = SpatialAttention(gate_scale=gate_scale)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.spatial(self.channel(x))


class SqueezeExcitation(nn.Module):
    """Channel gate from the average-pooled descriptor only."""

    def __init__(self, channels: int, reduction: int = 16, gate_scale: float = 1.0) -> None:
        super().__init__()
        self.gate_scale = gate_scale
        hidden = max(channels // reduction, 8)
        self.fc = nn.Sequential(
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * _gate(self.fc(torch.mean(x, dim=(2, 3), keepdim=True)), self.gate_scale)


def make_attention(kind: str, channels: int, gate_scale: float = 1.0) -> nn.Module:
    """Build the attention module named by ``kind`` (one of ATTENTION_TYPES)."""
    if kind == "cbam":
        return CBAM(channels, gate_scale=gate_scale)
    if kind == "se":
        return SqueezeExcitation(channels, gate_scale=gate_scale)
    if kind == "none":
        return nn.Identity()
    raise ValueError(f"unknown attention type {kind!r}; choose one of {ATTENTION_TYPES}")
