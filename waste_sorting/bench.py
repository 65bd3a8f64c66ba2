"""`waste-sorting bench`: classifier throughput/latency per backend and the whole hot path.

Everything is measured in one run on this machine, so the ratios compare like
with like: ONNX Runtime FP32 (and INT8 when given) against PyTorch eager on the
same architecture and input size (PyTorch only where it is installed; its
weights are random, which does not change its speed), then frame in -> item
list out for 1280x720 frames holding 1, 4 and 12 items.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting import paths


@dataclass
class BenchOptions:
    """What `waste-sorting bench` measures (the command line's defaults are its)."""

    model: Path | None          # FP32 ONNX model (None: the shipped one)
    int8: Path | None           # INT8 QDQ model to include
    backend: list[str]          # which of onnxruntime, torch, tensorrt to run
    batch: list[int]            # classifier batch sizes
    seconds: float              # time per measurement
    threads: int                # inference threads (0: automatic)
    frames: list[int]           # items per hot-path frame
    stream_frames: int          # frames of the moving-belt hot-path run (0 skips it)
    stream_items: float         # items in view the moving-belt run aims at
    teacher: Path | None        # also time this distillation teacher (checkpoint.pt)
    teacher_size: int
    json: Path | None           # write the figures as JSON here


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


def bench_teacher(checkpoint: Path, size: int, seconds: float, threads: int, batch: int = 32) -> dict[str, Any]:
    """A training batch through the frozen teacher: PyTorch eager (the baseline) and ONNX Runtime."""
    import torch

    from waste_sorting.model.checkpoint import load_checkpoint, network_from_checkpoint
    from waste_sorting.model.registry import embed_and_logits
    from waste_sorting.model.teacher import OnnxTeacher

    if threads:
        torch.set_num_threads(threads)
    ckpt = load_checkpoint(checkpoint)
    net = network_from_checkpoint(ckpt).to(memory_format=torch.channels_last)
    onnx = OnnxTeacher(network_from_checkpoint(ckpt), size, threads)
    x = torch.randn(batch, 3, size, size).contiguous(memory_format=torch.channels_last)

    def eager() -> Any:
        with torch.inference_mode():
            return embed_and_logits(net, x)

    rows = {"torch-eager": measure(eager, seconds), "onnxruntime": measure(lambda: onnx(x), seconds)}
    for r in rows.values():
        r["ms_per_image"] = r["p50_ms"] / batch
    return {"architecture": ckpt["arch"]["name"], "size": size, "batch": batch, **rows,
            "speedup": rows["torch-eager"]["p50_ms"] / rows["onnxruntime"]["p50_ms"]}


def bench_classifier(args: BenchOptions) -> list[dict[str, Any]]:
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

    mpp = HOT_PATH_MPP * 1280 / width
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


HOT_PATH_MPP = 1.024 / 1280  # 1280 px across 1.024 m of belt


def _hot_path_detector(clf: Any, max_classifications: int, band: tuple[float, float]) -> Any:
    from waste_sorting.vision.homography import Homography
    from waste_sorting.vision.item_detector import DetectorConfig, ItemDetector
    from waste_sorting.vision.segmentation import BeltSegmenter, SegmentationConfig

    # settle_frames 0: the belt model is taken from the first frame, so every timed frame is a working one.
    return ItemDetector(BeltSegmenter(SegmentationConfig(downscale=4, min_area_px=1600, settle_frames=0)),
                        Homography.top_down(1280, 720, HOT_PATH_MPP), clf,
                        DetectorConfig(classify_band=band, max_classifications=max_classifications))


def _classifiers(args: BenchOptions) -> dict[str, Any]:
    from waste_sorting.inference.classifier import ImageClassifier

    out = {"fp32": ImageClassifier(args.model or paths.default_model(), "onnxruntime", args.threads)}
    if args.int8:
        out["int8"] = ImageClassifier(args.int8, "onnxruntime", args.threads)
    return out


def bench_hot_path(args: BenchOptions, classifiers: dict[str, Any]) -> list[dict[str, Any]]:
    """Worst case: the same still frame again and again, every item classified in every frame."""
    rows = []
    for precision, clf in classifiers.items():
        for n in args.frames:
            frame = hot_path_frames(n)
            det = _hot_path_detector(clf, 0, (0.0, 1.0))
            found = len(det.process(frame, 0.0).records)
            stamps = iter(np.arange(1, 1_000_000) / 30.0)  # successive capture stamps

            def step(det: Any = det, frame: np.ndarray = frame, stamps: Any = stamps) -> Any:
                return det.process(frame, float(next(stamps)))

            m = measure(step, args.seconds)
            rows.append({"model": precision, "items": n, "found": found, **m, "frames_per_s": 1e3 / m["p50_ms"]})
    return rows


def stream_frames(n_frames: int, items_in_view: float, speed: float = 2.0, seed: int = 0) -> list[np.ndarray]:
    """Consecutive 1280x720, 30 fps frames of a belt at ``speed`` with about ``items_in_view`` items."""
    from waste_sorting.simulation.belt import BeltSimulator, SimConfig
    from waste_sorting.simulation.speed import SpeedProfile

    rate = items_in_view * speed / (1280 * HOT_PATH_MPP + 0.13)  # items/s that keep that many in view
    sim = BeltSimulator(SimConfig(images=paths.demo_images(), width_px=1280, height_px=720,
                                  metres_per_px=HOT_PATH_MPP, speed=SpeedProfile.constant(speed),
                                  items_per_second=rate, seed=seed))
    warm = 1.0  # let the belt fill first
    return [sim.render(warm + k / 30.0) for k in range(n_frames)]


def bench_hot_path_stream(args: BenchOptions, classifiers: dict[str, Any]) -> list[dict[str, Any]]:
    """The running cell: a moving belt, classification band and per-item budget as configured."""
    if args.stream_frames <= 0:
        return []
    frames = stream_frames(args.stream_frames, args.stream_items)
    rows = []
    for precision, clf in classifiers.items():
        for budget in (0, 4):
            det = _hot_path_detector(clf, budget, (0.15, 0.85))
            det.process(frames[0], 0.0)  # warm-up; its sightings are forgotten by the next stamp
            times, items, classified = [], 0, 0
            for k, frame in enumerate(frames):
                t0 = time.perf_counter()
                result = det.process(frame, 10.0 + k / 30.0)
                times.append(time.perf_counter() - t0)
                items += len(result.records)
                classified += int(result.classified.sum())
            t = np.array(times) * 1e3
            rows.append({"model": precision, "max_classifications": budget, "frames": len(frames),
                         "items_per_frame": items / len(frames), "classified_per_frame": classified / len(frames),
                         "p50_ms": float(np.percentile(t, 50)), "p99_ms": float(np.percentile(t, 99)),
                         "frames_per_s": len(t) * 1e3 / t.sum()})
    return rows


def run(args: BenchOptions) -> dict[str, Any]:
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
    classifiers = _classifiers(args)  # loaded once for both hot-path runs
    hot = bench_hot_path(args, classifiers)
    print("\nhot path, worst case: 1280x720 still frames, every item classified in every frame:")
    for r in hot:
        print(f"  {r['model']:5s} {r['items']:2d} items ({r['found']} found): p50 {r['p50_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms, {r['frames_per_s']:.1f} frames/s")
    stream = bench_hot_path_stream(args, classifiers)
    if stream:
        print(f"\nhot path, moving belt: {args.stream_frames} consecutive 1280x720 frames at 2 m/s, "
              "classification band 0.15-0.85:")
    for r in stream:
        budget = r["max_classifications"] or "every frame"
        print(f"  {r['model']:5s} classify ≤{budget!s:>11s}: {r['items_per_frame']:.1f} items/frame, "
              f"{r['classified_per_frame']:.2f} classified/frame, p50 {r['p50_ms']:.1f} ms, "
              f"p99 {r['p99_ms']:.1f} ms, {r['frames_per_s']:.1f} frames/s")
    by_budget = {(r["model"], r["max_classifications"]): r["frames_per_s"] for r in stream}
    for (model, budget), fps in by_budget.items():
        if budget and (model, 0) in by_budget:
            ratios[f"stream-{model}-budget{budget}/every-frame"] = fps / by_budget[(model, 0)]
            print(f"  speed-up of the budget ({model}): {fps / by_budget[(model, 0)]:.2f}x")
    result = {"classifier": cls_rows, "ratios": ratios, "hot_path": hot, "hot_path_stream": stream}
    if args.teacher:
        t = bench_teacher(args.teacher, args.teacher_size, args.seconds, args.threads)
        print(f"\ndistillation teacher ({t['architecture']}, {t['size']} px, batch {t['batch']}): PyTorch "
              f"{t['torch-eager']['ms_per_image']:.1f} ms/image, ONNX Runtime {t['onnxruntime']['ms_per_image']:.1f} "
              f"ms/image, {t['speedup']:.2f}x")
        result["teacher"] = t
        ratios["teacher-onnxruntime/torch-eager"] = t["speedup"]
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    return result
