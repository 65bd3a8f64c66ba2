"""`waste-sorting status`: a live terminal view of the running cell for a technician at the line.

It listens like any ROS tool (``/diagnostics``, ``belt/speed_estimate``,
``picks/fired``, ``items/decided``) and redraws once a second: belt speed
configured vs measured, camera and classifier rates, latency, link state,
picks per bin and misses by reason.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from typing import Any

from waste_sorting.itemlist import ItemStatus, MissReason

LEVELS = {0: "OK", 1: "WARN", 2: "ERROR", 3: "STALE"}


class CellStatus:
    """What the view shows, updated from messages (kept ROS-free for the rendering)."""

    def __init__(self, namespace: str = "", stale_after: float = 2.0) -> None:
        self.namespace = "/" + namespace.strip("/") if namespace.strip("/") else ""
        self.stale_after = stale_after
        self.diagnostics: dict[str, tuple[int, str, dict[str, str]]] = {}
        self.heard: dict[str, float] = {}  # node -> monotonic time of its last diagnostics
        self.speed_measured: float | None = None
        self.fired: Counter = Counter()
        self.decided: Counter = Counter()
        self.per_bin: Counter = Counter()
        self.started = time.monotonic()

    def render(self, classes: list[str] | None = None) -> str:
        lines = [f"waste_sorting cell status ({time.strftime('%H:%M:%S')}, listening "
                 f"{time.monotonic() - self.started:.0f} s)", ""]
        tracker = self.diagnostics.get("tracker", (3, "no data", {}))[2]
        configured = tracker.get("speed_configured", "?")
        measured = f"{self.speed_measured:.3f}" if self.speed_measured is not None else "?"
        lines.append(f"belt speed: configured {configured} m/s, measured {measured} m/s")
        now = time.monotonic()
        for node in ("camera_driver", "classifier", "tracker", "actuator"):
            level, message, values = self.diagnostics.get(node, (3, "no data", {}))
            age = now - self.heard[node] if node in self.heard else None
            if age is not None and age > self.stale_after:
                level, message = 3, f"not heard for {age:.0f} s (last: {message})"
            detail = ", ".join(f"{k} {v}" for k, v in list(values.items())[:8])
            lines.append(f"  {node:14s} {LEVELS.get(level, level):5s} {message}")
            if detail:
                lines.append(f"  {'':14s}       {detail}")
        lines.append("")
        lines.append("picks fired per ejector: " + (", ".join(f"{k}: {v}" for k, v in sorted(self.per_bin.items()))
                                                    or "none yet"))
        lines.append("outcomes: " + (", ".join(f"{k} {v}" for k, v in sorted(self.fired.items())) or "none yet"))
        lines.append("tracker decisions: " + (", ".join(f"{k} {v}" for k, v in sorted(self.decided.items()))
                                              or "none yet"))
        if not self.heard and now - self.started > self.stale_after:
            where = f"namespace {self.namespace}" if self.namespace else "no namespace"
            lines += ["", f"nothing heard from a cell in ROS_DOMAIN_ID {os.environ.get('ROS_DOMAIN_ID', '0')} "
                      f"with {where}: is the cell running, with the same ROS_DOMAIN_ID and --namespace?"]
        return "\n".join(lines)

    def on_diagnostics(self, msg: Any) -> None:
        for st in msg.status:
            path = st.name.split(":")[-1].strip()
            ns, _, node = path.rpartition("/")
            if not st.name.startswith("waste_sorting") or ns != self.namespace:
                continue  # another cell's, or another program's
            self.heard[node] = time.monotonic()
            level = st.level if isinstance(st.level, int) else int.from_bytes(st.level, "little")
            self.diagnostics[node] = (level, st.message, {kv.key: kv.value for kv in st.values})

    def on_records(self, records: Any, counter: Counter, per_bin: bool = False) -> None:
        for r in records:
            status, reason = ItemStatus(int(r["status"])).name, MissReason(int(r["reason"])).name
            counter[status if reason == "NONE" else f"{status}/{reason}"] += 1
            if per_bin and status == "SORTED":
                self.per_bin[int(r["ejector"])] += 1
