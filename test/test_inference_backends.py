"""Backends: selection with its reason, engine cache keys, precision from the ONNX file, INT8/FP16 variants.

The TensorRT tests that need a GPU skip here with the reason; everything around them runs.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from waste_sorting.inference import backend as backend_mod
from waste_sorting.inference.backend import choose_backend, tensorrt_status
from waste_sorting.inference.engine_cache import EngineKey, engine_key, engine_path, onnx_precision


def test_auto_picks_onnxruntime_without_tensorrt_and_says_why():
    usable, why = tensorrt_status()
    if usable:
        pytest.skip("this machine has TensorRT and a GPU")
    choice = choose_backend("auto")
    assert choice.name == "onnxruntime" and "TensorRT unusable" in choice.reason and why in choice.reason
    with pytest.raises(RuntimeError, match="tensorrt' requested but unusable"):
        choose_backend("tensorrt")
    assert choose_backend("onnxruntime").reason == "requested explicitly"
    with pytest.raises(ValueError):
        choose_backend("openvino")


def test_auto_picks_tensorrt_when_present(monkeypatch):
    monkeypatch.setattr(backend_mod, "tensorrt_status", lambda: (True, "TensorRT and 1 CUDA GPU(s) present"))
    choice = choose_backend("auto")
    assert choice.name == "tensorrt" and "GPU" in choice.reason


def test_engine_cache_key_changes_with_each_ingredient(shipped_model, tmp_path):
    base = engine_key(shipped_model, "10.3.0", "Orin", 16)
    assert base.precision == "fp32"
    variants = [EngineKey(base.onnx_sha256, "11.4.0", "Orin", "fp32", 16),
                EngineKey(base.onnx_sha256, "10.3.0", "RTX 4090", "fp32", 16),
                EngineKey(base.onnx_sha256, "10.3.0", "Orin", "fp16", 16),
                EngineKey(base.onnx_sha256, "10.3.0", "Orin", "fp32", 8),
                EngineKey("0" * 64, "10.3.0", "Orin", "fp32", 16)]
    digests = {v.digest() for v in variants} | {base.digest()}
    assert len(digests) == 6
    assert engine_key(shipped_model, "10.3.0", "Orin", 16) == base  # stable: no rebuild at every start
    p = engine_path(shipped_model, base, tmp_path)
    assert p.parent == tmp_path and p.suffix == ".engine"
    assert "fp32" in p.name and "trt10.3.0" in p.name and "Orin" in p.name and "b16" in p.name


@pytest.fixture(scope="module")
def variants(tmp_path_factory, shipped_model, demo_images):
    from waste_sorting.inference.quantize import convert_fp16, quantize_int8

    out = tmp_path_factory.mktemp("variants")
    int8 = quantize_int8(shipped_model, out / "m.int8.onnx", demo_images, "percentile", limit=24)
    int8_cpu = quantize_int8(shipped_model, out / "m.int8cpu.onnx", demo_images, "percentile", limit=24,
                             target="cpu")
    fp16 = convert_fp16(shipped_model, out / "m.fp16.onnx")
    return {"int8": int8, "int8-cpu": int8_cpu, "fp16": fp16}


def _activation_zero_points(path: Path) -> list:
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    weights = {i.name for i in model.graph.initializer if len(i.dims) > 1}
    return [inits[n.input[2]] for n in model.graph.node
            if n.op_type == "QuantizeLinear" and n.input[0] not in weights and len(n.input) > 2]


def test_int8_targets_tensorrt_symmetric_s8_and_cpu_u8(variants):
    import numpy as np

    trt_zp = _activation_zero_points(variants["int8"])
    cpu_zp = _activation_zero_points(variants["int8-cpu"])
    assert trt_zp and cpu_zp
    # TensorRT takes only symmetric signed INT8: every zero point is an int8 zero.
    assert all(z.dtype == np.int8 and not z.any() for z in trt_zp)
    # ONNX Runtime's fast x86 kernels want unsigned activations.
    assert all(z.dtype == np.uint8 for z in cpu_zp)


def test_a_cpu_int8_model_is_refused_for_tensorrt_with_the_fix(variants, shipped_model):
    from waste_sorting.inference.engine_cache import tensorrt_incompatibility

    assert tensorrt_incompatibility(shipped_model) is None
    assert tensorrt_incompatibility(variants["int8"]) is None
    why = tensorrt_incompatibility(variants["int8-cpu"])
    assert why and "--target tensorrt" in why


def test_precision_is_read_from_the_onnx_file(shipped_model, variants):
    assert onnx_precision(shipped_model) == "fp32"
    assert onnx_precision(variants["int8"]) == "int8"
    assert onnx_precision(variants["int8-cpu"]) == "int8"
    assert onnx_precision(variants["fp16"]) == "fp16"


def test_int8_and_fp16_agree_with_fp32_on_images(variants, shipped_model, demo_images):
    from waste_sorting.inference.quantize import top1

    base, p32 = top1(shipped_model, demo_images, holdout=False)
    for name, path in variants.items():
        acc, p = top1(path, demo_images, holdout=False)
        agreement = float((p == p32).mean())
        print(f"{name}: top-1 {acc:.3f} vs FP32 {base:.3f}, agreement {agreement:.3f}")
        # 48 images: one image is 2 points. The TensorRT form (symmetric s8) agrees on 40 of 48 for the session-6
        # model (0.907 on the 420 holdout images with 256 calibration images, README); a broken quantizer agrees
        # on about one in six.
        assert agreement >= 0.8, name
        assert acc >= base - 0.1, name
    meta_int8 = Path(str(variants["int8"]).replace(".onnx", ".json")).read_text()
    assert '"precision": "int8"' in meta_int8 and "percentile" in meta_int8


def test_fp32_weight_storage_round_trip(shipped_model):
    import onnx

    from waste_sorting.inference.quantize import fp32_weights

    model = fp32_weights(onnx.load(str(shipped_model)))
    assert not any(n.op_type == "Cast" for n in model.graph.node)
    assert all(i.data_type == onnx.TensorProto.FLOAT for i in model.graph.initializer if len(i.dims) > 1)


def _needs_gpu() -> None:
    usable, why = tensorrt_status()
    if not usable:
        pytest.skip(f"needs TensorRT and a CUDA GPU: {why}")


@pytest.mark.gpu
def test_tensorrt_engine_matches_onnxruntime(shipped_model, demo_images, tmp_path):  # pragma: no cover - GPU
    _needs_gpu()
    import cv2

    from waste_sorting.inference.backend import OnnxRuntimeBackend
    from waste_sorting.inference.metadata import ModelMetadata
    from waste_sorting.inference.preprocess import prepare_images
    from waste_sorting.inference.tensorrt_backend import TensorRTBackend

    meta = ModelMetadata.for_model(shipped_model)
    imgs = [cv2.imread(str(p)) for p in sorted(demo_images.rglob("*.jpg"))]
    batch = prepare_images(imgs, meta.input_size, meta.mean, meta.std)
    trt_backend = TensorRTBackend(shipped_model, max_batch=16, cache_dir=tmp_path)
    ref = OnnxRuntimeBackend(shipped_model).infer(batch)
    got = trt_backend.infer(batch)
    assert (got.argmax(1) == ref.argmax(1)).mean() >= 0.99
    again = TensorRTBackend(shipped_model, max_batch=16, cache_dir=tmp_path)  # from the cache, not rebuilt
    assert again.engine_path == trt_backend.engine_path
