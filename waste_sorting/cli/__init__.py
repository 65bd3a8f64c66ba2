"""`waste-sorting`: one entry point, one sub-command per task (`waste-sorting SUB --help`).

Command-line parsing lives in this package only, one module per family of commands; each
command calls library functions with typed arguments."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]


def _lazy(ref: str) -> Callable[..., Any]:
    """``family:function`` of this package, imported only when called (one command's imports, not all)."""
    module, function = ref.split(":")

    def call(*args: Any) -> Any:
        import importlib

        return getattr(importlib.import_module(f"waste_sorting.cli.{module}"), function)(*args)

    return call


# name: (help, family) -- family.add_<name> declares the options, family.run_<name> runs the command
COMMANDS: dict[str, tuple[str, str]] = {
    "run": ("run the whole cell in one process (simulated by default)", "cell"),
    "train": ("train or distil the classifier on a labelled image folder", "model"),
    "average": ("average a run's last epoch checkpoints (batch norm re-measured), report and export", "model"),
    "train-ab": ("FP32 against bf16 training, interleaved on the same batches: speed and accuracy", "model"),
    "check-backgrounds": (
        "a model's top-1 on its holdout items pasted on white, grey, belt and cluttered backgrounds",
        "model",
    ),
    "pack": ("one file with a labelled folder's split, masks, backgrounds and the teacher, for `distill` "
             "on another machine", "model"),
    "distill": ("patient, consistent distillation on a pack for a time budget (a lent GPU, or a tiny CPU run)",
                "model"),
    "export": ("export a training checkpoint to ONNX + sidecar JSON", "model"),
    "classify": ("classify image files or folders", "model"),
    "sim": ("render a simulated belt run to a rosbag2 bag with ground truth", "bags"),
    "evaluate": ("run the cell over a bag in simulated time and score it", "bags"),
    "replay": ("publish a bag with its timing and /clock (like ros2 bag play --clock)", "bags"),
    "record": ("record live topics to a rosbag2 bag", "bags"),
    "harvest": (
        "the crops worth labelling from a line's bags, filed by class, with a manifest and contact sheets",
        "adaptation",
    ),
    "adapt": ("fine-tune the shipped model on a line's labelled crops, rehearsing its training data", "adaptation"),
    "calibrate": (
        "calibration helpers: homography, ejector latency and position, bins' confidence floors",
        "adaptation",
    ),
    "status": ("live terminal view of the running cell", "cell"),
    "quantize": ("INT8 (QDQ, calibrated) or FP16 variant of an ONNX model, with its accuracy", "model"),
    "engine": ("build or find the cached TensorRT engine for a model", "model"),
    "bench": ("classifier and hot-path speed per backend, with ratios", "model"),
    "soak": ("long simulated run at a high item rate: memory, drops, accounting", "cell"),
    "param": ("list, get, set or describe a running node's parameters (like ros2 param)", "cell"),
    "enable": ("re-arm firing (the actuator's software stop off)", "cell"),
    "disable": ("software stop: the controller disarms and refuses picks (the e-stop stays hard-wired)", "cell"),
    "controller-emulator": ("serve the valve-controller protocol on a pseudo-terminal", "cell"),
    "demo-set": ("rebuild the shipped demo images from a labelled folder (maintainers)", "model"),
}
FUNCTION_NAMES = {"disable": "enable", "controller-emulator": "emulator"}  # commands sharing or renaming one


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="waste-sorting", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (help_text, family) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        function = FUNCTION_NAMES.get(name, name).replace("-", "_")
        if wanted is None or name == wanted:  # import heavy modules only for the command used
            _lazy(f"{family}:add_{function}")(p)
        p.set_defaults(func=_lazy(f"{family}:run_{function}"))
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run a sub-command; a project error is one line on stderr (exit 2 usage, 1 run time), no traceback."""
    import os

    from waste_sorting.errors import UsageError, WasteSortingError

    argv = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in argv or os.environ.get("WASTE_SORTING_DEBUG", "") not in ("", "0")
    argv = [a for a in argv if a != "--debug"]
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        result = args.func(args)
        return result if isinstance(result, int) else 0
    except WasteSortingError as exc:
        if debug:
            raise
        print(f"waste-sorting {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1
