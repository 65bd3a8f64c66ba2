"""`waste-sorting run`: the whole cell in one process (an executor thread per node), from the params file.

With ``--sim`` (the default when no hardware is named) the camera renders the
simulated belt and the actuator talks to the controller emulator on a
pseudo-terminal; at the end the run is scored physically: the simulator knows
where every item was when each pulse fired.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting import paths
from waste_sorting.cell.specs import CELL
from waste_sorting.errors import UsageError, WasteSortingError
from waste_sorting.evaluation.report import SimRunReport, build_sim_report, print_sim_report
from waste_sorting.params_file import check_file


@dataclass
class RunOptions:
    """What `waste-sorting run` was asked for (the command line's defaults are its)."""

    params: Path | None        # ROS 2 params file (None: config/sorting_cell.yaml)
    sim: bool                  # simulated camera + controller emulator on a pty
    duration: float            # seconds of camera input (0: until Ctrl-C)
    belt_speed: float | None   # belt speed (m/s) for the simulator and the tracker
    items_per_second: float | None  # simulated item rate
    images: Path | None        # simulator image folder (None: the shipped demo set)
    model: Path | None         # ONNX model (None: the params file's)
    port: str | None           # serial port of the controller (hardware mode)
    seed: int | None           # simulator seed
    json: Path | None          # write the report as JSON here
    quiet: bool                # less node logging
    namespace: str             # ROS namespace of the cell's nodes and topics
    executor: str              # "per-node" or "shared"
    controller: str = "emulator"  # with sim: "emulator" (Python) or "firmware" (the reference firmware in simavr)


def _overrides(args: RunOptions, port: str | None) -> dict[str, list[Any]]:
    from rclpy.parameter import Parameter

    o: dict[str, list[Any]] = {"camera_driver": [], "classifier": [], "tracker": [], "actuator": []}
    if args.belt_speed is not None:
        o["camera_driver"].append(Parameter("sim_belt_speed", value=str(args.belt_speed)))
        o["tracker"].append(Parameter("belt_speed", value=float(args.belt_speed)))
    if args.items_per_second is not None:
        o["camera_driver"].append(Parameter("sim_items_per_second", value=float(args.items_per_second)))
    if args.images is not None:
        o["camera_driver"].append(Parameter("sim_images", value=str(args.images)))
    if args.seed is not None:
        o["camera_driver"].append(Parameter("sim_seed", value=int(args.seed)))
    if args.model is not None:
        o["classifier"].append(Parameter("model", value=str(args.model)))
    if args.sim:
        o["camera_driver"].append(Parameter("source", value="sim"))
    if port:
        o["actuator"].append(Parameter("port", value=port))
    return o


def run(args: RunOptions) -> SimRunReport | None:
    import rclpy

    from waste_sorting.nodes.actuator import Actuator
    from waste_sorting.nodes.camera_driver import CameraDriver
    from waste_sorting.nodes.classifier import Classifier
    from waste_sorting.nodes.tracker import Tracker
    from waste_sorting.protocol.emulator import EmulatorProcess
    from waste_sorting.ros.executors import NodeThreads

    params = args.params or paths.default_params_file()
    if not params.is_file():
        raise UsageError(f"params file not found: {params}")
    check_file(params, CELL)  # before anything starts: a typo or a bad value is one line
    emulator: Any = None
    port = args.port
    if args.sim:
        if args.controller == "firmware":
            from waste_sorting.protocol.firmware import FirmwareController

            emulator = FirmwareController()
            port = emulator.start()
            print(f"valve controller firmware in simavr on {port}")
        else:
            emulator = EmulatorProcess()
            port = emulator.start()
            print(f"controller emulator on {port}")
    ros_args = ["--ros-args", "--params-file", str(params)]
    if args.quiet:
        ros_args += ["--log-level", "warn"]
    context = rclpy.Context()
    rclpy.init(args=ros_args, context=context)
    nodes: list[Any] = []
    try:
        o = _overrides(args, port)
        ns = args.namespace.strip("/")
        camera = CameraDriver(context=context, namespace=ns, parameter_overrides=o["camera_driver"])
        classifier = Classifier(context=context, namespace=ns, parameter_overrides=o["classifier"])
        tracker = Tracker(context=context, namespace=ns, parameter_overrides=o["tracker"])
        actuator = Actuator(context=context, namespace=ns, parameter_overrides=o["actuator"])
        nodes = [camera, classifier, tracker, actuator]
        cell = NodeThreads(nodes, context, shared=args.executor == "shared")
        if not actuator.link.wait_ready(5.0):
            print("warning: controller link not ready after 5 s; picks will be missed with LINK_DOWN")
        wall_start = time.time()
        cell.start()
        end = time.monotonic() + args.duration if args.duration > 0 else float("inf")
        try:
            while time.monotonic() < end and cell.alive():
                time.sleep(min(0.2, max(end - time.monotonic(), 0.0)))
        except KeyboardInterrupt:
            print("stopping")
        if not cell.alive():
            cell.shutdown(timeout_sec=2.0)
            raise WasteSortingError(f"the cell stopped: a node failed with {cell.failure[0]!r}" if cell.failure
                             else "the cell's executor stopped unexpectedly")
        camera.timer.cancel()
        classifier.camera_stopped()
        camera_end = time.time()
        # Let items already on the belt reach (and pass) the last ejector.
        speed = max(tracker.stage.odometry.speed, 0.1)
        drain = (max(tracker.stage.tracker.geometry.x) + 0.6) / speed + 0.3
        time.sleep(min(drain, 30.0))
        # Let callbacks in flight finish before the nodes are destroyed under them.
        if not cell.shutdown(timeout_sec=10.0):
            print("warning: node callbacks still running 10 s after shutdown was requested")
        if not args.sim:  # no ground truth to score: say what the cell did
            decided = sorted(tracker.stage.tracker.stats.decisions.items())
            decisions = ", ".join(f"{st}/{r} {n}" for (st, r), n in decided)
            print(f"\n=== waste_sorting: run summary (hardware, no ground truth) ===\n"
                  f"camera frames {camera.published}, frames classified {classifier.stage.stats.frames}\n"
                  f"decisions: {decisions or 'none'}\n"
                  "actuator: " + (", ".join(f"{k} {v}" for k, v in sorted(actuator.outcomes.items())) or "no picks"))
            return None
        assert emulator is not None and camera.sim is not None and camera.t0 is not None
        if classifier.stage.stats.frames > camera.published:
            raise WasteSortingError(
                f"not scored: the classifier took {classifier.stage.stats.frames} frames from a camera that sent "
                f"{camera.published}, so another cell on ROS_DOMAIN_ID {os.environ.get('ROS_DOMAIN_ID', '0')} fed "
                "this one; run each cell with its own ROS_DOMAIN_ID or --namespace")
        # The actuator disarms and closes its link first: stopping the emulator under an open link
        # would end every normal run with "serial link lost" lines.
        outcomes = dict(actuator.outcomes)
        nodes.remove(actuator)
        actuator.destroy_node()
        pulses = emulator.stop()
        if args.controller == "firmware":
            print(firmware_timing(emulator))
        report = build_sim_report(
            sim=camera.sim, t0_wall=camera.t0, wall_start=wall_start, camera_end=camera_end,
            pulses=pulses, geometry=tracker.stage.tracker.geometry,
            classes=classifier.model.classes, bin_classes=list(tracker.stage.tracker.bins.ejector_class),
            decisions=tracker.stage.tracker.stats.decisions, actuator_outcomes=outcomes,
            latencies=np.array(tracker.decision_latency), valve_latency=tracker.stage.tracker.geometry.latency,
            classified={classifier.model.classes[c] if c >= 0 else 'unclassified': n
                        for c, n in tracker.stage.tracker.stats.classified.items()},
            frames=camera.published, classifier_frames=classifier.stage.stats.frames, decided=list(tracker.decided))
        print_sim_report(report)
        if args.json:
            args.json.write_text(json.dumps(report.as_dict(), indent=2))
        return report
    finally:
        for n in nodes:
            n.destroy_node()
        rclpy.shutdown(context=context)
        if emulator is not None:
            emulator.stop()


def firmware_timing(fw: Any) -> str:
    """What the firmware's pins did against what was commanded, and how well simulation kept time."""
    found, unanswered = fw.fire_errors_us()
    errors = np.abs(np.array(found, float))
    lag = f"{fw.lag_us / 1e3:.1f} ms" if fw.lag_us is not None else "n/a"
    if not errors.size:
        return f"firmware: no pulse at the pins; simulated time at most {lag} behind the wall clock"
    return (f"firmware: {errors.size} commanded pulses opened their valves ({unanswered} commands refused or "
            f"replaced); pin edge against the commanded controller time |us| p50 {np.percentile(errors, 50):.0f}, "
            f"p99 {np.percentile(errors, 99):.0f}, max {errors.max():.0f}; simulated time at most {lag} behind "
            "the wall clock")
