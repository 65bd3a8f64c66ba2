"""`waste-sorting soak` (`make soak`): the simulated cell at a high item rate for minutes.

Prints memory over time (the process's resident size must stay flat: every
queue is bounded and finished tracks are dropped), dropped frames, and the
accounting (every item the tracker decided ends sorted, passed or missed).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from waste_sorting.runner import RunOptions


@dataclass
class SoakOptions(RunOptions):
    sample_every: float  # seconds between memory samples


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run(args: SoakOptions) -> dict[str, Any]:
    from waste_sorting import runner

    samples: list[tuple[float, float]] = []
    stop = threading.Event()
    t0 = time.monotonic()

    def sample() -> None:
        while not stop.is_set():
            samples.append((time.monotonic() - t0, rss_mb()))
            stop.wait(args.sample_every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        report = runner.run(args)
    finally:
        stop.set()
        sampler.join()
    print("\n=== soak: memory (resident set) ===")
    for t, mb in samples:
        print(f"  {t:6.0f} s  {mb:7.1f} MB")
    # While the camera runs: the drain and the end-of-run scoring after it allocate for the report, not the cell.
    warm = [(t, mb) for t, mb in samples if min(30.0, args.duration / 3) <= t <= args.duration]
    (t0, mb0), (t1, mb1) = (warm[0], warm[-1]) if len(warm) >= 2 else ((0.0, 0.0), (0.0, 0.0))
    growth, span = mb1 - mb0, t1 - t0
    print(f"growth after warm-up, while the camera ran: {growth:+.1f} MB over {span:.0f} s")
    result: dict[str, Any] = {"memory_mb": samples, "growth_mb": growth}
    if report is not None:
        d = report.as_dict()
        dropped = d["camera_frames"] - d["classifier_frames"]
        print(f"frames: camera {d['camera_frames']}, classified {d['classifier_frames']}, dropped {dropped} "
              f"({dropped / max(d['camera_frames'], 1):.1%}; the classifier takes the newest frame when behind)")
        decided = sum(d["decisions"].values())
        settled = sum(v for k, v in d["actuator"].items() if not k.startswith("AMEND"))  # amendments: same items
        requested = sum(v for k, v in d["decisions"].items() if k.startswith("REQUESTED"))
        print(f"accounting: {decided} items decided = {requested} pick requests + {decided - requested} "
              f"passed/missed; {settled} of the requests settled by the actuator (sorted or missed with reason)")
        result.update({"dropped_frames": dropped, "decided": decided, "requested": requested, "settled": settled})
    return result
