"""`waste-sorting sim`: render a simulated belt run into a rosbag2 bag, with ground truth.

Topics: ``/camera/image_raw`` (bgr8), ``/camera/camera_info``, ``/belt/encoder``
(JointState: position = belt travel in m, velocity in m/s) and
``/sim/ground_truth`` (an item list: every item's id, class and true position
at the frame's stamp). Stamps start at a fixed epoch, so the same seed and
options give the same bag. The simulator's settings and class names are stored
in the bag's custom metadata.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from waste_sorting import paths
from waste_sorting.argtypes import non_negative_float, non_negative_int, positive_float, positive_int, rgb_gains
from waste_sorting.bags import messages as msgs
from waste_sorting.bags.io import STORAGES, BagWriter
from waste_sorting.data.photos import PHOTO_ASPECT, aspect_argument
from waste_sorting.errors import DataError, UsageError
from waste_sorting.simulation.belt import SUBSETS, BeltSimulator, SimConfig
from waste_sorting.simulation.speed import SpeedProfile

BAG_EPOCH = 1_700_000_000.0  # stamp of the first frame: fixed for reproducible bags
TRUTH_X_MAX = 6.0
TOPIC_IMAGE, TOPIC_INFO = "/camera/image_raw", "/camera/camera_info"
TOPIC_ENCODER, TOPIC_TRUTH = "/belt/encoder", "/sim/ground_truth"


def add_arguments(p: argparse.ArgumentParser) -> None:
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
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--photo-aspect", type=aspect_argument, default=PHOTO_ASPECT,
                   help="true width/height of the photos (default 4:3, TrashNet's, whose files are stored "
                        "squeezed to 3:4); 0 pastes them as stored")
    p.add_argument("--storage", default="mcap", choices=sorted(STORAGES))
    p.add_argument("--compress", action="store_true", help="zstd per message (ros2 bag play reads it)")


def write_sim_bag(cfg: SimConfig, out: Path, duration: float, storage: str = "mcap",
                  compress: bool = False) -> dict[str, Any]:
    sim = BeltSimulator(cfg)
    n = int(round(duration * cfg.fps))
    meta = {"classes": sim.classes, "fps": cfg.fps, "width": cfg.width_px, "height": cfg.height_px,
            "metres_per_px": cfg.metres_per_px, "seed": cfg.seed, "images": str(cfg.images),
            "subset": cfg.subset, "items_per_second": cfg.items_per_second,
            "white_balance": list(cfg.white_balance), "motion_blur_px": cfg.motion_blur_px,
            "speed_knots": list(zip(sim.cfg.speed.times, sim.cfg.speed.speeds, strict=True)),
            "homography": sim.homography.matrix.flatten().tolist(), "epoch": BAG_EPOCH}
    with BagWriter(out, storage, compress) as bag:
        bag.set_custom_data("waste_sorting.sim", json.dumps(meta))
        for k in range(n):
            t = k / cfg.fps
            t_abs = BAG_EPOCH + t
            t_ns = int(round(t_abs * 1e9))
            frame = sim.render(t)
            bag.write_typed(TOPIC_IMAGE, msgs.image(frame, t_abs), t_ns)
            bag.write_typed(TOPIC_INFO, msgs.camera_info(frame.shape[1], frame.shape[0], t_abs), t_ns)
            bag.write_typed(TOPIC_ENCODER, msgs.joint_state(t_abs, sim.travel(t), cfg.speed.speed(t)), t_ns)
            truth = sim.ground_truth(t, x_max=TRUTH_X_MAX)
            truth["stamp"] = t_abs
            bag.write_typed(TOPIC_TRUTH, msgs.item_cloud(truth, t_abs), t_ns)
            if k % 300 == 299:
                sim.prune(TRUTH_X_MAX + 1.0, t)
    meta["frames"] = n
    meta["items"] = sim.items_spawned
    return meta


def run(args: argparse.Namespace) -> dict[str, Any]:
    speed = SpeedProfile.parse(args.speed_profile) if args.speed_profile else SpeedProfile.constant(args.belt_speed)
    cfg = SimConfig(images=args.images or paths.demo_images(), subset=args.subset, width_px=args.width,
                    height_px=args.height, metres_per_px=args.metres_per_px, fps=args.fps, speed=speed,
                    items_per_second=args.items_per_second, touching_p=args.touching, seed=args.seed,
                    photo_aspect=args.photo_aspect, white_balance=args.white_balance,
                    motion_blur_px=args.motion_blur)
    if args.out.exists():
        raise UsageError(f"--out {args.out} exists; choose a new bag path (nothing was overwritten)")
    t0 = time.perf_counter()
    try:
        meta = write_sim_bag(cfg, args.out, args.duration, args.storage, args.compress)
    except BaseException as exc:  # a failed or interrupted render leaves no half-written bag behind
        shutil.rmtree(args.out, ignore_errors=True)
        if isinstance(exc, ValueError):
            raise DataError(f"--images {cfg.images}: {exc}") from None
        raise
    size = sum(f.stat().st_size for f in args.out.rglob("*") if f.is_file())
    print(f"wrote {args.out}: {meta['frames']} frames, {meta['items']} items, {size / 1e6:.0f} MB "
          f"({time.perf_counter() - t0:.1f} s)")
    return meta
