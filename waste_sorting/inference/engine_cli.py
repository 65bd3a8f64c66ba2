"""`waste-sorting engine build`: build (or find) the cached TensorRT engine for an ONNX model."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from waste_sorting import paths


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="action", required=True)
    b = sub.add_parser("build", help="build the engine unless a valid one is cached")
    b.add_argument("--model", type=Path, default=None, help="ONNX model (default: the shipped model)")
    b.add_argument("--max-batch", type=int, default=16)
    b.add_argument("--cache", type=Path, default=None, help="engine cache folder")


def run(args: argparse.Namespace) -> int:
    from waste_sorting.inference.backend import tensorrt_status

    usable, why = tensorrt_status()
    if not usable:
        print(f"cannot build a TensorRT engine here: {why}", file=sys.stderr)
        return 2
    from waste_sorting.inference.tensorrt_backend import load_or_build

    _, path = load_or_build(args.model or paths.default_model(), args.max_batch, args.cache)
    print(f"engine ready: {path}")
    return 0
