"""Training checkpoints: read one (whole, or in the parts a lent machine sent back), and the network it holds."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch
from torch import nn

from waste_sorting.errors import DataError
from waste_sorting.model.registry import build_network

SPLIT_SIZE = 15 * 2**20  # bytes: a file a lent machine can send back whole (16 MiB each)


def load_checkpoint(path: Path) -> dict[str, Any]:
    """``path``, or where it is missing, its parts ``path.000``, ``path.001``, ... joined (``save_split``)."""
    if not path.exists() and path.with_name(path.name + ".000").exists():
        return load_split(path)
    return torch.load(path, map_location="cpu", weights_only=False)


def network_from_checkpoint(ckpt: dict[str, Any]) -> nn.Module:
    net = build_network(ckpt["arch"], pretrained=False)
    net.load_state_dict(ckpt["model"])
    return net.eval()


def save_split(obj: Any, path: Path, part_bytes: int = SPLIT_SIZE) -> list[Path]:
    """``torch.save(obj)`` as ``path.000``, ``path.001``, ...: each small enough to come back from a lent
    machine. ``load_split`` joins them."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    data = buf.getvalue()
    for old in path.parent.glob(path.name + ".[0-9][0-9][0-9]"):
        old.unlink()
    parts = []
    for k, start in enumerate(range(0, len(data), part_bytes)):
        part = path.with_name(f"{path.name}.{k:03d}")
        tmp = part.with_name(part.name + ".tmp")
        tmp.write_bytes(data[start:start + part_bytes])
        tmp.replace(part)
        parts.append(part)
    return parts


def load_split(path: Path) -> Any:
    """What ``save_split`` wrote as ``path``'s parts."""
    parts = sorted(path.parent.glob(path.name + ".[0-9][0-9][0-9]"))
    if not parts:
        raise DataError(f"no {path.name}.000 in {path.parent}")
    return torch.load(io.BytesIO(b"".join(p.read_bytes() for p in parts)), map_location="cpu", weights_only=False)
