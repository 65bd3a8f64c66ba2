"""Long work says how far it is: a line at each tenth in a log (no bar redrawn into it)."""

from __future__ import annotations

import io

from waste_sorting import progress
from waste_sorting.progress import Progress


def test_a_log_gets_a_line_at_each_tenth_and_a_quiet_run_gets_none(monkeypatch):
    monkeypatch.setattr(progress, "LOG_MIN_S", 0.0)
    log = io.StringIO()
    with Progress("sim bag", 200, "frames", stream=log) as bar:
        for _ in range(200):
            bar.update()
    lines = log.getvalue().splitlines()
    assert [line.split(":")[1].split(",")[0].strip() for line in lines] == \
        [f"{20 * k}/200 frames ({10 * k} %)" for k in range(1, 10)]
    assert "\r" not in log.getvalue()
    silent = io.StringIO()
    with Progress("sim bag", 200, stream=silent, enabled=False) as bar:
        bar.update(200)
    assert silent.getvalue() == ""


def test_lines_are_spaced_in_time_and_work_of_unknown_size_is_still_reported(monkeypatch):
    clock = iter(range(0, 10_000, 1))  # one second per call of the clock
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    log = io.StringIO()
    bar = Progress("harvest bag", None, "frames", stream=log)
    for _ in range(100):
        bar.update()
    lines = log.getvalue().splitlines()
    assert len(lines) == 100 // progress.LOG_EVERY_S and lines[0].startswith("harvest bag: 30 frames")
