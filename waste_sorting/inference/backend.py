"""Inference backends behind one interface, and the `auto` choice between them."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

BACKENDS = ("auto", "tensorrt", "onnxruntime")


class Backend(Protocol):
    name: str

    def infer(self, batch: np.ndarray) -> np.ndarray:
        """Nx3xSxS float32 normalised batch -> NxC logits."""
        ...


class OnnxRuntimeBackend:
    """CPU inference with ONNX Runtime (the embedded default)."""

    name = "onnxruntime"

    def __init__(self, model_path: Path, threads: int = 0) -> None:
        import onnxruntime as ort

        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or min(os.cpu_count() or 1, 4)
        opts.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(model_path), opts, providers=["CPUExecutionProvider"])
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name

    def infer(self, batch: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: batch})[0]


@dataclass(frozen=True)
class BackendChoice:
    name: str
    reason: str


def tensorrt_status() -> tuple[bool, str]:
    """(usable, why): TensorRT needs its Python module and a CUDA GPU."""
    try:
        import tensorrt  # noqa: F401
    except Exception as exc:  # ImportError, or the bindings failing to load their libraries
        return False, f"tensorrt module not importable ({type(exc).__name__}: {exc})"
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:
        try:
            from cuda import cudart  # older cuda-python
        except ImportError:
            return False, "cuda-python is not installed"
    err, count = cudart.cudaGetDeviceCount()
    if int(err) != 0 or count < 1:
        return False, f"no CUDA GPU visible (cudaGetDeviceCount: {err}, {count})"
    return True, f"TensorRT and {count} CUDA GPU(s) present"


def choose_backend(requested: str) -> BackendChoice:
    if requested not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, got {requested!r}")
    if requested == "onnxruntime":
        return BackendChoice("onnxruntime", "requested explicitly")
    usable, why = tensorrt_status()
    if requested == "tensorrt":
        if not usable:
            raise RuntimeError(f"backend 'tensorrt' requested but unusable: {why}")
        return BackendChoice("tensorrt", f"requested explicitly; {why}")
    if usable:
        return BackendChoice("tensorrt", f"auto: {why}")
    return BackendChoice("onnxruntime", f"auto: TensorRT unusable ({why}), using ONNX Runtime on the CPU")


def open_backend(model_path: Path, requested: str = "auto", threads: int = 0) -> tuple[Backend, BackendChoice]:
    choice = choose_backend(requested)
    if choice.name == "tensorrt":  # pragma: no cover - needs a GPU
        from waste_sorting.inference.tensorrt_backend import TensorRTBackend

        return TensorRTBackend(model_path), choice
    return OnnxRuntimeBackend(model_path, threads), choice
