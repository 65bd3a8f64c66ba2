"""The running cell's commands: `run`, `soak`, `status`, `param`, `enable`, `disable`, `controller-emulator`."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from waste_sorting.cli.argtypes import non_negative_float, options, positive_float


def add_run(p: argparse.ArgumentParser) -> None:
    p.add_argument("--params", type=Path, default=None, help="ROS 2 params file (default: config/sorting_cell.yaml)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--sim", dest="sim", action="store_true", default=True,
                      help="simulated camera + controller emulator on a pty (default)")
    mode.add_argument("--hardware", dest="sim", action="store_false",
                      help="use the camera and serial port named in the params file")
    p.add_argument("--duration", type=non_negative_float, default=60.0,
                   help="seconds of camera input (0: until Ctrl-C)")
    p.add_argument("--belt-speed", type=positive_float, help="belt speed (m/s) for the simulator and the tracker")
    p.add_argument("--items-per-second", type=non_negative_float, help="simulated item rate")
    p.add_argument("--images", type=Path, help="simulator image folder (default: shipped demo set)")
    p.add_argument("--model", type=Path, help="ONNX model (default: the params file's)")
    p.add_argument("--port", help="serial port of the controller (hardware mode)")
    p.add_argument("--seed", type=int, help="simulator seed")
    p.add_argument("--json", type=Path, help="write the report as JSON here")
    p.add_argument("--quiet", action="store_true", help="less node logging")
    p.add_argument("--namespace", default="", help="ROS namespace of the cell's nodes and topics (two cells, one host)")
    p.add_argument("--controller", choices=("emulator", "firmware"), default="emulator",
                   help="with --sim: the Python controller emulator, or the reference firmware (ATmega2560) "
                        "running in simavr (`make firmware`)")
    p.add_argument("--executor", choices=("per-node", "shared"), default="per-node",
                   help="a single-threaded executor per node (default), or one multi-threaded executor for all "
                        "four (the earlier arrangement, to measure against)")


def run_run(args: argparse.Namespace) -> int:
    from waste_sorting.runner import RunOptions, run

    run(options(args, RunOptions))
    return 0


def add_soak(p: argparse.ArgumentParser) -> None:
    add_run(p)
    p.set_defaults(duration=180.0, items_per_second=5.0, quiet=True)
    p.add_argument("--sample-every", type=float, default=10.0, help="seconds between memory samples")


def run_soak(args: argparse.Namespace) -> int:
    from waste_sorting.soak import SoakOptions, run

    run(options(args, SoakOptions))
    return 0


def add_status(p: argparse.ArgumentParser) -> None:
    p.add_argument("--once", type=float, default=0.0, help="listen this many seconds, print once, exit")
    p.add_argument("--namespace", default="", help="the cell's namespace, if any")
    p.add_argument("--stale-after", type=float, default=2.0,
                   help="seconds without a node's diagnostics before it shows STALE")


def run_status(args: argparse.Namespace) -> int:
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from geometry_msgs.msg import TwistStamped
    from sensor_msgs.msg import PointCloud2

    from waste_sorting.ros.messages import cloud_to_items
    from waste_sorting.status import CellStatus

    ns = ("/" + args.namespace.strip("/")) if args.namespace.strip("/") else ""
    rclpy.init()
    node = rclpy.create_node("cell_status")
    view = CellStatus(args.namespace, args.stale_after)
    node.create_subscription(DiagnosticArray, "/diagnostics", view.on_diagnostics, 50)
    node.create_subscription(TwistStamped, f"{ns}/belt/speed_estimate",
                             lambda m: setattr(view, "speed_measured", m.twist.linear.x), 10)
    node.create_subscription(PointCloud2, f"{ns}/picks/fired",
                             lambda m: view.on_records(cloud_to_items(m), view.fired, per_bin=True), 50)
    node.create_subscription(PointCloud2, f"{ns}/items/decided",
                             lambda m: view.on_records(cloud_to_items(m), view.decided), 50)
    try:
        next_draw = time.monotonic() + 1.0
        end = time.monotonic() + args.once if args.once > 0 else float("inf")
        while time.monotonic() < end:
            rclpy.spin_once(node, timeout_sec=0.05)
            if args.once <= 0 and time.monotonic() >= next_draw:
                print("\033[2J\033[H" + view.render(), flush=True)
                next_draw = time.monotonic() + 1.0
        if args.once > 0:
            print(view.render())
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.shutdown()
    return 0


def add_param(p: argparse.ArgumentParser) -> None:
    p.add_argument("action", choices=("list", "get", "set", "describe"))
    p.add_argument("node", choices=("camera_driver", "classifier", "tracker", "actuator"))
    p.add_argument("name", nargs="?")
    p.add_argument("value", nargs="?", help="as `ros2 param set` takes it: 2.5, true, '[0.5, 0.6]'")
    _common(p)


def add_enable(p: argparse.ArgumentParser) -> None:
    _common(p)


def run_param(args: argparse.Namespace) -> int:
    from waste_sorting.ros.param_client import param

    for line in param(args.action, args.node, args.name, args.value, args.namespace, args.timeout):
        print(line)
    return 0


def run_enable(args: argparse.Namespace) -> int:
    from waste_sorting.ros.param_client import enable

    for line in enable(args.command == "enable", args.namespace, args.timeout):
        print(line)
    return 0


def add_emulator(p: argparse.ArgumentParser) -> None:
    p.add_argument("--ejectors", type=int, default=8)
    p.add_argument("--valves", type=int, default=32, help="valves per ejector bank")
    p.add_argument("--watchdog", type=float, default=0.5, help="seconds without heartbeat before all valves close")
    p.add_argument("--link", type=Path, help="also create this symlink to the pty (removed on exit)")
    p.add_argument("--firmware", action="store_true",
                   help="serve the reference firmware (ATmega2560) in simavr instead of the Python emulator")


def run_emulator(args: argparse.Namespace) -> int:
    from waste_sorting.protocol.serve import serve

    serve(args.ejectors, args.valves, args.watchdog, args.link, args.firmware)
    return 0


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--namespace", default="", help="the cell's namespace (launch namespace:=, run --namespace)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for the node")
