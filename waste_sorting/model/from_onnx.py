"""The trainable attention-ResNet back from a shipped ONNX file (no run folder needed).

The exporter folds each batch norm into the convolution before it, so the file
holds ``W' = W * g / s`` and ``b' = beta - mu * g / s``. Loading puts ``W'`` in
the convolution, scaled to unit-variance output on real images, and rebuilds a
batch norm that computes exactly ``+ b'`` in eval mode with the running
statistics measured on them: then training mode, which normalises by batch
statistics, starts close to the same function, at the weight scale training
would have left.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import torch
from onnx import numpy_helper
from torch import nn

from waste_sorting.errors import ModelError
from waste_sorting.inference.metadata import ModelMetadata
from waste_sorting.model.registry import build_network

_MIN_SCALE = 1e-3  # a channel that barely varies keeps its scale instead of being blown up


def _initializers(model: onnx.ModelProto) -> dict[str, np.ndarray]:
    """Every initializer as FP32, with the FP16-storage casts (export.store_weights_fp16) undone."""
    arrays = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Cast" and node.input[0] in arrays:
            arrays[node.output[0]] = arrays[node.input[0]]
    return {k: v.astype(np.float32) for k, v in arrays.items()}


def _conv_calls(net: nn.Module, size: int) -> list[nn.Conv2d]:
    """The network's convolutions in the order one forward pass calls them (shared ones repeat)."""
    calls: list[nn.Conv2d] = []
    hooks = [m.register_forward_hook(lambda mod, _i, _o: calls.append(mod))
             for m in net.modules() if isinstance(m, nn.Conv2d)]
    try:
        with torch.no_grad():
            net.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
    return calls


def _batchnorm_after(net: nn.Module) -> dict[nn.Conv2d, nn.BatchNorm2d]:
    """Each convolution that a batch norm follows in its Sequential or block, and that norm."""
    pairs: dict[nn.Conv2d, nn.BatchNorm2d] = {}
    for module in net.modules():
        children = list(module.named_children())
        for (_name, child), (_next, nxt) in zip(children, children[1:], strict=False):
            if isinstance(child, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d):
                pairs[child] = nxt
        # BasicBlock names them conv1/bn1, conv2/bn2 (attention sits between bn2 and the add).
        for i in (1, 2):
            conv, bn = getattr(module, f"conv{i}", None), getattr(module, f"bn{i}", None)
            if isinstance(conv, nn.Conv2d) and isinstance(bn, nn.BatchNorm2d):
                pairs[conv] = bn
    return pairs


def network_from_onnx(path: Path, calibration: torch.Tensor | None = None) -> tuple[nn.Module, ModelMetadata]:
    """The attention-ResNet of ``path`` (and its metadata) as a PyTorch module in eval mode.

    ``calibration`` (N x 3 x S x S, normalised) sets the batch norms' running statistics; without
    it they are the identity statistics, which is exact in eval mode but not in training mode.
    """
    meta = ModelMetadata.for_model(path)
    if meta.architecture.get("name") != "attention-resnet":
        raise ModelError(f"{path}: holds a {meta.architecture.get('name')!r}, not the attention-ResNet; "
                         "only the cell's model can be fine-tuned from its ONNX file")
    model = onnx.load(str(path))
    arrays = _initializers(model)
    net = build_network(meta.architecture)
    calls = _conv_calls(net, meta.input_size)
    nodes = [n for n in model.graph.node if n.op_type == "Conv"]
    if len(nodes) != len(calls):
        raise ModelError(f"{path}: {len(nodes)} convolutions in the file, {len(calls)} in a "
                         f"{meta.architecture} network; the file does not match its sidecar")
    bn_of = _batchnorm_after(net)
    fused_bias: dict[nn.BatchNorm2d, np.ndarray] = {}
    for conv, node in zip(calls, nodes, strict=True):
        weight = arrays[node.input[1]]
        if tuple(weight.shape) != tuple(conv.weight.shape):
            raise ModelError(f"{path}: convolution {node.output[0]} is {weight.shape}, the network's "
                             f"is {tuple(conv.weight.shape)}")
        conv.weight.data.copy_(torch.from_numpy(weight))
        if len(node.input) > 2:
            if conv not in bn_of:
                raise ModelError(f"{path}: a biased convolution where the network has no batch norm")
            fused_bias[bn_of[conv]] = arrays[node.input[2]]
    gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
    fc: Any = net.fc
    fc.weight.data.copy_(torch.from_numpy(arrays[gemm.input[1]]))
    fc.bias.data.copy_(torch.from_numpy(arrays[gemm.input[2]]))
    mean, var = _conv_output_stats(net, fused_bias, calibration)
    conv_of = {bn: conv for conv, bn in bn_of.items()}
    for bn, bias in fused_bias.items():
        mu = torch.from_numpy(mean.get(bn, np.zeros_like(bias)))
        v = torch.from_numpy(var.get(bn, np.full_like(bias, 1.0 - bn.eps)))
        # Rescale the convolution to unit-variance output, the scale a freshly trained one has:
        # W' alone is far from it (norms of 1 where training left 10), which makes any optimiser's
        # steps relatively huge and wrecks the start it was given. Eval mode stays exact.
        scale = torch.sqrt(v).clamp(min=_MIN_SCALE) if calibration is not None else torch.ones_like(v)
        conv_of[bn].weight.data.div_(scale.view(-1, 1, 1, 1))
        running_var = v / scale**2
        bn.running_mean.copy_(mu / scale)
        bn.running_var.copy_(running_var)
        bn.weight.data.copy_(scale * torch.sqrt(running_var + bn.eps))
        bn.bias.data.copy_(torch.from_numpy(bias) + mu)
    return net.eval(), meta


def _conv_output_stats(net: nn.Module, norms: dict[nn.BatchNorm2d, np.ndarray], calibration: torch.Tensor | None
                       ) -> tuple[dict[nn.BatchNorm2d, np.ndarray], dict[nn.BatchNorm2d, np.ndarray]]:
    """Per-channel mean and variance of each norm's input on ``calibration``, the exact network running."""
    if calibration is None:
        return {}, {}
    for bn, bias in norms.items():  # identity statistics: eval mode computes conv + b' exactly
        bn.running_mean.zero_()
        bn.running_var.fill_(1.0 - bn.eps)
        bn.weight.data.fill_(1.0)
        bn.bias.data.copy_(torch.from_numpy(bias))
    sums: dict[nn.BatchNorm2d, list[torch.Tensor]] = {bn: [] for bn in norms}

    def record(mod: nn.Module, inputs: tuple[torch.Tensor, ...], _out: torch.Tensor) -> None:
        sums[mod].append(inputs[0].detach().transpose(0, 1).reshape(inputs[0].shape[1], -1))

    hooks = [bn.register_forward_hook(record) for bn in norms]
    try:
        with torch.no_grad():
            net.eval()
            for batch in calibration.split(64):
                net(batch)
    finally:
        for h in hooks:
            h.remove()
    mean = {bn: torch.cat(v, 1).mean(1).numpy() for bn, v in sums.items()}
    var = {bn: torch.cat(v, 1).var(1).numpy() for bn, v in sums.items()}
    return mean, var
