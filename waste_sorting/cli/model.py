"""Model commands: `train`, `average`, `train-ab`, `check-backgrounds`, `pack`, `distill`, `export`, `classify`,
`quantize`, `engine`, `bench`, `demo-set`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from waste_sorting import paths
from waste_sorting.cli.argtypes import aspect_argument, defaults_from, options


def add_train(p: argparse.ArgumentParser) -> None:
    from waste_sorting.model.backgrounds import BACKGROUND_SETS
    from waste_sorting.model.registry import TEACHER_ARCHS
    from waste_sorting.model.train import TrainConfig

    p.add_argument("--data", type=Path, required=True, help="folder with one sub-folder per class")
    p.add_argument("--out", type=Path, required=True, help="run folder: checkpoint, report, model.onnx")
    p.add_argument("--arch", choices=("attention-resnet", *TEACHER_ARCHS))
    p.add_argument("--depth", type=int, choices=(10, 18, 34))
    p.add_argument("--attention", choices=("cbam", "se", "none"))
    p.add_argument("--width", type=int)
    p.add_argument("--size", type=int, help="input size in pixels (square)")
    p.add_argument("--size-schedule",
                   help="progressive resizing, 'SIZE:FROM_EPOCH,...' e.g. '96:0,128:60'; the last size is the "
                        "model's input size")
    p.add_argument("--init-from", type=Path, help="start from this checkpoint's weights (fresh optimiser)")
    p.add_argument("--init-onnx", type=Path,
                   help="start from the attention-ResNet in this ONNX file (e.g. models/waste_cbam18.onnx): "
                        "no run folder needed")
    p.add_argument("--init-torchvision", type=Path, metavar="FILE",
                   help="start from ImageNet ResNet-18/34 weights saved from torchvision "
                        "(torch.save(model.state_dict(), FILE)); attention starts as the identity")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction,
                   help="bfloat16 autocast for the trained network's passes (AVX512-BF16 CPUs)")
    p.add_argument("--backgrounds", choices=tuple(BACKGROUND_SETS),
                   help="what cut-out items are pasted on: the belt only, or varied boards, gradients and clutter")
    p.add_argument("--white-balance", type=float,
                   help="spread of a random per-channel gain over each view (0 disables)")
    p.add_argument("--epochs", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--optimizer", choices=("adamw", "sgd"))
    p.add_argument("--lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup-epochs", type=float)
    p.add_argument("--label-smoothing", type=float)
    p.add_argument("--mixup", type=float, help="mixup Beta(a, a); 0 disables")
    p.add_argument("--belt-p", type=float, help="share of views composited on belt")
    p.add_argument("--teacher", type=Path, help="teacher checkpoint.pt for distillation")
    p.add_argument("--kd-alpha", type=float, help="weight of the hard-label loss")
    p.add_argument("--kd-temperature", type=float)
    p.add_argument("--teacher-size", type=int)
    p.add_argument("--teacher-tta", action="store_true", help="average teacher logits over a mirror view")
    p.add_argument("--feature-kd", type=float,
                   help="weight of feature distillation: the student's pooled features, through a linear "
                        "projector, match the teacher's (cosine); 0 disables")
    p.add_argument("--holdout", type=float)
    p.add_argument("--split-seed", type=int)
    p.add_argument("--seed", type=int)
    p.add_argument("--limit-per-class", type=int, help="use at most N images per class (tests)")
    p.add_argument("--threads", type=int, help="torch threads (0: all cores)")
    p.add_argument("--keep-epochs", type=int,
                   help="also keep the last N epochs' weights (epoch-NNN.pt) for `waste-sorting average`")
    p.add_argument("--no-export", action="store_true", help="skip ONNX export at the end")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    defaults_from(p, TrainConfig)


def run_train(args: argparse.Namespace) -> int:
    from waste_sorting.model.train import TrainConfig, train

    train(options(args, TrainConfig))
    return 0


def run_average(args: argparse.Namespace) -> int:
    from waste_sorting.model.averaging import average_run

    average_run(args.checkpoints, args.data, args.out, args.seed, args.no_export)
    return 0


def run_train_ab(args: argparse.Namespace) -> int:
    from waste_sorting.model.precision_ab import train_ab

    train_ab(args.data, args.epochs, args.size, args.batch_size, args.limit_per_class, args.lr)
    return 0


def run_quantize(args: argparse.Namespace) -> int:
    from waste_sorting.inference.quantize import make_variant

    make_variant(args.model, args.out, args.calib, args.fp16, args.method, args.target, args.calib_images,
                 args.calib_train_split, args.eval, args.eval_holdout)
    return 0


def run_bench(args: argparse.Namespace) -> int:
    from waste_sorting.bench import BenchOptions, run

    run(options(args, BenchOptions))
    return 0


def add_average(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoints", type=Path, nargs="+", help="epoch checkpoints of one run (train --keep-epochs)")
    p.add_argument("--data", type=Path, required=True, help="the run's training folder (same split)")
    p.add_argument("--out", type=Path, required=True, help="folder: checkpoint.pt, report.json, model.onnx")
    p.add_argument("--seed", type=int, default=0, help="seed of the training views batch norm is measured on")
    p.add_argument("--no-export", action="store_true", help="skip ONNX export")


def add_train_ab(p: argparse.ArgumentParser) -> None:
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--size", type=int, default=128)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--limit-per-class", type=int, default=60, help="training images per class")
    p.add_argument("--lr", type=float, default=2e-3)


def add_check_backgrounds(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, action="append", required=True, help="ONNX model (repeat to compare)")
    p.add_argument("--data", type=Path, required=True, help="the labelled folder the model was trained from")
    p.add_argument("--limit", type=int, default=0, help="at most N holdout images per class (quick look)")
    p.add_argument("--json", type=Path, help="write {model: {background: top-1}} here")


def run_check_backgrounds(args: argparse.Namespace) -> int:
    from waste_sorting.model.background_check import background_table

    out = {}
    for model in args.model:
        print(f"{model}:", flush=True)
        out[str(model)] = background_table(model, args.data, limit=args.limit)
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")
    return 0


def add_pack(p: argparse.ArgumentParser) -> None:
    from waste_sorting.data.folders import DEFAULT_HOLDOUT_FRACTION, DEFAULT_SPLIT_SEED
    from waste_sorting.model.backgrounds import BACKGROUND_SETS

    p.add_argument("--data", type=Path, required=True, help="folder with one sub-folder per class")
    p.add_argument("--out", type=Path, required=True, help="the pack file to write (e.g. pack/trashnet.pt)")
    p.add_argument("--teacher", type=Path,
                   help="a fine-tuned teacher's checkpoint.pt (default: EfficientNet-Lite0's ImageNet weights, "
                        "fine-tuned by `distill` first)")
    p.add_argument("--backgrounds", choices=tuple(BACKGROUND_SETS), default="varied",
                   help="what the cut-out items are pasted on")
    p.add_argument("--holdout", type=float, default=DEFAULT_HOLDOUT_FRACTION)
    p.add_argument("--split-seed", type=int, default=DEFAULT_SPLIT_SEED)
    p.add_argument("--limit-per-class", type=int, default=0, help="at most N images per class (tests)")


def run_pack(args: argparse.Namespace) -> int:
    import torch

    from waste_sorting.model.pack import build_pack
    from waste_sorting.model.train import split_folder

    classes, train_items, hold_items = split_folder(args.data, args.holdout, args.split_seed, args.limit_per_class)
    contents = build_pack(args.data, classes, train_items, hold_items, args.split_seed, args.holdout, args.teacher,
                          args.backgrounds)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_name(args.out.name + ".part")
    torch.save(contents, tmp)
    tmp.replace(args.out)
    print(f"wrote {args.out} ({args.out.stat().st_size / 2**20:.1f} MiB)")
    return 0


def add_distill(p: argparse.ArgumentParser) -> None:
    from waste_sorting.model.patient import DistillConfig

    p.add_argument("--pack", type=Path, required=True, help="from `waste-sorting pack`")
    p.add_argument("--out", type=Path, required=True,
                   help="run folder: checkpoint.pt (resumes), teacher.pt, student.pt.000..., report.json")
    p.add_argument("--device", help="cuda (a lent GPU) or cpu (a tiny run to try the recipe)")
    p.add_argument("--minutes", type=float, help="the student's time budget; its learning rate's cosine runs over it")
    p.add_argument("--steps", type=int, help="or exactly this many steps (0: the time budget)")
    p.add_argument("--teacher-minutes", type=float,
                   help="fine-tune the pack's ImageNet teacher first for this long (skipped for a tuned one)")
    p.add_argument("--teacher-steps", type=int, help="or this many steps")
    p.add_argument("--init-onnx", type=Path, help="start the student from this model (e.g. models/waste_cbam18.onnx)")
    p.add_argument("--size", type=int)
    p.add_argument("--teacher-size", type=int)
    p.add_argument("--batch-size", type=int)
    p.add_argument("--lr", type=float)
    p.add_argument("--teacher-lr", type=float)
    p.add_argument("--weight-decay", type=float)
    p.add_argument("--warmup", type=float, help="share of the budget the learning rate warms up over")
    p.add_argument("--mixup", type=float, help="views mixed with Beta(a, a) weights; 0 disables")
    p.add_argument("--kd-temperature", type=float)
    p.add_argument("--feature-kd", type=float, help="weight of matching the teacher's pooled features")
    p.add_argument("--belt-p", type=float, help="share of views with the item cut out on a background")
    p.add_argument("--white-balance", type=float)
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, help="bfloat16 autocast")
    p.add_argument("--eval-minutes", type=float, help="holdout figures every so often")
    p.add_argument("--checkpoint-minutes", type=float)
    p.add_argument("--seed", type=int)
    defaults_from(p, DistillConfig)


def run_distill(args: argparse.Namespace) -> int:
    from waste_sorting.model.patient import DistillConfig, distill

    distill(options(args, DistillConfig))
    return 0


def add_export(p: argparse.ArgumentParser) -> None:
    p.add_argument("checkpoint", type=Path,
                   help="checkpoint.pt from `waste-sorting train`, or student.pt from `distill` (its parts joined)")
    p.add_argument("--out", type=Path, required=True, help="output .onnx (sidecar .json beside it)")
    p.add_argument("--fp32-weights", action="store_true", help="store FP32 weights (twice the size)")


def run_export(args: argparse.Namespace) -> dict[str, Any]:
    from waste_sorting.inference.metadata import sidecar_path
    from waste_sorting.model.export import export_checkpoint

    path = export_checkpoint(args.checkpoint, args.out, fp16_weights=not args.fp32_weights)
    print(f"wrote {path} ({path.stat().st_size / 1e6:.1f} MB) and {sidecar_path(path)}")
    return json.loads(sidecar_path(path).read_text())


def add_classify(p: argparse.ArgumentParser) -> None:
    p.add_argument("paths", nargs="+", type=Path, help="image files or folders (searched recursively)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped model)")
    p.add_argument("--backend", default="auto", choices=("auto", "tensorrt", "onnxruntime"))
    p.add_argument("--json", action="store_true", help="print a JSON list instead of lines")
    p.add_argument("--top", type=int, default=1, help="also list the top-k classes")
    p.add_argument("--photo-aspect", type=aspect_argument, default=0.0,
                   help="stretch each photo to this true width/height first (4:3 = 1.333 for TrashNet's files, "
                        "stored squeezed to 3:4); 0 (default) takes photos as stored")


def run_classify(args: argparse.Namespace) -> int:
    from waste_sorting.classify import classify_paths, collect

    files = collect(args.paths)
    if not files:
        print("no images found", file=sys.stderr)
        return 2
    results = classify_paths(files, args.model, args.backend, args.top, args.photo_aspect)
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        for r in results:
            if "error" in r:
                print(f"{r['path']}: ERROR {r['error']}")
            else:
                print(f"{r['path']}: {r['label']} {r['confidence']:.3f}")
    errors = sum("error" in r for r in results)
    if errors:
        print(f"{errors} of {len(results)} files could not be classified", file=sys.stderr)
    return 1 if errors == len(results) else 0


def add_quantize(p: argparse.ArgumentParser) -> None:
    from waste_sorting.inference.quantize import METHODS, TARGETS

    p.add_argument("--model", type=Path, required=True, help="FP32 ONNX model (with its sidecar JSON)")
    p.add_argument("--out", type=Path, required=True, help="output ONNX")
    p.add_argument("--calib", type=Path, help="calibration image folder (INT8)")
    p.add_argument("--fp16", action="store_true", help="make an FP16 model instead of INT8")
    p.add_argument("--method", default="percentile", choices=METHODS)
    p.add_argument("--target", default="tensorrt", choices=TARGETS,
                   help="tensorrt: symmetric s8 activations and weights (TensorRT's form); cpu: u8 activations, "
                        "7-bit s8 weights (fast on x86 ONNX Runtime without VNNI)")
    p.add_argument("--calib-images", type=int, default=256, help="at most this many calibration images")
    p.add_argument("--calib-train-split", action="store_true",
                   help="--calib is the training folder: calibrate on its training split only")
    p.add_argument("--eval", type=Path, help="labelled folder to measure top-1 of FP32 and the new model")
    p.add_argument("--eval-holdout", action="store_true", help="--eval is the training folder: use its holdout")


def add_engine(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build the engine unless a valid one is cached")
    b.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped model)")
    b.add_argument("--max-batch", type=int, default=16)
    b.add_argument("--cache", type=Path, default=None, help="engine cache folder")


def run_engine(args: argparse.Namespace) -> int:
    from waste_sorting.inference.backend import tensorrt_status

    usable, why = tensorrt_status()
    if not usable:
        print(f"cannot build a TensorRT engine here: {why}", file=sys.stderr)
        return 2
    from waste_sorting.inference.tensorrt_backend import load_or_build

    _, path = load_or_build(args.model or paths.default_model(), args.max_batch, args.cache)
    print(f"engine ready: {path}")
    return 0


def add_bench(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", type=Path, default=None, help="FP32 ONNX model (default: the shipped one)")
    p.add_argument("--int8", type=Path, default=None, help="INT8 QDQ model to include")
    p.add_argument("--backend", nargs="*", default=["onnxruntime", "torch", "tensorrt"],
                   help="which of onnxruntime, torch, tensorrt to run (missing ones are skipped with a reason)")
    p.add_argument("--batch", type=int, nargs="*", default=[1, 8])
    p.add_argument("--seconds", type=float, default=3.0, help="time per measurement")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--frames", type=int, nargs="*", default=[1, 4, 12], help="items per hot-path frame")
    p.add_argument("--stream-frames", type=int, default=90,
                   help="frames of the moving-belt hot-path run (0 skips it)")
    p.add_argument("--stream-items", type=float, default=4.8,
                   help="items in view the moving-belt run aims at (single file with gaps: it reports the mean it got)")
    p.add_argument("--teacher", type=Path, default=None,
                   help="also time this distillation teacher (checkpoint.pt): PyTorch against ONNX Runtime, "
                        "as `train` runs it")
    p.add_argument("--teacher-size", type=int, default=160)
    p.add_argument("--json", type=Path)


def add_demo_set(p: argparse.ArgumentParser) -> None:
    p.add_argument("src", type=Path, help="labelled folder (TrashNet's layout)")
    p.add_argument("dst", type=Path, help="demo folder to write (waste_sorting/demo_images)")
    p.add_argument("--per-class", type=int, default=8)


def run_demo_set(args: argparse.Namespace) -> int:
    from waste_sorting.data.demo_set import make_demo_set

    print(f"wrote {make_demo_set(args.src, args.dst, args.per_class)} images to {args.dst}")
    return 0
