"""ONNX export of a trained checkpoint, with FP16 weight storage and a sidecar JSON.

The exported graph takes ``input`` (N x 3 x S x S float32, normalised RGB) and
returns ``logits`` (N x C). Batch is dynamic. Weights are stored as FP16 and
cast to FP32 once when the session loads them (ONNX Runtime folds the casts),
which halves the file while CPU arithmetic stays FP32.
"""

from __future__ import annotations

import dataclasses
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch
from onnx import helper, numpy_helper

from waste_sorting.inference.metadata import ModelMetadata, sidecar_path
from waste_sorting.model.checkpoint import load_checkpoint, network_from_checkpoint
from waste_sorting.model.registry import OPSET

INPUT_NAME, OUTPUT_NAME = "input", "logits"


def store_weights_fp16(model: onnx.ModelProto, min_elements: int = 256) -> onnx.ModelProto:
    """Replace large FP32 initializers by FP16 ones plus a Cast back to FP32."""
    graph = model.graph
    casts = []
    for init in list(graph.initializer):
        if init.data_type != onnx.TensorProto.FLOAT or int(np.prod(init.dims)) < min_elements:
            continue
        arr = numpy_helper.to_array(init)
        if np.abs(arr).max(initial=0.0) > 6.0e4:  # would overflow FP16: keep FP32
            continue
        half = numpy_helper.from_array(arr.astype(np.float16), init.name + "_fp16")
        graph.initializer.remove(init)
        graph.initializer.append(half)
        casts.append(helper.make_node("Cast", [half.name], [init.name], to=onnx.TensorProto.FLOAT,
                                      name=f"cast_{init.name}"))
    for node in reversed(casts):
        graph.node.insert(0, node)
    return model


def export_checkpoint(ckpt_path: Path, onnx_path: Path, holdout_top1: float | None = None,
                      fp16_weights: bool = True) -> Path:
    """Export ``ckpt_path`` to ``onnx_path`` and write its sidecar; returns the ONNX path."""
    ckpt = load_checkpoint(ckpt_path)
    history = ckpt.get("history", [])
    top1 = holdout_top1 if holdout_top1 is not None else (history[-1]["holdout_acc"] if history else None)
    meta = ModelMetadata(
        classes=list(ckpt["classes"]), input_size=int(ckpt["size"]), mean=list(ckpt["mean"]), std=list(ckpt["std"]),
        architecture=ckpt["arch"], input_name=INPUT_NAME, output_name=OUTPUT_NAME,
        training={**ckpt.get("data", {}), "epochs": ckpt.get("epoch"),
                  "teacher": ckpt.get("args", {}).get("teacher")},
        accuracy={"holdout_top1": top1, "split": "stratified holdout, never trained on"},
    )
    return export_network(network_from_checkpoint(ckpt), meta, onnx_path, fp16_weights)


def export_network(net: torch.nn.Module, meta: ModelMetadata, onnx_path: Path, fp16_weights: bool = True) -> Path:
    """``net`` (eval mode) as ONNX with ``meta`` embedded and beside it; written whole or not at all."""
    net = net.eval().to(memory_format=torch.contiguous_format)
    dummy = torch.randn(2, 3, meta.input_size, meta.input_size)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.onnx"
        torch.onnx.export(net, (dummy,), str(raw), dynamo=False, opset_version=OPSET,
                          input_names=[INPUT_NAME], output_names=[OUTPUT_NAME],
                          dynamic_axes={INPUT_NAME: {0: "batch"}, OUTPUT_NAME: {0: "batch"}})
        model = onnx.load(str(raw))
    if fp16_weights:
        model = store_weights_fp16(model)
    meta = dataclasses.replace(meta, input_name=INPUT_NAME, output_name=OUTPUT_NAME,
                               weights="fp16" if fp16_weights else "fp32")
    for key, value in meta.onnx_properties().items():
        prop = model.metadata_props.add()
        prop.key, prop.value = key, value
    onnx.checker.check_model(model)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    part = onnx_path.with_name(onnx_path.name + ".part")
    onnx.save(model, str(part))
    part.replace(onnx_path)
    meta.write(sidecar_path(onnx_path), onnx_path)
    return onnx_path
