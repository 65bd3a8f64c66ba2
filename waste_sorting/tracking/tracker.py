"""Multi-item tracker on the belt: association, class fusion and pick decisions.

Each frame's detections are matched to tracks predicted to the frame's capture
stamp (``x = x0 + s(t) - s(t0)``) inside a gate, nearest first. Class evidence
is the mean of the per-sighting class distributions (each sighting's two most
probable classes as the classifier gave them, the rest spread evenly: a class
that keeps coming second is not lost). The tracker decides once
per item, between a pick request for its bin's ejector, residue (no bin or not
confident enough), or a miss with a reason: as soon as the item's class
evidence is complete (``decide_after`` classified sightings, the classifier's
budget) or at the latest when its leading edge reaches the downstream edge of
the view. Deciding early buys the rest of the view's travel as slack for a
loaded host; decided tracks keep absorbing their sightings, so the position a
pulse is planned from stays fresh and a leaving item never becomes a new one.

A released request is not the last word: until shortly before its fire time
the pulse is re-planned from the newest belt travel and sighting, and a pulse
that moved by more than ``amend_tolerance`` is requested again, flagged
AMENDED (the controller replaces the pending pulse). So a request can leave
early, with slack for a loaded host, and still follow a belt that changes
speed after the item left the camera.
"""

from __future__ import annotations

import math
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from waste_sorting import itemlist
from waste_sorting.itemlist import ItemFlags, ItemStatus, MissReason
from waste_sorting.scheduling.ejection import EjectorGeometry, PulsePlan, plan_pulse
from waste_sorting.tracking.odometry import BeltOdometry

CLOSED_FLOOR = 1.0  # bin_min_confidence of a closed bin


@dataclass
class BinMap:
    """Which ejector takes which class, and the confidence it needs."""

    classes: list[str]                   # model class names, index = class_id
    ejector_class: list[str]             # class name sorted by each ejector (index = ejector)
    min_confidence: list[float]          # per ejector

    def validate(self) -> None:
        if len(self.ejector_class) != len(self.min_confidence):
            raise ValueError("bin_classes and bin_min_confidence must have one entry per ejector")
        unknown = set(self.ejector_class) - set(self.classes) - {""}
        if unknown:
            raise ValueError(f"bin_classes names unknown classes {sorted(unknown)}; model has {self.classes}")
        if any(not 0.0 <= c <= 1.0 for c in self.min_confidence):
            raise ValueError("bin_min_confidence values must be within [0, 1]")

    def closed(self, ejector: int) -> bool:
        """A floor of 1 closes the bin: its items pass (no confidence is ever above 1)."""
        return self.min_confidence[ejector] >= CLOSED_FLOOR

    def ejector_for(self, class_id: int) -> int:
        if not 0 <= class_id < len(self.classes):
            return -1
        name = self.classes[class_id]
        return self.ejector_class.index(name) if name in self.ejector_class else -1


@dataclass
class TrackerConfig:
    view_x_min: float = 0.0
    view_x_max: float = 1.024
    gate_along: float = 0.07        # m, plus 15% of the travel since the last sighting
    gate_across: float = 0.05       # m
    min_hits: int = 2
    max_unseen: float = 0.25        # s a track may go unseen inside the view before it is decided
    min_lead: float = 0.02          # s a pick request needs before its fire time
    pick_lead: float = 0.3          # s before the fire time a pick request is released
    forget_after: float = 0.6       # m past the last ejector when decided tracks are dropped
    overlap_policy: str = "skip"    # a pulse that would also eject a neighbour: "skip" it, or "fire" anyway
    frame_grace: float = 0.5        # s without frames before decisions stop waiting for them
    decide_after: int = 4           # classified sightings that complete an item's evidence (0: at the edge)
    amend_tolerance: float = 0.002  # s a released pulse may drift before it is requested again (0: never)


SPEED_BASELINE = 0.15  # s: the shortest travel time the items' speed is measured over
SPEED_EXTENT_TOLERANCE = 0.05  # share of its length an item's extent may change over that time and still count
STILL_TRAVEL = 0.03  # m the items travel meanwhile, over which a track that stays put shows it is not on the belt
STILL_SHARE = 0.25   # share of the belt's travel a track must move itself to be riding the belt
FIRST_SPEED_MIN = 0.05  # m/s a track must move at to give the first estimate of the speed
STILL_HOLD = 1.0     # s after the last moving track's reading that a still track's are left out of the speed
EDGE_SIGHTINGS = 32  # sightings an item's extent is taken from (the most recent)


@dataclass
class Track:
    track_id: int
    x: float
    y: float
    stamp: float
    travel: float
    length: float
    width: float
    class_sum: np.ndarray
    class_obs: int = 0
    hits: int = 1
    misses: int = 0                 # processed frames that had it wholly in view but did not see it
    belt_like: int = 0              # whole sightings that looked like a shade of the belt
    seen_first: tuple[float, float] = (0.0, 0.0)  # (x, stamp) of its first whole sighting
    seen_last: tuple[float, float] = (0.0, 0.0)   # and of its last
    first_stamp: float = 0.0
    last_capture: float = 0.0
    decided: bool = False
    pending_ejector: int = -1       # decided for this ejector; request not released yet
    request: np.void | None = None  # the released pick request, while it may still be amended
    decision_latency: float = 0.0
    status: int = ItemStatus.OBSERVED
    reason: int = MissReason.NONE
    # The sighting the belt speed is measured from (its stamp, its own centre and length): renewed once it is
    # SPEED_BASELINE s old, since a centre moves by a few pixels of noise from one frame to the next (a
    # quarter of a slow belt's motion). Only whole sightings start a track, so every track has one.
    speed_ref: tuple[float, float, float] = (float("nan"), float("nan"), float("nan"))
    # (leading, trailing) edge of each whole sighting, against the belt's travel then: constant for an item
    # riding it. The most recent EDGE_SIGHTINGS.
    edges: deque[tuple[float, float]] = field(default_factory=lambda: deque(maxlen=EDGE_SIGHTINGS))

    def absorb_edges(self, x: float, length: float, s_now: float) -> None:
        """The item's extent from all its sightings, not the last: where light falls off or noise is high,
        an item's dim parts drop out of one sighting's silhouette and come back in the next. The edges,
        moved with the belt to one moment, are taken second-outermost once there are five sightings (one
        sighting merged with a neighbour does not stretch the item)."""
        self.edges.append((x + length / 2 - s_now, x - length / 2 - s_now))
        leads = sorted(e[0] for e in self.edges)
        trails = sorted(e[1] for e in self.edges)
        k = 1 if len(self.edges) >= 5 else 0
        lead, trail = leads[-1 - k], trails[k]
        self.x, self.travel, self.length = s_now + (lead + trail) / 2, s_now, lead - trail

    def rides_belt(self, speed: float) -> bool:
        """Whether it moved with the items, at ``speed`` (m/s). An item does; a place that stays
        put in the view while the belt moves under it (a ghost of the belt model, glare, a fixed shadow) does
        not, however item-like it looks."""
        (x0, t0), (x1, t1) = self.seen_first, self.seen_last
        travel = speed * (t1 - t0)
        return travel < STILL_TRAVEL or x1 - x0 >= STILL_SHARE * travel

    def class_estimate(self) -> tuple[int, float, int, float]:
        """(class, probability, runner-up, its probability) of the fused evidence; -1 when none."""
        if self.class_obs == 0:
            return -1, 0.0, -1, 0.0
        mean = self.class_sum / self.class_obs
        order = np.argsort(-mean)
        c, c2 = int(order[0]), int(order[1]) if len(order) > 1 else -1
        return c, float(mean[c]), c2, float(mean[c2]) if c2 >= 0 else 0.0


@dataclass
class Decision:
    """One terminal (or requesting) decision about an item, as an item-list record."""

    record: np.ndarray  # a single ITEM_DTYPE record
    latency: float      # decision time - capture stamp of the item's last full sighting

    @property
    def amended(self) -> bool:
        """A released request planned again, not a new decision about the item."""
        return bool(int(self.record["flags"]) & ItemFlags.AMENDED)


@dataclass
class TrackerStats:
    frames: int = 0
    detections: int = 0
    created: int = 0
    rejected_noise: int = 0
    decisions: Counter = field(default_factory=Counter)  # (status name, reason name) -> n
    classified: Counter = field(default_factory=Counter)  # fused class id -> decided items
    overlaps: int = 0  # pulses that would also have blown a neighbour bound elsewhere
    late_classifications: int = 0  # classified sightings of items already decided (decide_after too low)
    amendments: int = 0  # released requests re-planned and requested again


def _with_plan(rec: np.void, plan: PulsePlan) -> np.void:
    """A pick request's pulse fields from its plan (``rec`` is changed and returned)."""
    rec["fire_time"], rec["pulse"] = plan.fire_time, plan.pulse
    rec["valve_first"], rec["valve_count"] = plan.valve_first, plan.valve_count
    return rec


class ConveyorTracker:
    def __init__(self, cfg: TrackerConfig, bins: BinMap, geometry: EjectorGeometry,
                 odometry: BeltOdometry) -> None:
        bins.validate()
        geometry.validate()
        self.cfg, self.bins, self.geometry, self.odometry = cfg, bins, geometry, odometry
        self.tracks: list[Track] = []
        self.stats = TrackerStats()
        self.measured_speed: float | None = None
        self.last_frame_stamp: float | None = None
        self._mismatch_since: float | None = None
        self._moving_reading = -math.inf  # stamp of the last speed reading from a track riding the belt
        self._next_id = 1

    @property
    def num_classes(self) -> int:
        return len(self.bins.classes)

    def _rides_belt(self, tr: Track) -> bool:
        """Whether the track moves with the items: their measured speed is the reference (a wrong belt_speed must
        not make every item look still); the belt's own speed only until an item has been seen moving."""
        return tr.rides_belt(self.measured_speed if self.measured_speed is not None else self.odometry.speed)

    def predict_x(self, tr: Track, t: float) -> float:
        return self._x_at(tr, self.odometry.travel(t))

    def _x_at(self, tr: Track, s: float) -> float:
        """Where the track is once the belt has travelled to ``s``: carried with it, or where it stays put (so
        that a ghost or glare stays one track, decided once, not a new one every few frames)."""
        if not self._rides_belt(tr):
            return tr.seen_last[0]
        return tr.x + s - tr.travel

    def speed_mismatch(self, tolerance: float, now: float, hold: float = 1.0) -> str | None:
        """Why the speed used for prediction disagrees with the items' measured motion, or None.

        A stale configured speed (or a slipping encoder) is the classic cause of
        missed ejections: every pulse lands early or late by the same fraction.
        Only a disagreement that lasts ``hold`` seconds counts, so the measured
        speed's short lag while the belt ramps is not an alarm.
        """
        measured, used = self.measured_speed, self.odometry.speed
        off = measured is not None and max(measured, used) >= 0.05 and \
            abs(measured - used) > tolerance * max(used, 1e-6)
        if not off:
            self._mismatch_since = None
            return None
        assert measured is not None
        if self._mismatch_since is None:
            self._mismatch_since = now
        if now - self._mismatch_since < hold:
            return None
        return (f"belt speed mismatch: predicting with {used:.3f} m/s but items move at {measured:.3f} m/s "
                f"({(measured - used) / max(used, 1e-6):+.0%})")

    # -- per frame -------------------------------------------------------------
    def update(self, detections: np.ndarray, stamp: float) -> np.ndarray:
        """Associate one frame's detections (all stamped ``stamp``) with the tracks.

        Returns each detection's track id (-1: a truncated detection no track took), which is
        how harvesting knows whose crop a detection was.
        """
        self.stats.frames += 1
        self.stats.detections += len(detections)
        self.last_frame_stamp = stamp if self.last_frame_stamp is None else max(stamp, self.last_frame_stamp)
        s_now = self.odometry.travel(stamp)
        predicted = [self._x_at(tr, s_now) for tr in self.tracks]  # every track moved to this frame
        pairs = []
        for ti, (tr, px) in enumerate(zip(self.tracks, predicted, strict=True)):
            gate = self.cfg.gate_along + 0.15 * abs(s_now - tr.travel)
            for di in range(len(detections)):
                d = detections[di]
                dx, dy = float(d["x"]) - px, float(d["y"]) - tr.y
                if abs(dx) <= gate and abs(dy) <= self.cfg.gate_across:
                    pairs.append((dx * dx + dy * dy, ti, di))
        pairs.sort()
        used_t: set[int] = set()
        used_d: set[int] = set()
        ids = np.full(len(detections), -1, np.int64)
        for _, ti, di in pairs:
            if ti in used_t or di in used_d:
                continue
            used_t.add(ti)
            used_d.add(di)
            self._absorb(self.tracks[ti], detections[di], stamp, s_now)
            ids[di] = self.tracks[ti].track_id
        for ti, (tr, px) in enumerate(zip(self.tracks, predicted, strict=True)):
            if ti not in used_t and not tr.decided and self._wholly_in_view(px, tr.length):
                tr.misses += 1
        for di in range(len(detections)):
            d = detections[di]
            if di not in used_d and not int(d["flags"]) & ItemFlags.TRUNCATED:
                ids[di] = self._create(d, stamp, s_now)
        return ids

    def _wholly_in_view(self, x: float, length: float) -> bool:
        return x - length / 2 >= self.cfg.view_x_min and x + length / 2 <= self.cfg.view_x_max

    def _absorb(self, tr: Track, d: np.void, stamp: float, s_now: float) -> None:
        tr.last_capture = stamp
        if int(d["flags"]) & ItemFlags.TRUNCATED:
            return
        self._measure_speed(tr, float(d["x"]), float(d["length"]), stamp)
        tr.hits += 1
        tr.belt_like += bool(int(d["flags"]) & ItemFlags.BELT_LIKE)
        tr.seen_last = (float(d["x"]), stamp)
        n = tr.hits
        tr.stamp = stamp
        tr.absorb_edges(float(d["x"]), float(d["length"]), s_now)
        tr.y += (float(d["y"]) - tr.y) / n
        tr.width += (float(d["width"]) - tr.width) / n
        if not tr.decided:  # a decision is final: later class evidence is not fused
            self._add_class(tr, d)
        elif 0 <= int(d["class_id"]) < self.num_classes:
            self.stats.late_classifications += 1

    def _measure_speed(self, tr: Track, x: float, length: float, stamp: float) -> None:
        """The items' speed: a running mean, with a time constant of SPEED_BASELINE, of each track's motion
        over SPEED_BASELINE s or more. The very first estimate is from two frames of a track that moved, so
        that a belt at any speed is measured at once (and not from a still blob seen first)."""
        ref_t, ref_x, ref_length = tr.speed_ref
        span = stamp - ref_t
        if not (span >= SPEED_BASELINE or (self.measured_speed is None and span > 1e-3)):
            return
        v, keep = (x - ref_x) / span, math.exp(-span / SPEED_BASELINE)
        if self.measured_speed is None and v < FIRST_SPEED_MIN:
            return
        if span >= SPEED_BASELINE:
            tr.speed_ref = (stamp, x, length)
        # A centre moves with its item only while the item's extent holds: one that grows or shrinks (a ghost of
        # where it stood wearing away, a neighbour merging) moves its centre at another speed.
        steady = abs(length - ref_length) <= max(SPEED_EXTENT_TOLERANCE * max(length, ref_length), 0.01)
        # What stays put while items move is not on the belt; once no item has moved for STILL_HOLD s, the belt
        # itself has stopped and the still tracks are its measure.
        if self._rides_belt(tr):
            self._moving_reading = stamp
        elif stamp - self._moving_reading < STILL_HOLD:
            return
        if steady and 0 <= v < 20:
            self.measured_speed = v if self.measured_speed is None else keep * self.measured_speed + (1 - keep) * v

    def _create(self, d: np.void, stamp: float, s_now: float) -> int:
        tr = Track(self._next_id, float(d["x"]), float(d["y"]), stamp, s_now, float(d["length"]),
                   float(d["width"]), np.zeros(self.num_classes), first_stamp=stamp, last_capture=stamp)
        self._next_id += 1
        tr.speed_ref = (stamp, float(d["x"]), float(d["length"]))
        tr.belt_like = int(bool(int(d["flags"]) & ItemFlags.BELT_LIKE))
        tr.seen_first = tr.seen_last = (float(d["x"]), stamp)
        tr.absorb_edges(float(d["x"]), float(d["length"]), s_now)
        self._add_class(tr, d)
        self.tracks.append(tr)
        self.stats.created += 1
        return tr.track_id

    def _add_class(self, tr: Track, d: np.void) -> None:
        """One sighting's class distribution: its two most probable classes, the rest spread evenly."""
        class_id, conf = int(d["class_id"]), float(d["confidence"])
        if not 0 <= class_id < self.num_classes:
            return
        known = {class_id: conf}
        class2 = int(d["class2_id"])
        if 0 <= class2 < self.num_classes and class2 != class_id:
            known[class2] = float(d["confidence2"])
        n = self.num_classes
        rest = max(0.0, 1.0 - sum(known.values())) / max(n - len(known), 1)
        p = np.full(n, rest)
        for c, q in known.items():
            p[c] = q
        tr.class_sum += p
        tr.class_obs += 1

    # -- decisions -------------------------------------------------------------
    def poll(self, now: float) -> list[Decision]:
        """Decide every item that is leaving the view (or vanished); drop finished tracks.

        Leaving and vanishing are judged at the newest processed frame's stamp,
        not at ``now``: frames reach the tracker after the classifier's
        latency, and an item is decided only once every frame that saw it whole
        has been fused. If frames stop coming, ``now`` takes over.
        """
        out: list[Decision] = []
        keep: list[Track] = []
        last_ejector = max(self.geometry.x)
        seen = self.last_frame_stamp
        t_view = seen if seen is not None and now - seen <= self.cfg.frame_grace else now
        for tr in self.tracks:
            x_now = self.predict_x(tr, now)
            x_view = self.predict_x(tr, t_view)
            if tr.pending_ejector >= 0:
                released = self._release(tr, now)
                if released is not None:
                    out.append(released)
            elif tr.request is not None and (amended := self._amend(tr, now)) is not None:
                out.append(amended)
            if tr.decided:
                # Kept until past the last ejector; one that stays put, while it is still seen there (gone, it
                # must not take the next item to pass that place for itself).
                if (t_view - tr.last_capture <= self.cfg.max_unseen if not self._rides_belt(tr)
                        else x_now - tr.length / 2 <= last_ejector + self.cfg.forget_after):
                    keep.append(tr)
                continue
            leaving = x_view + tr.length / 2 >= self.cfg.view_x_max
            vanished = t_view - tr.last_capture > self.cfg.max_unseen
            complete = 0 < self.cfg.decide_after <= tr.class_obs and tr.hits >= self.cfg.min_hits
            if not (leaving or vanished or complete):
                keep.append(tr)
                continue
            if tr.hits < self.cfg.min_hits and tr.misses > 0:
                self.stats.rejected_noise += 1
                continue  # seen once, then absent from a frame that had it in view: noise, not an item
            # Seen fewer than min_hits times with no frame to contradict it: the frames in between were
            # dropped, and a real item must still be decided and accounted for.
            decision = self._decide(tr, now)
            if decision is not None:
                out.append(decision)
            elif (released := self._release(tr, now)) is not None:
                out.append(released)
            keep.append(tr)
        self.tracks = keep
        return out

    def _decide(self, tr: Track, now: float) -> Decision | None:
        """Settle the item's class and bin; None means a pick is pending release."""
        not_an_item = self._not_an_item(tr)
        tr.decided = True
        tr.decision_latency = now - tr.stamp
        class_id, conf = tr.class_estimate()[:2]
        self.stats.classified[class_id] += 1
        ejector = self.bins.ejector_for(class_id)
        if not_an_item:
            return self._terminal(tr, now, ItemStatus.PASSED, MissReason.NOT_AN_ITEM)
        if class_id < 0:
            return self._terminal(tr, now, ItemStatus.MISSED, MissReason.UNCLASSIFIED)
        if ejector < 0:
            return self._terminal(tr, now, ItemStatus.PASSED, MissReason.NO_BIN)
        if self.bins.closed(ejector):
            return self._terminal(tr, now, ItemStatus.PASSED, MissReason.BIN_CLOSED)
        if conf < self.bins.min_confidence[ejector]:
            return self._terminal(tr, now, ItemStatus.PASSED, MissReason.LOW_CONFIDENCE)
        tr.pending_ejector = ejector
        return None

    def _not_an_item(self, tr: Track) -> bool:
        """A stain (seen mostly belt-like), a ghost or glare (stays put while the items ride): no air at it, and
        no item to spare from a neighbour's pulse either."""
        if tr.decided:
            return tr.reason == MissReason.NOT_AN_ITEM
        return 2 * tr.belt_like > tr.hits or not self._rides_belt(tr)

    def _release(self, tr: Track, now: float) -> Decision | None:
        """Plan the pulse with the latest belt travel; release it once the fire time is near.

        Planning late keeps pulses on target when the belt speed changes after
        the item left the camera view (with an encoder as the speed source).
        """
        ejector = tr.pending_ejector
        if ejector >= len(self.geometry.x):  # ejector removed by a parameter change
            tr.pending_ejector = -1
            return self._terminal(tr, now, ItemStatus.MISSED, MissReason.NO_BIN)
        plan = self._plan(tr, ejector, now)
        if plan is None:  # belt stopped: wait, it may start again
            return None
        if plan.fire_time - now > self.cfg.pick_lead:
            return None
        tr.pending_ejector = -1
        if plan.fire_time - now < self.cfg.min_lead:
            return self._terminal(tr, now, ItemStatus.MISSED, MissReason.TOO_LATE, ejector)
        neighbours = self.collateral(tr, ejector, plan.fire_time + self.geometry.latency, plan.pulse,
                                     plan.valve_first, plan.valve_count)
        if neighbours:
            self.stats.overlaps += 1
            if self.cfg.overlap_policy == "skip":
                return self._terminal(tr, now, ItemStatus.MISSED, MissReason.OVERLAP, ejector)
        decision = self._terminal(tr, now, ItemStatus.REQUESTED, MissReason.NONE, ejector)
        tr.request = _with_plan(decision.record, plan).copy()
        return decision

    def _plan(self, tr: Track, ejector: int, now: float) -> PulsePlan | None:
        """The pulse for ``tr`` at ``ejector`` from the newest travel; None while the belt stands."""
        s_target = tr.travel + self.geometry.x[ejector] - tr.x
        center_time = self.odometry.time_at_travel(s_target, now)
        if center_time is None:
            return None
        speed = max(self.odometry.speed, 1e-3)
        return plan_pulse(self.geometry, ejector, center_time, speed, tr.length, tr.y, tr.width)

    def _amend(self, tr: Track, now: float) -> Decision | None:
        """Request a released pulse again if re-planning moved it; None if it stands (or is too near)."""
        req = tr.request
        assert req is not None
        if self.cfg.amend_tolerance <= 0 or float(req["fire_time"]) - now < self.cfg.min_lead:
            tr.request = None  # settled: the actuator could not act on a change any more
            return None
        ejector = int(req["ejector"])
        plan = self._plan(tr, ejector, now) if ejector < len(self.geometry.x) else None
        if plan is None or plan.fire_time - now < self.cfg.min_lead:
            return None  # too late to move it: the pulse already sent stands
        moved = max(abs(plan.fire_time - float(req["fire_time"])), abs(plan.pulse - float(req["pulse"])))
        if moved <= self.cfg.amend_tolerance and (plan.valve_first, plan.valve_count) == \
                (int(req["valve_first"]), int(req["valve_count"])):
            return None
        rec = _with_plan(self.track_record(tr, tr.stamp)[0], plan)
        rec["ejector"], rec["status"], rec["flags"] = ejector, ItemStatus.REQUESTED, ItemFlags.AMENDED
        tr.request = rec.copy()
        self.stats.amendments += 1
        return Decision(rec, now - tr.stamp)

    def collateral(self, target: Track, ejector: int, air_start: float, duration: float, valve_first: int,
                   valve_count: int) -> list[int]:
        """Ids of other items this pulse would also blow off, that belong elsewhere."""
        x_line = self.geometry.x[ejector]
        lo, hi = self.geometry.valve_span(valve_first, valve_count)
        hit = []
        for o in self.tracks:
            if o is target or o.hits < self.cfg.min_hits or self._not_an_item(o):
                continue
            class_id = o.class_estimate()[0]
            if o.pending_ejector == ejector or (o.status == ItemStatus.REQUESTED and
                                                self.bins.ejector_for(class_id) == ejector):
                continue  # bound for the same bin: blowing it too is right
            xa = self.predict_x(o, air_start) - o.length / 2
            xb = self.predict_x(o, air_start + duration) + o.length / 2
            if xa <= x_line <= xb and o.y + o.width / 2 >= lo and o.y - o.width / 2 <= hi:
                hit.append(o.track_id)
        return hit

    def _terminal(self, tr: Track, now: float, status: ItemStatus, reason: MissReason,
                  ejector: int = -1) -> Decision:
        rec = self.track_record(tr, tr.stamp)[0]
        rec["ejector"] = ejector
        rec["status"], rec["reason"] = status, reason
        tr.status, tr.reason = status, reason
        self.stats.decisions[(status.name, reason.name)] += 1
        return Decision(rec, tr.decision_latency)

    def track_record(self, tr: Track, t: float) -> np.ndarray:
        rec = itemlist.empty(1)
        class_id, conf, class2, conf2 = tr.class_estimate()
        rec["x"], rec["y"] = self.predict_x(tr, t), tr.y
        rec["item_id"] = tr.track_id
        rec["length"], rec["width"] = tr.length, tr.width
        rec["class_id"], rec["confidence"] = class_id, conf
        rec["class2_id"], rec["confidence2"] = class2, conf2
        rec["stamp"], rec["speed"] = t, self.odometry.speed
        rec["status"], rec["reason"] = tr.status, tr.reason
        return rec

    def tracked(self, t: float) -> np.ndarray:
        """All live tracks predicted to time t."""
        if not self.tracks:
            return itemlist.empty(0)
        return np.concatenate([self.track_record(tr, t) for tr in self.tracks])


def tracker_status(core: ConveyorTracker, mismatch: str | None) -> tuple[str | None, dict[str, Any]]:
    """(the problem worth a warning, or None; the figures) for the tracker's diagnostics."""
    st = core.stats
    values: dict[str, Any] = {"speed_configured": core.odometry.speed, "speed_measured": core.measured_speed or 0.0,
                              "tracks": len(core.tracks), "created": st.created, "noise_rejected": st.rejected_noise,
                              "overlaps": st.overlaps, "amendments": st.amendments,
                              "late_classifications": st.late_classifications}
    for (status, reason), n in sorted(st.decisions.items()):
        values[f"{status.lower()}_{reason.lower()}"] = n
    problem = mismatch
    if not problem and st.late_classifications > st.created:
        # More classifications arrive after decisions than there are items: the classifier
        # classifies each item more often than decide_after waits for, and that evidence is wasted.
        problem = (f"{st.late_classifications} classifications arrived after their item was "
                   f"decided: set decide_after to the classifier's max_classifications")
    return problem, values
