"""Where a TensorRT engine for an ONNX file lives, and when it must be rebuilt.

An engine is only valid for one ONNX file, one TensorRT version, one GPU and
one precision, so the cache key is exactly those (plus the largest batch the
optimisation profile allows). It is built when missing, never at every start.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from waste_sorting.inference.metadata import file_sha256


def default_cache_dir() -> Path:
    return Path(os.environ.get("WASTE_SORTING_ENGINE_CACHE", Path.home() / ".cache" / "waste_sorting" / "engines"))


def onnx_precision(onnx_path: Path) -> str:
    """'int8' for a QDQ model, 'fp16' when its float tensors are FP16, else 'fp32' (read from the file)."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    if "QuantizeLinear" in ops and "DequantizeLinear" in ops:
        return "int8"
    inputs = [i.type.tensor_type.elem_type for i in model.graph.input]
    compute_fp16 = any(n.op_type == "Cast" and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT16
                                                   for a in n.attribute) for n in model.graph.node)
    if onnx.TensorProto.FLOAT16 in inputs or compute_fp16:
        return "fp16"
    return "fp32"


def tensorrt_incompatibility(onnx_path: Path) -> str | None:
    """Why TensorRT cannot take this ONNX file, read without a GPU; None when it can."""
    import onnx

    model = onnx.load(str(onnx_path), load_external_data=False)
    u8 = {i.name for i in model.graph.initializer if i.data_type == onnx.TensorProto.UINT8}
    if any(n.op_type == "QuantizeLinear" and len(n.input) > 2 and n.input[2] in u8 for n in model.graph.node):
        return (f"{onnx_path.name} is quantized for CPUs (unsigned INT8 activations); TensorRT takes only "
                "symmetric signed INT8: quantize it again with `waste-sorting quantize --target tensorrt`")
    return None


@dataclass(frozen=True)
class EngineKey:
    onnx_sha256: str
    trt_version: str
    gpu: str
    precision: str
    max_batch: int

    def digest(self) -> str:
        text = f"{self.onnx_sha256}|{self.trt_version}|{self.gpu}|{self.precision}|{self.max_batch}"
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def engine_key(onnx_path: Path, trt_version: str, gpu: str, max_batch: int) -> EngineKey:
    return EngineKey(file_sha256(onnx_path), trt_version, gpu, onnx_precision(onnx_path), max_batch)


def engine_path(onnx_path: Path, key: EngineKey, cache_dir: Path | None = None) -> Path:
    """``<cache>/<model>-<precision>-trt<version>-<gpu>-b<batch>-<digest>.engine`` (readable and unique)."""
    gpu = re.sub(r"[^A-Za-z0-9]+", "_", key.gpu).strip("_")[:40] or "gpu"
    name = f"{onnx_path.stem}-{key.precision}-trt{key.trt_version}-{gpu}-b{key.max_batch}-{key.digest()}.engine"
    return (cache_dir or default_cache_dir()) / name
