"""`waste-sorting`: one entry point, one sub-command per task (`waste-sorting SUB --help`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any


def _run_cell(args: argparse.Namespace) -> int:
    from waste_sorting import runner

    runner.run(args)
    return 0


def _train(args: argparse.Namespace) -> int:
    from waste_sorting.model import train

    train.run(args)
    return 0


def _export(args: argparse.Namespace) -> int:
    from waste_sorting.model import export

    export.run(args)
    return 0


def _classify(args: argparse.Namespace) -> int:
    from waste_sorting import classify

    return classify.run(args)


def _lazy_call(module: str, function: str = "run") -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        import importlib

        result = getattr(importlib.import_module(module), function)(args)
        return result if isinstance(result, int) else 0

    return call


def _lazy(module: str, function: str = "add_arguments") -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        import importlib

        getattr(importlib.import_module(module), function)(p)

    return add




COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[Any], int]]] = {
    "run": ("run the whole cell in one process (simulated by default)", _lazy("waste_sorting.runner"),
            _run_cell),
    "train": ("train or distil the classifier on a labelled image folder", _lazy("waste_sorting.model.train"),
              _train),
    "average": ("average a run's last epoch checkpoints (batch norm re-measured), report and export",
                _lazy("waste_sorting.model.averaging"), _lazy_call("waste_sorting.model.averaging")),
    "train-ab": ("FP32 against bf16 training, interleaved on the same batches: speed and accuracy",
                 _lazy("waste_sorting.model.precision_ab"), _lazy_call("waste_sorting.model.precision_ab")),
    "check-backgrounds": ("a model's top-1 on its holdout items pasted on white, grey, belt and cluttered "
                          "backgrounds", _lazy("waste_sorting.model.background_check"),
                          _lazy_call("waste_sorting.model.background_check")),
    "export": ("export a training checkpoint to ONNX + sidecar JSON", _lazy("waste_sorting.model.export"),
               _export),
    "classify": ("classify image files or folders", _lazy("waste_sorting.classify"), _classify),
    "sim": ("render a simulated belt run to a rosbag2 bag with ground truth",
            _lazy("waste_sorting.bags.simbag"), _lazy_call("waste_sorting.bags.simbag")),
    "evaluate": ("run the cell over a bag in simulated time and score it",
                 _lazy("waste_sorting.evaluation.offline"), _lazy_call("waste_sorting.evaluation.offline")),
    "replay": ("publish a bag with its timing and /clock (like ros2 bag play --clock)",
               _lazy("waste_sorting.bags.replay"), _lazy_call("waste_sorting.bags.replay")),
    "record": ("record live topics to a rosbag2 bag", _lazy("waste_sorting.bags.record"),
               _lazy_call("waste_sorting.bags.record")),
    "harvest": ("the crops worth labelling from a line's bags, filed by class, with a manifest and contact sheets",
                _lazy("waste_sorting.adaptation.commands", "add_harvest_arguments"),
                _lazy_call("waste_sorting.adaptation.commands", "run_harvest")),
    "adapt": ("fine-tune the shipped model on a line's labelled crops, rehearsing its training data",
              _lazy("waste_sorting.adaptation.commands", "add_adapt_arguments"),
              _lazy_call("waste_sorting.adaptation.commands", "run_adapt")),
    "calibrate": ("calibration helpers: homography, ejector latency and position, bins' confidence floors",
                  _lazy("waste_sorting.calibration.cli"), _lazy_call("waste_sorting.calibration.cli")),
    "status": ("live terminal view of the running cell", _lazy("waste_sorting.status"),
               _lazy_call("waste_sorting.status")),
    "quantize": ("INT8 (QDQ, calibrated) or FP16 variant of an ONNX model, with its accuracy",
                 _lazy("waste_sorting.inference.quantize"), _lazy_call("waste_sorting.inference.quantize")),
    "engine": ("build or find the cached TensorRT engine for a model", _lazy("waste_sorting.inference.engine_cli"),
               _lazy_call("waste_sorting.inference.engine_cli")),
    "bench": ("classifier and hot-path speed per backend, with ratios", _lazy("waste_sorting.bench"),
              _lazy_call("waste_sorting.bench")),
    "soak": ("long simulated run at a high item rate: memory, drops, accounting",
             _lazy("waste_sorting.soak"), _lazy_call("waste_sorting.soak")),
    "param": ("list, get, set or describe a running node's parameters (like ros2 param)",
              _lazy("waste_sorting.ros.param_client", "add_param_arguments"),
              _lazy_call("waste_sorting.ros.param_client", "run_param")),
    "enable": ("re-arm firing (the actuator's software stop off)",
               _lazy("waste_sorting.ros.param_client", "add_enable_arguments"),
               _lazy_call("waste_sorting.ros.param_client", "run_enable")),
    "disable": ("software stop: the controller disarms and refuses picks (the e-stop stays hard-wired)",
                _lazy("waste_sorting.ros.param_client", "add_enable_arguments"),
                _lazy_call("waste_sorting.ros.param_client", "run_enable")),
    "controller-emulator": ("serve the valve-controller protocol on a pseudo-terminal",
                            _lazy("waste_sorting.protocol.serve"), _lazy_call("waste_sorting.protocol.serve")),
}


def build_parser(argv: list[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="waste-sorting", description=__doc__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    wanted = argv[0] if argv and argv[0] in COMMANDS else None
    for name, (help_text, add_args, func) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if wanted is None or name == wanted:  # import heavy modules only for the command used
            add_args(p)
        p.set_defaults(func=func)
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
        return int(args.func(args) or 0)
    except WasteSortingError as exc:
        if debug:
            raise
        print(f"waste-sorting {args.command}: error: {exc}", file=sys.stderr)
        return 2 if isinstance(exc, UsageError) else 1


if __name__ == "__main__":
    raise SystemExit(main())
