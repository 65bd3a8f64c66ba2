"""`waste-sorting evaluate`: run the cell's core over a bag in simulated time and score it.

The same core code as the nodes (segmentation + classification, tracker,
pick planning, command checks) runs frame by frame in the bag's time; FIRE
commands go through the real protocol framing into the controller's firmware
logic driven by the same simulated clock, so pulses execute exactly when that
firmware would execute them. No wall clock is involved: the same bag and the
same params give the same result (the processing-time figures aside).
"""

from __future__ import annotations

import dataclasses
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting import paths
from waste_sorting.bags import io as bagio
from waste_sorting.cell import (
    ActuateStage,
    ControllerSender,
    Detected,
    DetectStage,
    Rejected,
    TrackStage,
    outcome_name,
    specs,
)
from waste_sorting.cell.builders import ejector_geometry
from waste_sorting.cell.detect import build_detect, oversize_news
from waste_sorting.cell.messages import cloud_to_items, to_sec
from waste_sorting.errors import BagError, DataError, ParamsError, UsageError
from waste_sorting.evaluation.accounting import account, match_decisions, tally
from waste_sorting.evaluation.scoring import ExecutedPulse, TruthItem, nearest_truth, score
from waste_sorting.itemlist import ItemStatus, MissReason
from waste_sorting.params_file import check_file, node_values, unknown_name
from waste_sorting.progress import Progress
from waste_sorting.protocol.controller import ControllerCore, Pulse

POLL_STEP = 0.005  # s: the tracker node's timer period
IMAGE_TYPES = ("sensor_msgs/msg/Image", "sensor_msgs/msg/CompressedImage")
PRIVATE_KEYS = ("_truth", "_timing_errors", "_pulse_speeds", "_item_classes")  # in-process results, not for the JSON


@dataclass
class OfflineCell:
    """The cell's three stages in one simulated clock: the bag's time, stepped as the tracker's timer."""

    detect: DetectStage
    track: TrackStage
    controller: ControllerCore
    actuate: ActuateStage = field(init=False)
    enabled: bool = True
    min_lead: float = 0.0
    decisions: list[np.void] = field(default_factory=list)
    fired: list[np.void] = field(default_factory=list)
    pulses: list[Pulse] = field(default_factory=list)
    speed_warnings: list[str] = field(default_factory=list)
    encoder_warnings: Counter = field(default_factory=Counter)
    decision_latency: list[float] = field(default_factory=list)
    requests: dict[int, np.void] = field(default_factory=dict)  # each item's latest pick request
    now: float | None = None

    def __post_init__(self) -> None:
        self.actuate = ActuateStage(self.track.tracker.geometry, self.min_lead, self.enabled,
                                    ControllerSender(self.controller, self.enabled), self._clock, self.fired.append)

    def _clock(self) -> float:
        assert self.now is not None
        return self.now

    @property
    def classes(self) -> list[str]:
        return self.detect.detector.classifier.classes if self.detect.detector.classifier else []

    def on_encoder(self, t: float, names: list[str], position: list[float], velocity: list[float]) -> None:
        problem = self.track.on_encoder(t, names, position, velocity)
        if problem:
            self.encoder_warnings[problem] += 1

    def on_detections(self, records: np.ndarray, stamp: float) -> np.ndarray:
        """One frame's detections reach the tracker (the part of a frame a parameter sweep replays);
        returns each detection's track id."""
        if self.now is None:
            self.now = stamp
        self.advance(stamp)
        ids = self.track.on_detections(records, stamp)
        warning = self.track.speed_warning(stamp)
        if warning:
            self.speed_warnings.append(warning)
        return ids

    def advance(self, until: float) -> None:
        """Run the tracker's timer and the controller up to time ``until``."""
        assert self.now is not None
        while self.now + POLL_STEP <= until + 1e-9:
            self.now += POLL_STEP
            self._tick(self.now)

    def _tick(self, now: float) -> None:
        for d in self.track.poll(now):
            if not d.amended:
                self.decisions.append(d.record.copy())
                self.decision_latency.append(d.latency)
            if d.record["status"] == ItemStatus.REQUESTED:  # first requests and amendments, as published
                self.requests[int(d.record["item_id"])] = d.record.copy()
                self.actuate.request(d.record.copy())
        for p in self.controller.pop_due(int(round(now * 1e6))):
            self.pulses.append(dataclasses.replace(p, wall_time=p.ctrl_time_us / 1e6))


def build_cell(params_file: Path, model: Path | None, overrides: dict[str, dict[str, Any]] | None = None,
               detect: DetectStage | None = None, controller: ControllerCore | None = None
               ) -> tuple[OfflineCell, dict[str, Any]]:
    """The cell's stages from a params file, as the nodes build them; ``detect`` reuses a stage
    already built (sweeps), ``controller`` stands in for the default controller (one that refuses)."""
    overrides = overrides or {}
    check_file(params_file, specs.CELL)
    values = {node: node_values(params_file, node, specs.CELL[node], overrides.get(node))
              for node in ("classifier", "tracker", "actuator")}
    cv, tv, av = values["classifier"], values["tracker"], values["actuator"]
    try:
        detect = detect or build_detect(cv, model)
        track = TrackStage(tv)
        geometry = ejector_geometry(av)
    except ValueError as exc:
        raise ParamsError(f"{params_file}: {exc}") from None
    controller = controller or ControllerCore(ejectors=max(8, len(geometry.x)),
                                              valves_per_ejector=max(32, geometry.valve_count))
    cell = OfflineCell(detect, track, controller, enabled=av["enabled"], min_lead=av["min_lead"])
    return cell, values


def truth_items(samples: dict[int, list[tuple[float, np.void]]], view_x_max: float) -> list[TruthItem]:
    """Ground-truth trajectories of items that crossed the whole camera view during the bag."""
    out = []
    for item_id, rows in samples.items():
        t = np.array([r[0] for r in rows])
        x = np.array([float(r[1]["x"]) for r in rows])
        last = rows[-1][1]
        entered = x[0] - float(last["length"]) / 2 <= 0.05
        crossed = x[-1] - float(last["length"]) / 2 >= view_x_max
        if entered and crossed and len(t) >= 2:
            out.append(TruthItem(item_id, int(last["class_id"]), float(last["y"]), float(last["length"]),
                                 float(last["width"]), t, x))
    return out


@dataclass
class BagLog:
    """A bag as the classifier saw it, in bag order: the tracker and actuator can replay it many times."""

    events: list[tuple[float, np.ndarray | EncoderSample]] = field(default_factory=list)  # (t, detections or
    #                                                                                       an encoder sample)
    truth_samples: dict[int, list[tuple[float, np.void]]] = field(default_factory=lambda: defaultdict(list))
    frames: int = 0
    rejected: Counter = field(default_factory=Counter)  # refused frames by reason
    oversize: int = 0  # sightings of regions too large to be items (max_area_fraction)
    oversize_warning: str | None = None  # what they mean
    frame_seconds: list[float] = field(default_factory=list)
    wall_seconds: float = 0.0
    unknown_class_as: str | None = None  # the model class a ground-truth class it lacks is scored as
    sightings: list[tuple[float, float, float, np.ndarray]] = field(default_factory=list)  # with keep_probs:
    #                                               (stamp, x, y, full class distribution) of each classification


@dataclass(frozen=True)
class EncoderSample:
    stamp: float
    names: list[str]
    position: list[float]
    velocity: list[float]


def bag_events(bag: Path, detect: DetectStage, log: BagLog, image_topic: str = "/camera/image_raw",
               encoder_topic: str = "/belt/encoder", truth_topic: str = "/sim/ground_truth",
               keep_crops: bool = False, progress: str | None = None) -> Iterator[Detected | EncoderSample]:
    """A bag's frames through the detect stage and its encoder samples, in bag order; ground truth,
    frame counts and refused frames go to ``log``. The one way a bag is read offline. ``progress``:
    what to call the work in a progress line (None: quiet)."""
    kinds = bagio.topics(bag)
    if image_topic in kinds and kinds[image_topic] not in IMAGE_TYPES:
        raise BagError(f"{bag}: {image_topic} holds {kinds[image_topic]}, not images "
                       f"({' or '.join(IMAGE_TYPES)}); give --image-topic")
    total = bagio.message_counts(bag).get(image_topic) if progress else None
    with Progress(progress or "", total, "frames", enabled=progress is not None) as bar:
        yield from _events(bag, detect, log, image_topic, encoder_topic, truth_topic, keep_crops, bar)
    if not log.frames:
        images = sorted(t for t, kind in kinds.items() if kind in IMAGE_TYPES)
        if log.rejected:
            raise BagError(f"{bag}: every frame on {image_topic} was refused: "
                           + ", ".join(f"{n} {why}" for why, n in log.rejected.items()))
        raise BagError(f"{bag}: no images on {image_topic}; "
                       + (f"this bag has images on {', '.join(images)} (give --image-topic)" if images
                          else "this bag has no image topic"))


def _events(bag: Path, detect: DetectStage, log: BagLog, image_topic: str, encoder_topic: str, truth_topic: str,
            keep_crops: bool, bar: Progress) -> Iterator[Detected | EncoderSample]:
    for m in bagio.read(bag, {image_topic, encoder_topic, truth_topic}):
        msg = m.decode()
        if m.topic == image_topic:
            bar.update()
            t0 = time.perf_counter()
            out = detect.process(msg, keep_crops)
            if isinstance(out, Rejected):
                log.rejected[out.kind.strip()] += 1
                continue
            log.frame_seconds.append(time.perf_counter() - t0)
            log.frames += 1
            yield out
        elif m.topic == encoder_topic:
            yield EncoderSample(to_sec(msg.header.stamp), list(msg.name), [float(v) for v in msg.position],
                                [float(v) for v in msg.velocity])
        elif m.topic == truth_topic:
            for rec in cloud_to_items(msg):
                log.truth_samples[int(rec["item_id"])].append((float(rec["stamp"]), rec))


def read_bag(bag: Path, detect: DetectStage, image_topic: str = "/camera/image_raw",
             encoder_topic: str = "/belt/encoder", truth_topic: str = "/sim/ground_truth",
             unknown_class_as: str | None = None, progress: str | None = None, keep_probs: bool = False) -> BagLog:
    """Detect and classify every frame of a bag (the expensive part of an evaluation), once; ``keep_probs``
    also keeps every classification's full distribution (``BagLog.sightings``)."""
    log = BagLog(unknown_class_as=unknown_class_as)
    wall0 = time.perf_counter()
    belt, before = detect.detector.segmenter, detect.detector.segmenter.oversize
    for event in bag_events(bag, detect, log, image_topic, encoder_topic, truth_topic, keep_crops=keep_probs,
                            progress=progress):
        log.events.append((event.stamp, event.result.records if isinstance(event, Detected) else event))
        if isinstance(event, Detected) and event.result.probs is not None:
            rec = event.result.records[event.result.classified]
            log.sightings.extend((event.stamp, float(r["x"]), float(r["y"]), p)
                                 for r, p in zip(rec, event.result.probs, strict=True))
    log.wall_seconds = time.perf_counter() - wall0
    log.oversize = belt.oversize - before
    if log.oversize:
        log.oversize_warning = oversize_news(belt.oversize_share, belt.cfg.max_area_fraction)
    return log


def cell_truth(bag: Path, log: BagLog, cell: OfflineCell) -> list[TruthItem]:
    """The bag's ground truth with class ids of the model: a simulated bag numbers its classes by the
    folder's names (its metadata lists them), which need not be the model's classes or order."""
    truth = truth_items(log.truth_samples, cell.track.tracker.cfg.view_x_max)
    names = bagio.truth_class_names(bag) if truth else None
    classes = cell.classes
    if not names or names == classes:
        return truth
    unknown = sorted({names[it.class_id] for it in truth if names[it.class_id] not in classes})
    if unknown and log.unknown_class_as is None:
        raise DataError(f"{bag}: ground truth has class {', '.join(unknown)} that the model does not know "
                        f"({', '.join(classes)}); score it as one of them with --unknown-class-as CLASS")
    if log.unknown_class_as is not None and log.unknown_class_as not in classes:
        raise UsageError(f"--unknown-class-as {log.unknown_class_as}: not a class of the model ({', '.join(classes)})")
    index = {n: classes.index(n if n in classes else str(log.unknown_class_as)) for n in names}
    return [dataclasses.replace(it, class_id=index[names[it.class_id]]) for it in truth]


def evaluate(bag: Path, params_file: Path | None = None, model: Path | None = None,
             image_topic: str = "/camera/image_raw", encoder_topic: str = "/belt/encoder",
             truth_topic: str = "/sim/ground_truth",
             overrides: dict[str, dict[str, Any]] | None = None, plant_latency: float | None = None,
             plant_ejector_offset: float = 0.0, unknown_class_as: str | None = None,
             controller: ControllerCore | None = None, progress: bool = False) -> dict[str, Any]:
    """Run and score; ``plant_*`` make the simulated valves differ from the configuration,
    ``controller`` replaces the default controller logic (a test's one that refuses commands)."""
    cell, _ = build_cell(params_file or paths.default_params_file(), model, overrides, controller=controller)
    log = read_bag(bag, cell.detect, image_topic, encoder_topic, truth_topic, unknown_class_as,
                   f"evaluate {bagio.bag_name(bag)}" if progress else None)
    return run_cell(bag, cell, log, plant_latency, plant_ejector_offset)


def sweep(bag: Path, param: str, values: list[Any], params_file: Path | None = None, model: Path | None = None,
          overrides: dict[str, dict[str, Any]] | None = None, **topics: str) -> list[tuple[Any, dict[str, Any]]]:
    """Evaluate the same bag once per value of ``NODE.PARAM``: a tracker or actuator parameter
    replays the frames classified once; a classifier parameter classifies the bag again per value.
    A single number for a list parameter (``bin_min_confidence``) is used for every entry."""
    params_file = params_file or paths.default_params_file()
    overrides = overrides or {}
    node, _, name = param.partition(".")
    if node not in ("classifier", "tracker", "actuator") or not name:
        raise UsageError(f"--sweep {param!r} must look like classifier|tracker|actuator.PARAM")
    base, current = build_cell(params_file, model, overrides)
    if name not in current[node]:
        raise unknown_name("--sweep", node, name, list(current[node]))
    log = read_bag(bag, base.detect, **topics) if node != "classifier" else None
    runs = []
    for value in values:
        if isinstance(current[node][name], list) and not isinstance(value, list):
            value = [value] * len(current[node][name])
        changed = {**overrides, node: {**overrides.get(node, {}), name: value}}
        if log is None:
            runs.append((value, evaluate(bag, params_file, model, overrides=changed, **topics)))
        else:
            cell, _ = build_cell(params_file, model, changed, detect=base.detect)
            runs.append((value, run_cell(bag, cell, log)))
    return runs


def run_cell(bag: Path, cell: OfflineCell, log: BagLog, plant_latency: float | None = None,
             plant_ejector_offset: float = 0.0) -> dict[str, Any]:
    """Replay a classified bag through the tracker, actuator logic and controller, and score it."""
    wall0 = time.perf_counter()
    for t, event in log.events:
        if isinstance(event, EncoderSample):
            cell.on_encoder(t, event.names, event.position, event.velocity)
        else:
            cell.on_detections(event, t)
    assert cell.now is not None
    geom = cell.track.tracker.geometry
    cell.advance(cell.now + (max(geom.x) + 0.8) / max(cell.track.odometry.speed, 0.2) + 0.5)
    classes = cell.classes
    frame_ms = np.array(log.frame_seconds) * 1e3
    wall = log.wall_seconds + time.perf_counter() - wall0
    base: dict[str, Any] = {
        "bag": str(bag), "frames": log.frames, "rejected_frames": sum(log.rejected.values()),
        "rejected": dict(log.rejected), "oversize_regions": log.oversize, "oversize_warning": log.oversize_warning,
        "classes": classes,
        "items_decided": len(cell.decisions), "picks_fired": len(cell.pulses),
        "picks_per_bin": dict(Counter(f"{geom.x.index(geom.x[p.ejector])}" for p in cell.pulses)),
        "decisions": dict(Counter(f"{ItemStatus(int(d['status'])).name}/{MissReason(int(d['reason'])).name}"
                                  for d in cell.decisions)),
        "latency_ms": {
            "frame_p50": float(np.percentile(frame_ms, 50)), "frame_p99": float(np.percentile(frame_ms, 99)),
            "decision_p50": float(np.percentile(cell.decision_latency, 50) * 1e3) if cell.decision_latency
            else None,
            "decision_p99": float(np.percentile(cell.decision_latency, 99) * 1e3) if cell.decision_latency
            else None},
        "speed_warning_frames": len(cell.speed_warnings),
        "speed_warning": cell.speed_warnings[-1] if cell.speed_warnings else None,
        "wall_seconds": wall, "frames_per_second": log.frames / wall if wall > 0 else None,
        "actuator": cell.actuate.counts(),
        "encoder_warnings": dict(cell.encoder_warnings),
        "picks": [{"item_id": item, "ejector": int(d["ejector"]), "class_id": int(d["class_id"]),
                   "fire_time": float(d["fire_time"]), "pulse": float(d["pulse"])}
                  for item, d in cell.requests.items()],  # as last requested (amendments applied)
        "fired": [{"item_id": int(f["item_id"]), "ejector": int(f["ejector"]),
                   "outcome": outcome_name(f)} for f in cell.fired],  # each first request's outcome
    }
    bin_classes = list(cell.track.tracker.bins.ejector_class)
    base["picks_per_bin"] = {bin_classes[int(k)] if int(k) < len(bin_classes) else k: v
                             for k, v in base["picks_per_bin"].items()}
    truth = cell_truth(bag, log, cell)
    if not truth:
        base["ground_truth"] = False
        base["note"] = "no ground truth in this bag: accuracy, purity and recovery need ground truth"
        return base
    plant = dataclasses.replace(geom, x=[x + plant_ejector_offset for x in geom.x],
                                latency=geom.latency if plant_latency is None else plant_latency)
    base.update(_score_against_truth(cell, truth, classes, bin_classes, plant))
    return base


def _score_against_truth(cell: OfflineCell, truth: list[TruthItem], classes: list[str], bin_classes: list[str],
                         geom: Any) -> dict[str, Any]:
    pulses = [ExecutedPulse(p.ejector, p.valve_first, p.valve_count, p.wall_time, p.duration, p.item_id)
              for p in cell.pulses]
    result = score(truth, pulses, geom, classes, bin_classes, geom.latency)  # geom: the plant's
    matched = match_decisions(truth, cell.decisions)  # each truth item's decision, by position
    n = len(classes)
    cm = np.zeros((n, n + 1), np.int64)  # last column: unclassified
    for it in truth:
        d = matched.get(it.item_id)
        if d is not None and 0 <= it.class_id < n:
            pred = int(d["class_id"])
            cm[it.class_id, pred if 0 <= pred < n else n] += 1
    detected = len(matched)
    # Decisions about no item (a stain, a split item's second half, a reflection): counted, never hidden.
    phantoms = [d for d in cell.decisions
                if nearest_truth(truth, float(d["stamp"]), float(d["x"]), float(d["y"])) is None]
    phantoms_passed = sum(1 for d in phantoms if int(d["reason"]) == MissReason.NOT_AN_ITEM)
    refused = {int(f["item_id"]): MissReason(int(f["reason"])).name.lower() for f in cell.fired
               if int(f["status"]) == ItemStatus.MISSED}
    outcomes = account(truth, matched, result.bins, pulses, geom, classes, bin_classes, refused)
    missed = [{"item_id": o.item_id, "class": o.name, "outcome": o.outcome, "reason": o.reason}
              for o in outcomes if o.outcome not in ("sorted", "left")]
    summ = result.summary()
    return {
        "ground_truth": True,
        "items": len(truth),
        "detection_recall": detected / len(truth),
        "classification_accuracy": float(np.trace(cm[:, :n]) / cm.sum()) if cm.sum() else None,
        "per_class_accuracy": {classes[i]: float(cm[i, i] / cm[i].sum()) if cm[i].sum() else None for i in range(n)},
        "confusion": cm.tolist(),
        "purity": summ["purity"], "recovery": summ["recovery"],
        "right_bin": summ["right_bin"], "wrong_bin": summ["wrong_bin"], "missed_count": summ["missed"],
        "timing_error_ms": summ["timing_error_ms"], "position_error_mm": summ["position_error_mm"],
        "pulses_hit": summ["pulses_hit"], "pulses_empty": summ["pulses_empty"], "phantom_decisions": len(phantoms),
        "phantoms_not_an_item": phantoms_passed,
        "missed": missed, "accounting": tally(outcomes, classes),
        "_timing_errors": result.timing_error_ms, "_pulse_speeds": result.pulse_speeds, "_truth": truth,
        "_item_classes": {it.item_id: (classes[int(matched[it.item_id]["class_id"])]
                                       if it.item_id in matched and 0 <= int(matched[it.item_id]["class_id"]) < n
                                       else None) for it in truth},
    }
