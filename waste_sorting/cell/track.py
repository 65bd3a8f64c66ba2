"""The track stage: where belt speed comes from, the tracker, and its decisions.

What the tracker node and the offline tools do with detections, encoder
samples and the clock. The speed source policy lives here once: ``fixed`` uses
the configured speed from the first frame on (and each change to it),
``encoder`` the named JointState entry scaled from ticks to metres,
``estimated`` the speed the tracker measures from the items themselves.

A configured speed that the items contradict grossly (their measured speed is
under half or over twice it) is not the belt's: followed, it shatters every
item into a new track every few frames, and every pulse misses. Then ``fixed``
predicts with the items' measured speed until they agree with the configured
one again, and the warning says so. A stale speed that is off by less (a belt
that slowed by 30 %) is kept, and flagged as before.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from waste_sorting.cell.builders import Values, tracker_settings
from waste_sorting.tracking.odometry import BeltOdometry
from waste_sorting.tracking.tracker import ConveyorTracker, Decision

FALLBACK_RATIO = 2.0  # items moving at under 1/2 or over 2x the configured speed: not the belt's speed


class TrackStage:
    def __init__(self, values: Values) -> None:
        cfg, bins, geom = tracker_settings(values)
        self.values = dict(values)
        self.odometry = BeltOdometry(values["belt_speed"])
        self.tracker = ConveyorTracker(cfg, bins, geom, self.odometry)
        self.started = False  # the first frame has arrived: the fixed speed starts then
        self.following_items = False  # fixed: predicting with the items' speed, the configured one refuted

    def configure(self, values: Values, now: float) -> None:
        """New tracker parameter values (checked whole before anything changes)."""
        cfg, bins, geom = tracker_settings(values)
        self.tracker.cfg, self.tracker.bins, self.tracker.geometry = cfg, bins, geom
        # A new speed or source gets a fresh hearing; another parameter leaves a refuted speed refuted.
        heard = any(values[k] != self.values[k] for k in ("belt_speed", "speed_source"))
        if values["speed_source"] == "fixed" and (heard or not self.following_items) \
                and values["belt_speed"] != self.odometry.speed:
            self.odometry.set_speed(values["belt_speed"], now)
            self.following_items = False
        self.values = dict(values)

    def on_encoder(self, stamp: float, names: Sequence[str], position: Sequence[float],
                   velocity: Sequence[float]) -> str | None:
        """One JointState sample; returns why it was not used when that is worth a warning."""
        if self.values["speed_source"] != "encoder" or not len(position):
            return None
        joint = self.values["encoder_joint"]
        if joint and joint not in names:
            return f"encoder joint {joint!r} not in {list(names)}"
        i = list(names).index(joint) if joint else 0
        ticks = self.values["encoder_ticks_per_metre"]
        scale = 1.0 / ticks if ticks > 0 else 1.0
        speed = float(velocity[i]) * scale if len(velocity) > i else None
        try:
            self.odometry.add_sample(stamp, float(position[i]) * scale, speed)
        except ValueError as exc:
            return f"encoder sample ignored: {exc}"
        return None

    def on_detections(self, records: np.ndarray, stamp: float) -> np.ndarray:
        """One frame's detections; returns each one's track id (-1: none took it)."""
        if not self.started:
            self.started = True
            if self.values["speed_source"] == "fixed":
                self.odometry.set_speed(self.values["belt_speed"], stamp)
        ids = self.tracker.update(records, stamp)
        measured = self.tracker.measured_speed
        if self.values["speed_source"] == "estimated" and measured is not None:
            self.odometry.set_speed(measured, stamp)
        elif self.values["speed_source"] == "fixed" and measured is not None:
            self._fixed_or_measured(measured, stamp)
        return ids

    def _fixed_or_measured(self, measured: float, stamp: float) -> None:
        """The configured speed, unless the items' measured speed (a running mean) refutes it."""
        configured = self.values["belt_speed"]
        refuted = configured > 0 and not configured / FALLBACK_RATIO <= measured <= configured * FALLBACK_RATIO
        if refuted:
            self.odometry.set_speed(measured, stamp)
        elif self.following_items:
            self.odometry.set_speed(configured, stamp)
        self.following_items = refuted

    def poll(self, now: float) -> list[Decision]:
        """Decisions and pick requests due at ``now`` (none before the first frame)."""
        return self.tracker.poll(now) if self.started else []

    def speed_warning(self, now: float) -> str | None:
        if self.following_items:
            return (f"belt speed mismatch: configured {self.values['belt_speed']:.3f} m/s but items move at "
                    f"{self.odometry.speed:.3f} m/s; predicting with the items' speed (set belt_speed, or "
                    "speed_source encoder)")
        return self.tracker.speed_mismatch(self.values["speed_mismatch_warn"], now)
