"""TensorRT backend (TensorRT 10.x, e.g. JetPack 6, and 11.x), with cuda-python buffers.

Precision comes from the ONNX file itself (FP32, FP16, or QDQ INT8) and the
network is built strongly typed where the version supports it, so the same
code gives the same engine on 10.x and 11.x (11 removed the FP16/INT8 builder
flags and implicit calibration). One optimisation profile covers batch
1..max_batch; inference uses named tensors, ``set_input_shape``,
``set_tensor_address`` and ``execute_async_v3`` on a CUDA stream, with pinned
host buffers. Engines are cached (see ``engine_cache``): built once, rebuilt
with a clear log line when stale or incompatible, never on every start.
"""

from __future__ import annotations

import ctypes
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting.inference.engine_cache import engine_key, engine_path, tensorrt_incompatibility


def _cudart() -> Any:
    try:
        from cuda.bindings import runtime as cudart  # cuda-python >= 12.6
    except ImportError:  # pragma: no cover - older cuda-python
        from cuda import cudart
    return cudart


def _check(result: Any) -> Any:
    err, *rest = result if isinstance(result, tuple) else (result,)
    if int(err) != 0:
        raise RuntimeError(f"CUDA error {err}")
    return rest[0] if len(rest) == 1 else rest


def gpu_name() -> str:
    props = _check(_cudart().cudaGetDeviceProperties(0))
    name = props.name
    return name.decode(errors="replace").rstrip("\x00") if isinstance(name, bytes) else str(name)


def build_engine(onnx_path: Path, max_batch: int, log: Callable[[str], None] = print,
                 workspace_bytes: int = 1 << 30) -> bytes:
    """Parse the ONNX file and build a serialized engine for batch 1..max_batch."""
    import tensorrt as trt

    why_not = tensorrt_incompatibility(Path(onnx_path))
    if why_not:
        raise ValueError(why_not)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    flags = 0
    if hasattr(trt.NetworkDefinitionCreationFlag, "STRONGLY_TYPED"):
        flags |= 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)  # precision from the ONNX types
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse(Path(onnx_path).read_bytes()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, workspace_bytes)
    inp = network.get_input(0)
    c, h, w = inp.shape[1], inp.shape[2], inp.shape[3]
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, (1, c, h, w), (max(1, max_batch // 2), c, h, w), (max_batch, c, h, w))
    config.add_optimization_profile(profile)
    t0 = time.perf_counter()
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path}")
    log(f"built TensorRT {trt.__version__} engine from {onnx_path.name} in {time.perf_counter() - t0:.1f} s")
    return bytes(serialized)


def load_or_build(onnx_path: Path, max_batch: int, cache_dir: Path | None = None,
                  log: Callable[[str], None] = print) -> tuple[Any, Path]:
    """Deserialize the cached engine, or build (and cache) it when missing, stale or incompatible."""
    import tensorrt as trt

    key = engine_key(onnx_path, trt.__version__, gpu_name(), max_batch)
    path = engine_path(onnx_path, key, cache_dir)
    runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
    if path.exists():
        engine = runtime.deserialize_cuda_engine(path.read_bytes())
        if engine is not None:
            log(f"TensorRT engine from cache: {path}")
            return engine, path
        log(f"cached engine {path} is stale or incompatible with this TensorRT/GPU; rebuilding")
    else:
        log(f"no cached TensorRT engine for {onnx_path.name} ({key.precision}, batch <= {max_batch}); building")
    data = build_engine(onnx_path, max_batch, log)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    engine = runtime.deserialize_cuda_engine(data)
    if engine is None:
        raise RuntimeError(f"the engine just built from {onnx_path} does not deserialize")
    return engine, path


class TensorRTBackend:
    """Backend interface over a TensorRT engine: ``infer(batch) -> logits``."""

    name = "tensorrt"

    def __init__(self, model_path: Path, max_batch: int = 16, cache_dir: Path | None = None,
                 log: Callable[[str], None] = print) -> None:
        import tensorrt as trt

        self.trt = trt
        self.cudart = _cudart()
        self.engine, self.engine_path = load_or_build(Path(model_path), max_batch, cache_dir, log)
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output_name = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        self.max_batch = max_batch
        in_shape = tuple(self.engine.get_tensor_shape(self.input_name))[1:]
        out_shape = tuple(self.engine.get_tensor_shape(self.output_name))[1:]
        self.in_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self.input_name)))
        self.out_dtype = np.dtype(trt.nptype(self.engine.get_tensor_dtype(self.output_name)))
        self.stream = _check(self.cudart.cudaStreamCreate())
        in_bytes = max_batch * int(np.prod(in_shape)) * self.in_dtype.itemsize
        out_bytes = max_batch * int(np.prod(out_shape)) * self.out_dtype.itemsize
        self.d_in = _check(self.cudart.cudaMalloc(in_bytes))
        self.d_out = _check(self.cudart.cudaMalloc(out_bytes))
        self.h_in_ptr = _check(self.cudart.cudaMallocHost(in_bytes))
        self.h_out_ptr = _check(self.cudart.cudaMallocHost(out_bytes))
        self.h_in = self._pinned(self.h_in_ptr, (max_batch, *in_shape), self.in_dtype)
        self.h_out = self._pinned(self.h_out_ptr, (max_batch, *out_shape), self.out_dtype)
        self.context.set_tensor_address(self.input_name, int(self.d_in))
        self.context.set_tensor_address(self.output_name, int(self.d_out))

    @staticmethod
    def _pinned(ptr: int, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        n = int(np.prod(shape)) * dtype.itemsize
        buf = (ctypes.c_byte * n).from_address(int(ptr))
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def infer(self, batch: np.ndarray) -> np.ndarray:
        out = []
        kind_h2d = self.cudart.cudaMemcpyKind.cudaMemcpyHostToDevice
        kind_d2h = self.cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost
        for i in range(0, len(batch), self.max_batch):
            chunk = batch[i:i + self.max_batch]
            n = len(chunk)
            self.h_in[:n] = chunk  # one copy into pinned memory (casts to the engine's input type)
            self.context.set_input_shape(self.input_name, (n, *self.h_in.shape[1:]))
            _check(self.cudart.cudaMemcpyAsync(self.d_in, self.h_in_ptr, n * self.h_in[0].nbytes, kind_h2d,
                                               self.stream))
            if not self.context.execute_async_v3(self.stream):
                raise RuntimeError("TensorRT execute_async_v3 failed")
            _check(self.cudart.cudaMemcpyAsync(self.h_out_ptr, self.d_out, n * self.h_out[0].nbytes, kind_d2h,
                                               self.stream))
            _check(self.cudart.cudaStreamSynchronize(self.stream))
            out.append(self.h_out[:n].astype(np.float32))
        return np.concatenate(out)

    def close(self) -> None:
        for ptr in (self.d_in, self.d_out):
            self.cudart.cudaFree(ptr)
        for ptr in (self.h_in_ptr, self.h_out_ptr):
            self.cudart.cudaFreeHost(ptr)
        self.cudart.cudaStreamDestroy(self.stream)
