"""Stop on the first SIGINT or SIGTERM, ignore the rest, so teardown runs to its end.

``ros2 launch`` stops a process twice: Ctrl-C reaches the whole process
group, then launch sends its own SIGINT (and SIGTERM after a timeout). A
second KeyboardInterrupt inside teardown leaves valves open and prints a
traceback; this stops once and ignores later signals.
"""

from __future__ import annotations

import signal
import threading
from types import FrameType


class StopRequested(Exception):
    """Raised in the main thread by the first SIGINT or SIGTERM while the switch raises."""


class StopSwitch:
    """What the first signal did: ``requested`` is set; StopRequested is raised only while ``raises``.

    A loop that watches ``requested`` turns ``raises`` off: an exception raised at an arbitrary
    point of the main thread can land inside ``Thread.start()`` (an executor starting a worker),
    which leaves a half-started thread that dies in a ``KeyError`` traceback.
    """

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.raises = True


def install_stop_handlers() -> StopSwitch:
    """SIGINT and SIGTERM stop once (see StopSwitch); later ones do nothing."""
    switch = StopSwitch()

    def handler(_signum: int, _frame: FrameType | None) -> None:
        if switch.requested.is_set():
            return
        switch.requested.set()
        if switch.raises:
            raise StopRequested

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
    return switch


def ignore_stop_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
