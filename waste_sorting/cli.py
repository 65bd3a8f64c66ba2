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


def _module_run(module: str) -> Callable[[argparse.Namespace], int]:
    def call(args: argparse.Namespace) -> int:
        import importlib

        result = importlib.import_module(module).run(args)
        return result if isinstance(result, int) else 0

    return call


def _lazy_args(module: str) -> Callable[[argparse.ArgumentParser], None]:
    def add(p: argparse.ArgumentParser) -> None:
        import importlib

        importlib.import_module(module).add_arguments(p)

    return add


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[[Any], int]]] = {
    "run": ("run the whole cell in one process (simulated by default)", _lazy_args("waste_sorting.runner"),
            _run_cell),
    "train": ("train or distil the classifier on a labelled image folder", _lazy_args("waste_sorting.model.train"),
              _train),
    "average": ("average a run's last epoch checkpoints (batch norm re-measured), report and export",
                _lazy_args("waste_sorting.model.averaging"), _module_run("waste_sorting.model.averaging")),
    "export": ("export a training checkpoint to ONNX + sidecar JSON", _lazy_args("waste_sorting.model.export"),
               _export),
    "classify": ("classify image files or folders", _lazy_args("waste_sorting.classify"), _classify),
    "sim": ("render a simulated belt run to a rosbag2 bag with ground truth",
            _lazy_args("waste_sorting.bags.simbag"), _module_run("waste_sorting.bags.simbag")),
    "evaluate": ("run the cell over a bag in simulated time and score it",
                 _lazy_args("waste_sorting.evaluation.offline"), _module_run("waste_sorting.evaluation.offline")),
    "replay": ("publish a bag with its timing and /clock (like ros2 bag play --clock)",
               _lazy_args("waste_sorting.bags.replay"), _module_run("waste_sorting.bags.replay")),
    "record": ("record live topics to a rosbag2 bag", _lazy_args("waste_sorting.bags.record"),
               _module_run("waste_sorting.bags.record")),
    "calibrate": ("calibration helpers: homography, ejector latency and position",
                  _lazy_args("waste_sorting.calibration.cli"), _module_run("waste_sorting.calibration.cli")),
    "status": ("live terminal view of the running cell", _lazy_args("waste_sorting.status"),
               _module_run("waste_sorting.status")),
    "quantize": ("INT8 (QDQ, calibrated) or FP16 variant of an ONNX model, with its accuracy",
                 _lazy_args("waste_sorting.inference.quantize"), _module_run("waste_sorting.inference.quantize")),
    "engine": ("build or find the cached TensorRT engine for a model", _lazy_args("waste_sorting.inference.engine_cli"),
               _module_run("waste_sorting.inference.engine_cli")),
    "bench": ("classifier and hot-path speed per backend, with ratios", _lazy_args("waste_sorting.bench"),
              _module_run("waste_sorting.bench")),
    "soak": ("long simulated run at a high item rate: memory, drops, accounting",
             _lazy_args("waste_sorting.soak"), _module_run("waste_sorting.soak")),
    "controller-emulator": ("serve the valve-controller protocol on a pseudo-terminal",
                            _lazy_args("waste_sorting.protocol.serve"), _module_run("waste_sorting.protocol.serve")),
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
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    return int(args.func(args) or 0)


if __name__ == "__main__":
    raise SystemExit(main())
