"""Bag commands: `sim` (render one), `replay`, `record`, and `evaluate` (score the cell on one)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from waste_sorting import paths
from waste_sorting.cli.argtypes import (
    aspect_argument,
    non_negative_float,
    non_negative_int,
    positive_float,
    positive_int,
    rgb_gains,
    shade_range,
)
from waste_sorting.errors import UsageError


def add_sim(p: argparse.ArgumentParser) -> None:
    from waste_sorting.bags.io import STORAGES
    from waste_sorting.data.photos import PHOTO_ASPECT
    from waste_sorting.simulation.belt import SUBSETS

    p.add_argument("--images", type=Path, default=None, help="labelled image folder (default: shipped demo set)")
    p.add_argument("--subset", default="all", choices=SUBSETS,
                   help="holdout: only images the model never trained on (for the training folder); "
                        "train: only the others")
    p.add_argument("--out", type=Path, required=True, help="bag folder to create")
    p.add_argument("--duration", type=positive_float, default=30.0, help="seconds of belt")
    p.add_argument("--belt-speed", type=positive_float, default=2.0, help="m/s")
    p.add_argument("--speed-profile", help="changing speed, 't:v,t:v,...' (overrides --belt-speed)")
    p.add_argument("--items-per-second", type=non_negative_float, default=2.0)
    p.add_argument("--touching", type=non_negative_float, default=0.0,
                   help="chance an item touches the previous one")
    p.add_argument("--fps", type=positive_float, default=30.0)
    p.add_argument("--width", type=positive_int, default=640)
    p.add_argument("--height", type=positive_int, default=360)
    p.add_argument("--metres-per-px", type=positive_float, default=0.0016)
    p.add_argument("--white-balance", type=rgb_gains, default=(1.0, 1.0, 1.0), metavar="R,G,B",
                   help="colour gains of another camera or light, e.g. 1.25,1.0,0.7 (warm)")
    p.add_argument("--motion-blur", type=non_negative_int, default=0, metavar="PX",
                   help="exposure smear along the belt in pixels (a longer shutter or a faster belt)")
    p.add_argument("--dirty", action="store_true",
                   help="a dirty real belt: stains and dust riding it, uneven light and a colour cast, auto-exposure "
                        "swings, sensor noise and JPEG artefacts (see doc/simulation.md)")
    p.add_argument("--stain-shade", type=shade_range, metavar="LO,HI",
                   help="with --dirty: the brightness its stains leave the belt (default 0.55,0.85; a wet or oily "
                        "line: 0.25,0.6)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--photo-aspect", type=aspect_argument, default=PHOTO_ASPECT,
                   help="true width/height of the photos (default 4:3, TrashNet's, whose files are stored "
                        "squeezed to 3:4); 0 pastes them as stored")
    p.add_argument("--storage", default="mcap", choices=sorted(STORAGES))
    p.add_argument("--compress", action="store_true", help="zstd per message (ros2 bag play reads it)")


def _dirt(args: argparse.Namespace) -> Any:
    from waste_sorting.simulation.dirt import DirtyBelt

    if args.stain_shade is not None and not args.dirty:
        raise UsageError("--stain-shade is a dirty belt's: give --dirty too")
    if not args.dirty:
        return None
    return DirtyBelt(stain_darkening=args.stain_shade) if args.stain_shade else DirtyBelt()


def run_sim(args: argparse.Namespace) -> dict[str, Any]:
    import time

    from waste_sorting.bags.simbag import render_bag
    from waste_sorting.simulation.belt import SimConfig
    from waste_sorting.simulation.speed import SpeedProfile

    speed = SpeedProfile.parse(args.speed_profile) if args.speed_profile else SpeedProfile.constant(args.belt_speed)
    cfg = SimConfig(images=args.images or paths.demo_images(), subset=args.subset, width_px=args.width,
                    height_px=args.height, metres_per_px=args.metres_per_px, fps=args.fps, speed=speed,
                    items_per_second=args.items_per_second, touching_p=args.touching, seed=args.seed,
                    photo_aspect=args.photo_aspect, white_balance=args.white_balance,
                    motion_blur_px=args.motion_blur, dirt=_dirt(args))
    t0 = time.perf_counter()
    meta = render_bag(cfg, args.out, args.duration, args.storage, args.compress, progress=True)
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out}: {meta['frames']} frames, {meta['items']} items, {size / 1e6:.0f} MB "
          f"({time.perf_counter() - t0:.1f} s)")
    return meta


def add_replay(p: argparse.ArgumentParser) -> None:
    p.add_argument("bag", type=Path, help="rosbag2 folder, or a bare .mcap or .db3 file")
    p.add_argument("--rate", type=positive_float, default=1.0, help="playback speed factor")
    p.add_argument("--loop", action="store_true", help="play again and again")
    p.add_argument("--topics", nargs="*", help="only these topics")
    p.add_argument("--remap", action="append", default=[], metavar="FROM:=TO", help="rename a topic")
    p.add_argument("--no-clock", action="store_true", help="do not publish /clock")
    p.add_argument("--start-delay", type=float, default=2.0,
                   help="wait up to this long for every topic to have a subscriber before playing")


def parse_remaps(items: list[str]) -> dict[str, str]:
    out = {}
    for item in items:
        if ":=" not in item:
            raise UsageError(f"--remap {item!r} must look like /from:=/to")
        a, b = item.split(":=", 1)
        out["/" + a.lstrip("/")] = "/" + b.lstrip("/")
    return out


def run_replay(args: argparse.Namespace) -> int:
    from waste_sorting.bags.replay import replay

    try:
        sent = replay(args.bag, args.rate, args.loop, args.topics, parse_remaps(args.remap), not args.no_clock,
                      args.start_delay)
    except KeyboardInterrupt:
        return 0
    print(f"replayed {sent} messages from {args.bag}")
    return 0


def add_record(p: argparse.ArgumentParser) -> None:
    from waste_sorting.bags.io import STORAGES

    p.add_argument("topics", nargs="*", help="topics to record (default: every topic seen)")
    p.add_argument("--out", type=Path, required=True, help="bag folder to create")
    p.add_argument("--duration", type=float, default=0.0, help="seconds (0: until Ctrl-C)")
    p.add_argument("--storage", default="mcap", choices=sorted(STORAGES))
    p.add_argument("--compress", action="store_true")
    p.add_argument("--discovery", type=float, default=2.0, help="seconds to wait for topics to appear")


def run_record(args: argparse.Namespace) -> int:
    from waste_sorting.bags.record import record

    counts = record(args.out, args.topics, args.duration, args.storage, args.compress, args.discovery)
    for topic, n in sorted(counts.items()):
        print(f"{topic}: {n} messages")
    return 0


def add_evaluate(p: argparse.ArgumentParser) -> None:
    p.add_argument("bag", type=Path, help="rosbag2 folder (MCAP or sqlite3), or a bare .mcap or .db3 file")
    p.add_argument("--params", type=Path, default=None, help="params file (default: config/sorting_cell.yaml)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the params file's)")
    p.add_argument("--json", type=Path, help="write the scores as JSON")
    p.add_argument("--unknown-class-as", metavar="CLASS",
                   help="score ground-truth items of a class the model lacks as this class (e.g. trash)")
    p.add_argument("--compare", type=Path, nargs=2, metavar=("A.onnx", "B.onnx"),
                   help="score two models on the same bag, side by side, with the items they disagree on")
    p.add_argument("--plots", type=Path, help="write PNG plots into this folder")
    p.add_argument("--image-topic", default="/camera/image_raw")
    p.add_argument("--encoder-topic", default="/belt/encoder")
    p.add_argument("--truth-topic", default="/sim/ground_truth")
    p.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE",
                   help="override a parameter, e.g. tracker.speed_source=encoder (YAML value)")
    p.add_argument("--sweep", metavar="NODE.PARAM",
                   help="evaluate once per --values entry of this parameter and print purity/recovery per value "
                        "(tracker/actuator parameters reuse one classification of the bag)")
    p.add_argument("--values", nargs="+", default=[], metavar="VALUE",
                   help="values for --sweep (YAML; one number for a list parameter is used for every entry)")
    p.add_argument("--plant-latency", type=float, default=None,
                   help="simulated valves' true latency (s); default: the configured valve_latency")
    p.add_argument("--plant-ejector-offset", type=float, default=0.0,
                   help="simulated ejectors' true position minus the configured one (m)")


def parse_overrides(items: list[str]) -> dict[str, dict[str, Any]]:
    """['tracker.belt_speed=1.8', ...] -> {'tracker': {'belt_speed': 1.8}}."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        node, dot, name = key.partition(".")
        if not sep or not dot or node not in ("classifier", "tracker", "actuator"):
            raise UsageError(f"--set {item!r} must look like classifier|tracker|actuator.PARAM=VALUE")
        out.setdefault(node, {})[name] = yaml.safe_load(value)
    return out


def run_sweep(args: argparse.Namespace) -> list[dict[str, Any]]:
    import yaml

    from waste_sorting.evaluation.offline import PRIVATE_KEYS, sweep


    if not args.values:
        raise UsageError("--sweep needs --values")
    runs = sweep(args.bag, args.sweep, [yaml.safe_load(v) for v in args.values], args.params, args.model,
                 parse_overrides(args.set), image_topic=args.image_topic, encoder_topic=args.encoder_topic,
                 truth_topic=args.truth_topic)
    rows = []
    print(f"{args.sweep:>32s}  purity  recovery  right  wrong  missed  pos p99 mm")
    for value, r in runs:
        for key in PRIVATE_KEYS:
            r.pop(key, None)
        rows.append({"value": value, **r})
        if not r.get("ground_truth"):
            print(f"{value!s:>32s}  {r['picks_fired']} picks fired (no ground truth to score)")
            continue
        print(f"{value!s:>32s}  {_fmt(r['purity']['overall'])}   {_fmt(r['recovery']['overall'])}   "
              f"{r['right_bin']:5d}  {r['wrong_bin']:5d}  {r['missed_count']:6d}  "
              f"{_fmt(r['position_error_mm']['p99'], '{:.1f}')}")
    if args.json:
        args.json.write_text(json.dumps({"sweep": args.sweep, "runs": rows}, indent=2, default=float))
    return rows


def run_compare(args: argparse.Namespace) -> dict[str, Any]:
    """Both models over the same bag and params; the table a person needs to choose one."""
    from waste_sorting.evaluation.offline import PRIVATE_KEYS, evaluate

    results = []
    for model in args.compare:
        print(f"evaluating {model} ...", flush=True)
        results.append(evaluate(args.bag, args.params, model, args.image_topic, args.encoder_topic,
                                args.truth_topic, parse_overrides(args.set),
                                unknown_class_as=args.unknown_class_as, progress=True))
    a, b = results
    if not (a.get("ground_truth") and b.get("ground_truth")):
        print("this bag has no ground truth: the models can only be compared on picks fired "
              f"({a['picks_fired']} against {b['picks_fired']})")
        return {"a": a, "b": b}
    names = [m.name for m in args.compare] if args.compare[0].name != args.compare[1].name else \
        [str(m) for m in args.compare]
    width = max(12, *(len(n) for n in names))
    print(f"{'':28s}{names[0]:>{width}s}  {names[1]:>{width}s}")

    def row(label: str, va: Any, vb: Any) -> None:
        print(f"{label:28s}{_fmt(va):>{width}s}  {_fmt(vb):>{width}s}")

    row("classification", a["classification_accuracy"], b["classification_accuracy"])
    for key in a["purity"]:
        row(f"purity {key}", a["purity"][key], b["purity"].get(key))
    for key in a["recovery"]:
        row(f"recovery {key}", a["recovery"][key], b["recovery"].get(key))
    print(f"{'items in the right bin':28s}{a['right_bin']:>{width}d}  {b['right_bin']:>{width}d}")
    ca, cb = a.pop("_item_classes"), b.pop("_item_classes")
    truth = {it.item_id: it for it in a.pop("_truth")}
    classes = a["classes"]
    differ = [(i, ca[i], cb.get(i)) for i in sorted(ca) if ca[i] != cb.get(i)]
    fixed = sum(1 for i, pa, pb in differ if pb == classes[truth[i].class_id])
    broken = sum(1 for i, pa, pb in differ if pa == classes[truth[i].class_id])
    print(f"{len(differ)} items classified differently: B right where A was wrong {fixed}, "
          f"A right where B is wrong {broken}")
    for i, pa, pb in differ[:20]:
        print(f"  item {i} ({classes[truth[i].class_id]}): {pa or 'unclassified'} -> {pb or 'unclassified'}")
    for r in (a, b):
        for key in PRIVATE_KEYS:
            r.pop(key, None)
    out = {"a": a, "b": b, "differ": [{"item_id": i, "truth": classes[truth[i].class_id], "a": pa, "b": pb}
                                      for i, pa, pb in differ]}
    if args.json:
        args.json.write_text(json.dumps(out, indent=2, default=float))
    return out


def run_evaluate(args: argparse.Namespace) -> Any:
    from waste_sorting.evaluation.offline import evaluate

    if args.sweep:
        return run_sweep(args)
    if args.compare:
        return run_compare(args)
    result = evaluate(args.bag, args.params, args.model, args.image_topic, args.encoder_topic, args.truth_topic,
                      parse_overrides(args.set), args.plant_latency, args.plant_ejector_offset,
                      args.unknown_class_as, progress=True)
    truth = result.pop("_truth", None)
    timing = result.pop("_timing_errors", None)
    result.pop("_pulse_speeds", None)
    result.pop("_item_classes", None)
    if args.plots and truth is not None:
        from waste_sorting.evaluation.plots import write_plots

        write_plots(args.plots, result, timing or [], truth)
    print_summary(result)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2, default=float))
    return result


def _fmt(v: Any, f: str = "{:.3f}") -> str:
    return "n/a" if v is None else f.format(v)


def print_summary(r: dict[str, Any]) -> None:
    from waste_sorting.evaluation.accounting import print_accounting

    print(f"bag {r['bag']}: {r['frames']} frames, {r['items_decided']} items decided, {r['picks_fired']} picks fired")
    print("decisions: " + ", ".join(f"{k} {v}" for k, v in sorted(r["decisions"].items())))
    print(f"frame processing ms p50 {_fmt(r['latency_ms']['frame_p50'], '{:.1f}')} "
          f"p99 {_fmt(r['latency_ms']['frame_p99'], '{:.1f}')}; {_fmt(r['frames_per_second'], '{:.1f}')} frames/s")
    if r.get("oversize_regions"):
        print(f"{r['oversize_warning']} ({r['oversize_regions']} sightings of such regions)")
    if not r.get("ground_truth"):
        print(r["note"])
        return
    print(f"items {r['items']}: detection recall {_fmt(r['detection_recall'])}, classification accuracy "
          f"{_fmt(r['classification_accuracy'])}")
    print(f"decisions about no item (stains, split items): {r['phantom_decisions']} "
          f"({r['phantoms_not_an_item']} of them passed as not an item); pulses that hit nothing: {r['pulses_empty']}")
    print("purity: " + ", ".join(f"{k} {_fmt(v)}" for k, v in r["purity"].items()))
    print("recovery: " + ", ".join(f"{k} {_fmt(v)}" for k, v in r["recovery"].items()))
    print(f"eject timing error |ms| p50 {_fmt(r['timing_error_ms']['p50'], '{:.2f}')} "
          f"p99 {_fmt(r['timing_error_ms']['p99'], '{:.2f}')}; position error |mm| "
          f"p50 {_fmt(r['position_error_mm']['p50'], '{:.2f}')} p99 {_fmt(r['position_error_mm']['p99'], '{:.2f}')}")
    print_accounting(r["accounting"])
    for m in r["missed"][:20]:
        print(f"  {m['outcome'].replace('_', ' ')} item {m['item_id']} ({m['class']}): {m['reason']}")
