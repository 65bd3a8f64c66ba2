"""`waste-sorting bench`: classifier throughput/latency per backend and the whole hot path.

Everything is measured in one run on this machine, so the ratios compare like
with like: ONNX Runtime FP32 (and INT8 when given) against PyTorch eager on the
same architecture and input size (PyTorch only where it is installed; its
weights are random, which does not change its speed), then frame in -> item
list out for 1280x720 frames holding 1, 4 and 12 items.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting import paths


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, help="FP32 ONNX model (default: the shipped one)")
    p.add_argument("--int8", type=Path, default=None, help="INT8 QDQ model to include")
    p.add_argument("--backend", nargs="*", default=["onnxruntime", "torch", "tensorrt"],
                   help="which of onnxruntime, torch, tensorrt to run (missing ones are skipped with a reason)")
    p.add_argument("--batch", type=int, nargs="*", default=[1, 8])
    p.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--frames", type=int, nargs="*", default=[1, 4, 12], help="items per hot-path frame")
    p.add_argument("--json", type=Path)


def measure(fn: Callable[[], Any], seconds: float, warmup: int = 3) -> dict[str, float]:
    for _ in range(warmup):
        fn()
    times = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < 5:
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    t = np.array(times) * 1e3
    return {"p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99)), "runs": len(t)}


def _torch_runner(meta: Any, batch: np.ndarray, threads: int) -> Callable[[], Any] | str:
    try:
        import torch
    except ImportError:
        return "torch not installed"
    from waste_sorting.model.registry import build_network

    if threads:
        torch.set_num_threads(threads)
    net = build_network(meta.architecture).eval()
    x = torch.from_numpy(batch)

    def run() -> Any:
        with torch.inference_mode():
            return net(x)

    return run


def bench_classifier(args: argparse.Namespace) -> list[dict[str, Any]]:
    from waste_sorting.inference.backend import OnnxRuntimeBackend, tensorrt_status
    from waste_sorting.inference.metadata import ModelMetadata

    model = args.model or paths.default_model()
    meta = ModelMetadata.for_model(model)
    rows = []
    for b in args.batch:
        batch = np.random.default_rng(0).normal(size=(b, 3, meta.input_size, meta.input_size)).astype(np.float32)
        runners: dict[str, Callable[[], Any] | str] = {}
        if "onnxruntime" in args.backend:
            ort_fp32 = OnnxRuntimeBackend(model, args.threads)
            runners["onnxruntime-fp32"] = lambda ort_fp32=ort_fp32, batch=batch: ort_fp32.infer(batch)
            if args.int8:
                ort_int8 = OnnxRuntimeBackend(args.int8, args.threads)
                runners["onnxruntime-int8"] = lambda ort_int8=ort_int8, batch=batch: ort_int8.infer(batch)
        if "torch" in args.backend:
            runners["torch-eager"] = _torch_runner(meta, batch, args.threads)
        if "tensorrt" in args.backend:
            usable, why = tensorrt_status()
            if usable:  # pragma: no cover - GPU only
                from waste_sorting.inference.tensorrt_backend import TensorRTBackend

                trt_b = TensorRTBackend(model, max_batch=max(args.batch))
                runners["tensorrt"] = lambda trt_b=trt_b, batch=batch: trt_b.infer(batch)
            else:
                runners["tensorrt"] = why
        for name, fn in runners.items():
            if isinstance(fn, str):
                rows.append({"backend": name, "batch": b, "skipped": fn})
                continue
            m = measure(fn, args.seconds)
            rows.append({"backend": name, "batch": b, **m, "images_per_s": b * 1e3 / m["p50_ms"]})
    return rows


def hot_path_frames(n_items: int, width: int = 1280, height: int = 720, seed: int = 0) -> np.ndarray:
    """A 1280x720 belt frame with n items fully in view, spread over a grid."""
    from waste_sorting.simulation.belt import BeltSimulator, SimConfig, _paste, _transform

    mpp = 1.024 / width
    sim = BeltSimulator(SimConfig(images=paths.demo_images(), width_px=width, height_px=height, metres_per_px=mpp,
                                  items_per_second=0.0, seed=seed))
    rng = np.random.default_rng(seed)
    frame = sim.render(0.0).astype(np.float32)
    cols = int(np.ceil(np.sqrt(n_items * width / height)))
    rows = int(np.ceil(n_items / cols))
    cell_w, cell_h = width / cols, height / rows
    for k in range(n_items):
        sp = sim.sprites[int(rng.integers(len(sim.sprites)))]
        size_px = min(cell_w, cell_h) * 0.7
        img, alpha = _transform(sp, size_px / max(sp.image.shape[:2]), float(rng.uniform(0, 360)), False)
        r, c = divmod(k, cols)
        _paste(frame, img, alpha, (c + 0.5) * cell_w, (r + 0.5) * cell_h)
    return np.clip(frame, 0, 255).astype(np.uint8)


def bench_hot_path(args: argparse.Namespace) -> list[dict[str, Any]]:
    from waste_sorting.inference.classifier import ImageClassifier
    from waste_sorting.vision.homography import Homography
    from waste_sorting.vision.item_detector import DetectorConfig, ItemDetector
    from waste_sorting.vision.segmentation import BeltSegmenter, SegmentationConfig

    clf = ImageClassifier(args.model or paths.default_model(), "onnxruntime", args.threads)
    rows = []
    for n in args.frames:
        frame = hot_path_frames(n)
        det = ItemDetector(BeltSegmenter(SegmentationConfig(downscale=4, min_area_px=1600)),
                           Homography.top_down(1280, 720, 1.024 / 1280), clf,
                           DetectorConfig(classify_band=(0.0, 1.0)))  # classify every item: worst case
        found = len(det.process(frame, 0.0).records)
        stamps = iter(np.arange(1, 1_000_000) / 30.0)  # successive capture stamps

        def step(det: ItemDetector = det, frame: np.ndarray = frame, stamps: Any = stamps) -> Any:
            return det.process(frame, float(next(stamps)))

        m = measure(step, args.seconds)
        rows.append({"items": n, "found": found, **m, "frames_per_s": 1e3 / m["p50_ms"]})
    return rows


def run(args: argparse.Namespace) -> dict[str, Any]:
    import os

    print(f"machine: {os.cpu_count()} cores; threads {args.threads or 'auto'}; {args.seconds:.0f} s per figure")
    cls_rows = bench_classifier(args)
    print(f"\n{'backend':18s} {'batch':>5s} {'p50 ms':>8s} {'p99 ms':>8s} {'images/s':>9s}")
    for r in cls_rows:
        if "skipped" in r:
            print(f"{r['backend']:18s} {r['batch']:5d}  skipped: {r['skipped']}")
        else:
            print(f"{r['backend']:18s} {r['batch']:5d} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} {r['images_per_s']:9.1f}")
    ratios = {}
    for b in args.batch:
        by = {r["backend"]: r for r in cls_rows if r["batch"] == b and "skipped" not in r}
        if "torch-eager" in by:
            for name in by:
                if name != "torch-eager":
                    ratios[f"{name}/torch-eager@{b}"] = by[name]["images_per_s"] / by["torch-eager"]["images_per_s"]
    for k, v in ratios.items():
        print(f"throughput ratio {k}: {v:.2f}x")
    hot = bench_hot_path(args)
    print("\nhot path, 1280x720 frames (segmentation + classification of every item):")
    for r in hot:
        print(f"  {r['items']:2d} items ({r['found']} found): p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
              f"{r['frames_per_s']:.1f} frames/s")
    result = {"classifier": cls_rows, "ratios": ratios, "hot_path": hot}
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result
