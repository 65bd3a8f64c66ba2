"""The command lines of `harvest` and `adapt` (parsing here; the work in harvest, labelled and adapt)."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from waste_sorting import paths
from waste_sorting.argtypes import non_negative_int, positive_int
from waste_sorting.errors import DataError

LABELS = ("predicted", "truth")


def add_harvest_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("bags", type=Path, nargs="+", metavar="BAG", help="rosbag2 folders of the line")
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


def add_adapt_arguments(p: argparse.ArgumentParser) -> None:
    from waste_sorting.adaptation.adapt import AdaptConfig

    d = AdaptConfig()
    p.add_argument("--data", type=Path, required=True, help="labelled-crops folder (from `harvest`, corrected)")
    p.add_argument("--base", type=Path, default=None, help="model to start from (default: the shipped one)")
    p.add_argument("--out", type=Path, required=True, help="adapted model, .onnx (sidecar .json beside it)")
    p.add_argument("--rehearse", type=Path, default=None,
                   help="the original training folder (e.g. ../shared/data/trashnet): mixed into every batch "
                        "so the model keeps what it knew")
    p.add_argument("--epochs", type=positive_int, default=d.epochs)
    p.add_argument("--batch-size", type=positive_int, default=d.batch_size)
    p.add_argument("--lr", type=float, default=d.lr)
    p.add_argument("--holdout", type=float, default=d.holdout, help="share of labelled items held back")
    p.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=d.bf16, help="bf16 autocast")
    p.add_argument("--threads", type=non_negative_int, default=0, help="torch threads (0: all cores)")
    p.add_argument("--json", type=Path, help="write the report as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def run_adapt(args: argparse.Namespace) -> dict[str, Any]:
    from waste_sorting.adaptation.adapt import AdaptConfig, adapt

    cfg = AdaptConfig(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr, holdout=args.holdout,
                      bf16=args.bf16, threads=args.threads)
    report = adapt(args.data, args.base or paths.default_model(), args.out, args.rehearse, cfg, args.quiet)
    b, a = report["before"], report["after"]
    if b["item_top1"] is None:
        print("too few labelled items to hold any back: no before/after figure")
    else:
        print(f"held-back items ({report['held_back_items']}): top-1 {b['item_top1']:.3f} -> {a['item_top1']:.3f} "
              f"(crops {b['crop_top1']:.3f} -> {a['crop_top1']:.3f})")
    print(f"wrote {args.out} in {report['seconds']:.0f} s; try it: waste-sorting evaluate BAG --compare "
          f"{args.base or paths.default_model()} {args.out}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2, default=float))
    return report
