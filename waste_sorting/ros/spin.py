"""Entry-point helper: init, spin one node until SIGINT or SIGTERM, shut down cleanly, exit 0.

``ros2 launch`` stops a node twice: Ctrl-C reaches the whole process group,
then launch sends its own SIGINT (and SIGTERM after a timeout). The first
signal stops the node; later ones are ignored, so the teardown (the actuator
closing every valve) runs to its end instead of dying in a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

import rclpy
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor
from rclpy.node import Node

from waste_sorting.errors import WasteSortingError
from waste_sorting.signals import StopRequested, ignore_stop_signals, install_stop_handlers

SPIN_POLL_S = 0.25  # the longest a stop waits if no wake-up reaches the executor


def spin_node(factory: Callable[[], Node], args: list[str] | None = None) -> None:
    # Ours first: rclpy's handler (installed by init) wakes the executor and then calls ours.
    stop = install_stop_handlers()
    rclpy.init(args=args)
    node = None
    code = 0
    try:
        node = factory()
        node.get_logger().info(f"started as {node.get_fully_qualified_name()}")
        executor = MultiThreadedExecutor(num_threads=2)
        executor.add_node(node)
        stop.raises = False  # from here the loop watches the switch (rclpy's handler wakes the executor)
        while not stop.requested.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=SPIN_POLL_S)
    except (KeyboardInterrupt, StopRequested, ExternalShutdownException):
        pass
    except WasteSortingError as exc:  # a setting the node cannot run with: one line, no traceback
        name = node.get_name() if node is not None else "waste_sorting"
        print(f"[ERROR] [{name}]: {exc}", file=sys.stderr, flush=True)
        code = 1
    except Exception:
        # rclpy's handler shuts the context down as the signal comes, before ours runs: whatever used
        # it in between (a wait, or building the node) fails with RCLError. That is the stop, not a fault.
        if rclpy.ok():
            raise
    finally:
        ignore_stop_signals()
        if node is not None:
            node.destroy_node()
        if rclpy.ok():
            rclpy.shutdown()
    if code:
        raise SystemExit(code)
