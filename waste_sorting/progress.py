"""Progress of long work (sim, evaluate, harvest, adapt): a bar on a terminal, a line now and then in a log.

tqdm's bar is redrawn in place, which is right on a terminal and noise in a
``nohup`` log or CI output; there a plain line at each tenth of the work (at
most one in 5 s, at least one in 30 s) says what is being done and how far it is.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

LOG_EVERY_S = 30.0  # the longest silence in a log
LOG_MIN_S = 5.0     # the shortest gap between two lines


class Progress:
    """``update(n)`` as work is done, ``close()`` at the end; ``enabled=False`` prints nothing."""

    def __init__(self, desc: str, total: int | None = None, unit: str = "frames", enabled: bool = True,
                 stream: TextIO | None = None) -> None:
        self.desc, self.total, self.unit, self.enabled = desc, total, unit, enabled
        self.stream = stream or sys.stderr
        self.done = 0
        self.t0 = self.last_log = time.monotonic()
        self.next_tenth = 1
        self.bar: Any = None
        if enabled and self.stream.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=self.stream, leave=False)

    def set_postfix(self, **values: Any) -> None:
        if self.bar is not None:
            self.bar.set_postfix(**values)

    def update(self, n: int = 1) -> None:
        self.done += n
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.update(n)
            return
        now = time.monotonic()
        share = self.done / self.total if self.total else None
        quiet_for = now - self.last_log
        at_tenth = share is not None and self.next_tenth * self.total <= 10 * self.done < 10 * self.total
        if (at_tenth and quiet_for >= LOG_MIN_S) or quiet_for >= LOG_EVERY_S:
            of = f"/{self.total} {self.unit} ({100 * share:.0f} %)" if share is not None else f" {self.unit}"
            print(f"{self.desc}: {self.done}{of}, {now - self.t0:.0f} s", file=self.stream, flush=True)
            self.last_log = now
            while share is not None and self.next_tenth * self.total <= 10 * self.done:
                self.next_tenth += 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
