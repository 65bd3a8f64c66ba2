"""`waste-sorting quantize`: INT8 (QDQ, calibrated) and FP16 variants of an ONNX model.

INT8 uses explicit quantization: QuantizeLinear/DequantizeLinear pairs with
scales calibrated on a folder of images by ONNX Runtime, symmetric INT8 for
weights (per output channel) and activations, the form TensorRT 10 and 11 take
as-is (``--target tensorrt``, the default). For ONNX Runtime on an x86 CPU
(``--target cpu``) activations are unsigned and asymmetric and weights 7-bit
(reduce_range): MLAS's fast AVX2/AVX-512 kernels multiply u8 x s8 with
VPMADDUBSW, whose 16-bit sums saturate on full-range weights, and a model with
s8 activations runs slower than FP32 there (measured: 36 vs 22 ms per image).
The default calibration method is ``percentile`` (99.99th percentile of
each activation's magnitude): ReLU activations have long tails, and min/max
calibration spends the 8 bits on a few outliers (the seeds' 64 % INT8 model is
the cautionary tale). The result's top-1 is measured here on the CPU next to
FP32 before any GPU sees it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from waste_sorting.data.folders import IMAGE_SUFFIXES
from waste_sorting.errors import UsageError
from waste_sorting.inference.metadata import ModelMetadata, sidecar_path

METHODS = ("percentile", "entropy", "minmax")
TARGETS = ("tensorrt", "cpu")


def fp32_weights(model: onnx.ModelProto) -> onnx.ModelProto:
    """Undo FP16 weight storage (FP16 initializer + Cast to FP32) so tools see plain FP32 weights."""
    inits = {i.name: i for i in model.graph.initializer}
    keep = []
    for node in model.graph.node:
        to_float = any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in node.attribute)
        src = inits.get(node.input[0]) if node.op_type == "Cast" and node.input else None
        if src is not None and to_float and src.data_type == onnx.TensorProto.FLOAT16:
            arr = numpy_helper.to_array(src).astype(np.float32)
            model.graph.initializer.remove(src)
            model.graph.initializer.append(numpy_helper.from_array(arr, node.output[0]))
            del inits[node.input[0]]
            continue
        keep.append(node)
    del model.graph.node[:]
    model.graph.node.extend(keep)
    return model


def calibration_images(folder: Path, limit: int, train_split: bool = False) -> list[Path]:
    if train_split:
        from waste_sorting.data.folders import list_images, split_images

        files = sorted(it.path for it in split_images(list_images(folder))[0])
    else:
        files = sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise ValueError(f"no calibration images in {folder}")
    idx = np.linspace(0, len(files) - 1, min(limit, len(files))).round().astype(int)
    return [files[i] for i in sorted(set(idx.tolist()))]


class _Reader:
    """onnxruntime CalibrationDataReader over image files, with the cell's preprocessing."""

    def __init__(self, files: list[Path], meta: ModelMetadata) -> None:
        self.files, self.meta = files, meta
        self._it: Iterator[dict[str, np.ndarray]] = self._batches()

    def _batches(self) -> Iterator[dict[str, np.ndarray]]:
        import cv2

        from waste_sorting.inference.preprocess import prepare_images

        for f in self.files:
            img = cv2.imread(str(f), cv2.IMREAD_COLOR)
            if img is not None:
                yield {self.meta.input_name: prepare_images([img], self.meta.input_size, self.meta.mean,
                                                            self.meta.std)}

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self._it, None)

    def rewind(self) -> None:
        self._it = self._batches()


def _target_options(target: str) -> dict[str, Any]:
    from onnxruntime.quantization import QuantType

    if target == "tensorrt":
        return {"activation_type": QuantType.QInt8, "weight_type": QuantType.QInt8, "reduce_range": False,
                "extra_options": {"ActivationSymmetric": True, "WeightSymmetric": True}}
    if target == "cpu":
        return {"activation_type": QuantType.QUInt8, "weight_type": QuantType.QInt8, "reduce_range": True,
                "extra_options": {"ActivationSymmetric": False, "WeightSymmetric": True}}
    raise ValueError(f"unknown target {target!r}; choose one of {TARGETS}")


def quantize_int8(model_path: Path, out: Path, calib: Path, method: str = "percentile",
                  limit: int = 256, train_split: bool = False, target: str = "tensorrt") -> Path:
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    options = _target_options(target)
    meta = ModelMetadata.for_model(model_path)
    calib_method = {"percentile": CalibrationMethod.Percentile, "entropy": CalibrationMethod.Entropy,
                    "minmax": CalibrationMethod.MinMax}[method]
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "fp32.onnx"
        onnx.save(fp32_weights(onnx.load(str(model_path))), str(plain))
        prepped = Path(tmp) / "prep.onnx"
        quant_pre_process(str(plain), str(prepped), skip_symbolic_shape=True)
        quantize_static(
            str(prepped), str(out), _Reader(calibration_images(calib, limit, train_split), meta),
            quant_format=QuantFormat.QDQ, per_channel=True, calibrate_method=calib_method,
            activation_type=options["activation_type"], weight_type=options["weight_type"],
            reduce_range=options["reduce_range"],
            extra_options={**options["extra_options"], "CalibPercentile": 99.99, "CalibMovingAverage": False})
    meta.precision = "int8"
    meta.weights = "int8"
    meta.training = {**meta.training, "int8_calibration": {"images": str(calib), "method": method,
                                                           "max_images": limit, "train_split_only": train_split,
                                                           "target": target}}
    meta.write(sidecar_path(out), out)
    return out


def convert_fp16(model_path: Path, out: Path) -> Path:
    from onnxconverter_common import float16

    meta = ModelMetadata.for_model(model_path)
    model = float16.convert_float_to_float16(fp32_weights(onnx.load(str(model_path))), keep_io_types=True)
    onnx.save(model, str(out))
    meta.precision = "fp16"
    meta.weights = "fp16"
    meta.write(sidecar_path(out), out)
    return out


def top1(model_path: Path, folder: Path, holdout: bool) -> tuple[float, np.ndarray]:
    """Top-1 on a labelled folder (or its holdout split) with ONNX Runtime, and the predictions."""
    import cv2

    from waste_sorting.data.folders import list_images, split_images
    from waste_sorting.inference.classifier import ImageClassifier

    clf = ImageClassifier(model_path, "onnxruntime")
    items = list_images(folder, clf.classes)
    if holdout:
        _, items = split_images(items)
    preds, labels = [], []
    for i in range(0, len(items), 32):
        chunk = items[i:i + 32]
        imgs = [cv2.imread(str(it.path), cv2.IMREAD_COLOR) for it in chunk]
        ok = [(im, it) for im, it in zip(imgs, chunk, strict=True) if im is not None]
        probs = clf.classify_images([im for im, _ in ok])
        preds.extend(probs.argmax(1).tolist())
        labels.extend(it.label for _, it in ok)
    p, y = np.array(preds), np.array(labels)
    return float((p == y).mean()), p


def make_variant(model: Path, out: Path, calib: Path | None, fp16: bool, method: str, target: str, calib_images: int,
                 calib_train_split: bool, eval_folder: Path | None, eval_holdout: bool) -> dict[str, Any]:
    """An FP16 or INT8 variant of ``model``, with its top-1 against FP32 when ``eval_folder`` is given."""
    if fp16:
        out = convert_fp16(model, out)
    else:
        if not calib:
            raise UsageError("INT8 needs --calib DIR (a folder of representative images)")
        out = quantize_int8(model, out, calib, method, calib_images, calib_train_split,
                            target)
    print(f"wrote {out} ({out.stat().st_size / 1e6:.1f} MB) and {sidecar_path(out).name}")
    report: dict[str, Any] = {"model": str(out)}
    if eval_folder:
        base, p0 = top1(model, eval_folder, eval_holdout)
        new, p1 = top1(out, eval_folder, eval_holdout)
        report.update({"fp32_top1": base, "top1": new, "agreement": float((p0 == p1).mean()), "images": len(p0)})
        print(f"top-1 on {len(p0)} images: FP32 {base:.4f}, {'FP16' if fp16 else 'INT8'} {new:.4f} "
              f"({(new - base) * 100:+.1f} points), agreement {report['agreement']:.4f}")
        meta = json.loads(sidecar_path(out).read_text())
        meta.setdefault("accuracy", {})["top1_vs_fp32"] = report
        sidecar_path(out).write_text(json.dumps(meta, indent=2) + "\n")
    return report
