"""`waste-sorting sim`: render a simulated belt run into a rosbag2 bag, with ground truth.

Topics: ``/camera/image_raw`` (bgr8), ``/camera/camera_info``, ``/belt/encoder``
(JointState: position = belt travel in m, velocity in m/s) and
``/sim/ground_truth`` (an item list: every item's id, class and true position
at the frame's stamp). Stamps start at a fixed epoch, so the same seed and
options give the same bag. The simulator's settings and class names are stored
in the bag's custom metadata.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from waste_sorting.bags import messages as msgs
from waste_sorting.bags.io import BagWriter
from waste_sorting.errors import DataError, UsageError
from waste_sorting.progress import Progress
from waste_sorting.simulation.belt import BeltSimulator, SimConfig

BAG_EPOCH = 1_700_000_000.0  # stamp of the first frame: fixed for reproducible bags
TRUTH_X_MAX = 6.0
TOPIC_IMAGE, TOPIC_INFO = "/camera/image_raw", "/camera/camera_info"
TOPIC_ENCODER, TOPIC_TRUTH = "/belt/encoder", "/sim/ground_truth"


def write_sim_bag(cfg: SimConfig, out: Path, duration: float, storage: str = "mcap",
                  compress: bool = False, progress: bool = False) -> dict[str, Any]:
    sim = BeltSimulator(cfg)
    n = int(round(duration * cfg.fps))
    meta = {"classes": sim.classes, "fps": cfg.fps, "width": cfg.width_px, "height": cfg.height_px,
            "metres_per_px": cfg.metres_per_px, "seed": cfg.seed, "images": str(cfg.images),
            "subset": cfg.subset, "items_per_second": cfg.items_per_second,
            "white_balance": list(cfg.white_balance), "motion_blur_px": cfg.motion_blur_px,
            "dirt": dataclasses.asdict(cfg.dirt) if cfg.dirt is not None else None,
            "speed_knots": list(zip(sim.cfg.speed.times, sim.cfg.speed.speeds, strict=True)),
            "homography": sim.homography.matrix.flatten().tolist(), "epoch": BAG_EPOCH}
    with BagWriter(out, storage, compress) as bag, Progress(f"sim {out.name}", n, "frames", progress) as bar:
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
            bar.update()
    meta["frames"] = n
    meta["items"] = sim.items_spawned
    return meta


def render_bag(cfg: SimConfig, out: Path, duration: float, storage: str = "mcap", compress: bool = False,
               progress: bool = False) -> dict[str, Any]:
    """`write_sim_bag` into a new folder: an existing one is refused, and a failed or interrupted
    render leaves no half-written bag behind."""
    if out.exists():
        raise UsageError(f"--out {out} exists; choose a new bag path (nothing was overwritten)")
    try:
        return write_sim_bag(cfg, out, duration, storage, compress, progress)
    except BaseException as exc:
        shutil.rmtree(out, ignore_errors=True)
        if isinstance(exc, ValueError):
            raise DataError(f"--images {cfg.images}: {exc}") from None
        raise
