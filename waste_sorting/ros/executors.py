"""Several nodes in one process, each on its own executor and thread.

rclpy's Python executors rebuild and scan one wait set of every entity they
hold on each wake-up; with the four cell nodes on one MultiThreadedExecutor
that scan cost as much CPU as the work itself, and the camera's 30 fps timer
fell behind (about half its frames on 2 cores). A single-threaded executor per
node wakes only for its own node's events, and the nodes still run
concurrently (rendering, OpenCV and ONNX Runtime release the GIL): every frame
rendered and classified on the same host. (rclpy's experimental EventsExecutor,
one per thread, hung at start in this wheel.) ``shared=True`` keeps the old
arrangement, one MultiThreadedExecutor for all, to measure against.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from rclpy.context import Context
from rclpy.executors import Executor, MultiThreadedExecutor, SingleThreadedExecutor
from rclpy.node import Node


class NodeThreads:
    """Spins each node on its own executor in its own thread; remembers the first callback that raised."""

    def __init__(self, nodes: Sequence[Node], context: Context, shared: bool = False) -> None:
        self.failure: list[BaseException] = []
        self._executors: list[Executor] = []
        self._threads: list[threading.Thread] = []
        for group in [list(nodes)] if shared else [[n] for n in nodes]:
            executor = (MultiThreadedExecutor(num_threads=len(nodes), context=context) if shared
                        else SingleThreadedExecutor(context=context))
            for node in group:
                executor.add_node(node)
            self._executors.append(executor)
            name = "spin-cell" if shared else f"spin-{group[0].get_name()}"
            self._threads.append(threading.Thread(target=self._spin, args=(executor,), daemon=True, name=name))

    def _spin(self, executor: Executor) -> None:
        try:
            executor.spin()
        except BaseException as exc:  # a node callback raised: report it, never hang
            self.failure.append(exc)

    def start(self) -> None:
        for t in self._threads:
            t.start()

    def alive(self) -> bool:
        return all(t.is_alive() for t in self._threads) and not self.failure

    def shutdown(self, timeout_sec: float) -> bool:
        """Stop every executor; False if callbacks were still running when the timeout passed."""
        done = all([bool(e.shutdown(timeout_sec=timeout_sec)) for e in self._executors])
        for t in self._threads:
            t.join(timeout=max(timeout_sec / 2, 0.5))
        return done
