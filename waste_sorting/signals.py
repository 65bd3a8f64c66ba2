"""Stop on the first SIGINT or SIGTERM, ignore the rest, so teardown runs to its end.

``ros2 launch`` stops a process twice: Ctrl-C reaches the whole process
group, then launch sends its own SIGINT (and SIGTERM after a timeout). A
second KeyboardInterrupt inside teardown leaves valves open and prints a
traceback; this raises once and ignores later signals.
"""

from __future__ import annotations

import signal
from types import FrameType


class StopRequested(Exception):
    """Raised in the main thread by the first SIGINT or SIGTERM."""


def install_stop_handlers() -> None:
    """SIGINT and SIGTERM raise StopRequested once; later ones do nothing."""
    stopping = False

    def handler(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        if stopping:
            return
        stopping = True
        raise StopRequested

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)


def ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
