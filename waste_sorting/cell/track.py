"""The track stage: where belt speed comes from, the tracker, and its decisions.

What the tracker node and the offline tools do with detections, encoder
samples and the clock. The speed source policy lives here once: ``fixed`` uses
the configured speed from the first frame on (and each change to it),
``encoder`` the named JointState entry scaled from ticks to metres,
``estimated`` the speed the tracker measures from the items themselves.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from waste_sorting.cell.builders import Values, tracker_settings
from waste_sorting.tracking.odometry import BeltOdometry
from waste_sorting.tracking.tracker import ConveyorTracker, Decision


class TrackStage:
    def __init__(self, values: Values) -> None:
        cfg, bins, geom = tracker_settings(values)
        self.values = dict(values)
        self.odometry = BeltOdometry(values["belt_speed"])
        self.tracker = ConveyorTracker(cfg, bins, geom, self.odometry)
        self.started = False  # the first frame has arrived: the fixed speed starts then

    def configure(self, values: Values, now: float) -> None:
        """New tracker parameter values (checked whole before anything changes)."""
        cfg, bins, geom = tracker_settings(values)
        self.tracker.cfg, self.tracker.bins, self.tracker.geometry = cfg, bins, geom
        if values["speed_source"] == "fixed" and values["belt_speed"] != self.odometry.speed:
            self.odometry.set_speed(values["belt_speed"], now)
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
        if self.values["speed_source"] == "estimated" and self.tracker.measured_speed is not None:
            self.odometry.set_speed(self.tracker.measured_speed, stamp)
        return ids

    def poll(self, now: float) -> list[Decision]:
        """Decisions and pick requests due at ``now`` (none before the first frame)."""
        return self.tracker.poll(now) if self.started else []

    def speed_warning(self, now: float) -> str | None:
        return self.tracker.speed_mismatch(self.values["speed_mismatch_warn"], now)
