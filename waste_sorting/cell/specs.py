"""Every node's parameters, declared once: name, type, default, unit, range, description.

A default that configures a core object is read from that object's dataclass
(`default_of`), so it is written in one place; the shipped params file and
`doc/parameters.md` are checked against these specs by the tests. Nodes declare
them as ROS parameters (so `ros2 param describe` explains each one), and
`evaluate`, `harvest` and `calibrate` read a params file through them.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from waste_sorting.data.photos import ASPECT_PARAM
from waste_sorting.inference.backend import BACKENDS
from waste_sorting.params import Param, default_of
from waste_sorting.protocol.link import LinkConfig
from waste_sorting.scheduling.ejection import EjectorGeometry
from waste_sorting.simulation.belt import SimConfig
from waste_sorting.tracking.tracker import TrackerConfig
from waste_sorting.vision.item_detector import DetectorConfig
from waste_sorting.vision.segmentation import SegmentationConfig

T, G, S, D, L, C = TrackerConfig, EjectorGeometry, SegmentationConfig, DetectorConfig, LinkConfig, SimConfig

# -- shared by several nodes (set under /** in the params file) -----------------
CLASSES = Param("classes", ["cardboard", "glass", "metal", "paper", "plastic", "trash"],
                "class names in model output order (checked against the model's metadata)")
EJECTOR = (
    Param("ejector_x", default_of(G, "x"), "valve line of each ejector along the belt", "m", 0.0, 50.0),
    Param("ejector_mode", default_of(G, "mode"), "air-jet valve banks or robot pickers",
          choices=("airjet", "robot")),
    Param("valve_count", default_of(G, "valve_count"), "valves per air-jet bank", "", 1, 255),
    Param("valve_pitch", default_of(G, "valve_pitch"), "distance between valve centres", "m", 0.001, 0.2),
    Param("valve_y_center", default_of(G, "y_center"), "belt y of the bank's centre", "m", -2.0, 2.0),
    Param("valve_latency", default_of(G, "latency"), "command-to-air latency compensated for", "s", 0.0, 0.2),
    Param("pulse_margin", default_of(G, "pulse_margin"), "extra air time around the item", "s", 0.0, 0.2),
    Param("min_pulse", default_of(G, "min_pulse"), "shortest pulse", "s", 0.001, 0.5),
    Param("max_pulse", default_of(G, "max_pulse"), "longest pulse", "s", 0.001, 2.0),
    Param("lateral_margin", default_of(G, "lateral_margin"), "extra valve coverage either side of the item",
          "m", 0.0, 0.2),
)

CAMERA = (
    Param("source", "device", "frame source", choices=("device", "video", "images", "sim"), read_only=True),
    Param("fps", default_of(C, "fps"), "frame rate", "Hz", 1.0, 240.0, read_only=True),
    Param("frame_id", "camera", "frame_id of published images"),
    Param("width", default_of(C, "width_px"), "frame width (sim; others are resized to it when > 0)", "px",
          0, 8192, read_only=True),
    Param("height", default_of(C, "height_px"), "frame height (sim; others are resized to it when > 0)", "px",
          0, 8192, read_only=True),
    Param("video_path", "", "video file for source=video", read_only=True),
    Param("loop", True, "loop a video file or image folder", read_only=True),
    Param("images_path", "", "image folder for source=images", read_only=True),
    Param("device", "0", "V4L2 index or GStreamer pipeline for source=device", read_only=True),
    Param("sim_images", "", "labelled image folder for the simulator ('' = shipped demo set)", read_only=True),
    Param("sim_subset", "all", "simulator images: all, or only the training holdout",
          choices=("all", "holdout"), read_only=True),
    Param("sim_belt_speed", "2.0", "true belt speed of the simulator: m/s or 't:v,t:v' profile",
          read_only=True),
    Param("sim_items_per_second", default_of(C, "items_per_second"), "items fed onto the simulated belt",
          "1/s", 0.0, 50.0, read_only=True),
    Param("sim_metres_per_px", default_of(C, "metres_per_px"), "simulated camera scale", "m/px", 1e-5, 0.1,
          read_only=True),
    Param("sim_touching_p", default_of(C, "touching_p"), "chance an item touches the previous one", "", 0.0,
          1.0, read_only=True),
    Param("sim_seed", default_of(C, "seed"), "simulator seed", "", 0, 2**31 - 1, read_only=True),
    dataclasses.replace(ASPECT_PARAM, name="sim_photo_aspect", read_only=True),
    Param("publish_encoder", True, "sim only: publish belt/encoder (travel, speed)"),
)

CLASSIFIER = (
    Param("model", "", "ONNX model ('' = the shipped default model)", read_only=True),
    Param("backend", "auto", "inference backend", choices=BACKENDS, read_only=True),
    Param("threads", 0, "CPU inference threads (0 = automatic)", "", 0, 64, read_only=True),
    CLASSES,
    Param("homography", [0.0016, 0.0, 0.0, 0.0, -0.0016, 0.288, 0.0, 0.0, 1.0],
          "pixel -> belt metres homography, row-major 3x3 (from calibration; the default is the simulated "
          "camera's)"),
    Param("threshold", default_of(S, "threshold"), "colour distance from the belt that counts as an item",
          "0-255", 1.0, 255.0),
    Param("min_area_px", default_of(S, "min_area_px"), "smallest item silhouette", "px", 1, 10_000_000),
    Param("speck_area_px", default_of(S, "speck_area_px"), "pale grey specks (dust) smaller than this are "
          "belt, unless they touch an item: they do not join an item and stretch it (0: off)", "px", 0, 10_000),
    Param("max_area_fraction", default_of(S, "max_area_fraction"), "a region larger than this share of the "
          "view is not an item but light the belt model did not follow; counted and said (raise it for items "
          "that large)", "", 0.01, 1.0),
    Param("downscale", default_of(S, "downscale"), "segmentation works on a frame reduced by this factor", "",
          1, 8),
    Param("split_touching", default_of(S, "split_touching"), "split touching items with a watershed"),
    Param("shade_min", default_of(S, "shade_min"), "darkest shade a stain or wet patch gives the belt (brightness "
          "ratio): darker pixels of the belt's own colour count as items (a belt_model whose stains were darker "
          "lowers it to them)", "", 0.0, 1.0),
    Param("shade_chroma", default_of(S, "shade_chroma"), "most colour change a shade of the belt may bring "
          "(relative chromaticity distortion); more counts as an item", "", 0.0, 1.0),
    Param("stain_share", default_of(S, "stain_share"), "a region with fewer of its pixels unlike a shade of the "
          "belt than this share is a stain: belt, not an item", "", 0.0, 1.0),
    Param("item_share", default_of(S, "item_share"), "an item seen with fewer than this share (at least "
          "stain_share) in most sightings is passed as PASSED/NOT_AN_ITEM, never fired at", "", 0.0, 1.0),
    Param("settle_frames", default_of(S, "settle_frames"), "frames of steady camera exposure before the belt "
          "model is taken and items are reported (0: from the first frame)", "", 0, 1000),
    Param("belt_model", "", "empty-belt model from `waste-sorting calibrate belt` ('' = learn it at start)",
          read_only=True),
    Param("classify_band", default_of(D, "classify_band"),
          "classify items whose centre is within this fraction of the width", "", 0.0, 1.0),
    Param("max_classifications", default_of(D, "max_classifications"), "classify an item at most this many "
          "times while it crosses the view (0: in every frame); later sightings still update its position", "",
          0, 1000),
    Param("max_belt_speed", default_of(D, "max_belt_speed"), "fastest belt speed to expect, for linking an "
          "item's sightings", "m/s", 0.1, 20.0),
    Param("temperature", default_of(D, "temperature"), "softmax temperature of the model's logits, fitted to a "
          "line's labelled items by `calibrate thresholds` (1: as trained; above 1: less sure)", "", 0.05, 20.0),
    Param("image_queue_depth", 1, "frames queued while busy; the oldest is dropped beyond this (1: always the "
          "newest frame)", "", 1, 100, read_only=True),
    Param("image_reliable", False, "subscribe to images RELIABLE (lossless replay; the publisher must be "
          "reliable too) instead of BEST_EFFORT (sensor data)", read_only=True),
    Param("expected_size", [default_of(C, "width_px"), default_of(C, "height_px")],
          "frame width and height the calibration is for ([0, 0]: any); frames of another size are rejected",
          "px", 0, 16384),
    Param("stall_timeout", 1.0, "no frame for this long: camera reported stalled", "s", 0.05, 60.0),
    Param("publish_debug_image", False, "publish classifier/debug_image with boxes and labels"),
)

TRACKER = (
    Param("belt_speed", 2.0, "configured belt speed (speed_source=fixed; while the items move at under half or "
          "over twice it, their measured speed is used)", "m/s", 0.0, 10.0),
    Param("speed_source", "fixed", "where belt speed comes from", choices=("fixed", "encoder", "estimated")),
    Param("encoder_ticks_per_metre", 0.0, "encoder counts per metre of belt (0: position is already in m)",
          "1/m", 0.0, 1e9),
    Param("encoder_joint", "", "JointState entry to read ('' = the first)"),
    Param("speed_mismatch_warn", 0.05, "warn when configured and measured speed differ by this fraction",
          "", 0.0, 1.0),
    CLASSES,
    Param("bin_classes", ["cardboard", "glass", "metal", "paper", "plastic"],
          "class each ejector sorts out (index = ejector); other classes go to residue"),
    Param("bin_min_confidence", [0.5, 0.5, 0.5, 0.5, 0.5],
          "confidence an item needs for each bin (1: the bin is closed, its items pass)", "", 0.0, 1.0),
    Param("view_x_min", default_of(T, "view_x_min"), "upstream edge of the camera view on the belt", "m",
          -10.0, 10.0),
    Param("view_x_max", default_of(T, "view_x_max"), "downstream edge of the camera view on the belt", "m",
          -10.0, 10.0),
    Param("gate_along", default_of(T, "gate_along"), "association gate along travel", "m", 0.001, 1.0),
    Param("gate_across", default_of(T, "gate_across"), "association gate across the belt", "m", 0.001, 1.0),
    Param("min_hits", default_of(T, "min_hits"), "sightings before an item counts", "", 1, 100),
    Param("max_unseen", default_of(T, "max_unseen"), "time a track may go unseen in view before it is decided",
          "s", 0.01, 10.0),
    Param("min_lead", default_of(T, "min_lead"), "shortest time between a pick request and its fire time", "s",
          0.0, 5.0),
    Param("overlap_policy", default_of(T, "overlap_policy"), "a pulse that would also eject a neighbour bound "
          "elsewhere: skip it (purity first) or fire anyway (recovery first)", choices=("skip", "fire")),
    Param("pick_lead", default_of(T, "pick_lead"), "release a pick request this long before its fire time "
          "(slack for a busy host; a belt speed change after release is followed by amendment)", "s", 0.0, 5.0),
    Param("amend_tolerance", default_of(T, "amend_tolerance"), "re-request a released pulse whose fire time "
          "moved by more than this (belt speed changed, newer sighting; the controller replaces it); 0: never",
          "s", 0.0, 1.0),
    Param("decide_after", default_of(T, "decide_after"), "decide an item once it has this many classified "
          "sightings, before it leaves the view (keep it equal to classifier max_classifications; 0: decide at "
          "the view's edge)", "", 0, 1000),
    *EJECTOR,
)

ACTUATOR = (
    Param("port", "/dev/ttyUSB0", "serial device of the valve controller / robot interface", read_only=True),
    Param("baudrate", default_of(L, "baudrate"), "serial baud rate", "baud", 1200, 12_000_000, read_only=True),
    Param("ack_timeout", default_of(L, "ack_timeout_s"), "time to wait for ACK before resending", "s", 0.001,
          1.0, read_only=True),
    Param("retries", default_of(L, "retries"), "resends before a command counts as lost", "", 0, 20,
          read_only=True),
    Param("heartbeat_period", default_of(L, "heartbeat_s"), "heartbeat interval (controller watchdog trips "
          "after ~5 missed)", "s", 0.01, 1.0, read_only=True),
    Param("min_lead", 0.005, "drop commands whose fire time is closer than this", "s", 0.0, 1.0),
    Param("enabled", True, "firing enabled (software stop when false)"),
    *EJECTOR,
)

CELL: dict[str, Sequence[Param]] = {"camera_driver": CAMERA, "classifier": CLASSIFIER, "tracker": TRACKER,
                                    "actuator": ACTUATOR}
"""Each node's specs by node name: what a params file for the cell may set."""


def parameter_table() -> str:
    """doc/parameters.md: every node's parameters as the specs declare them (a test keeps it current)."""
    lines = ["# Parameters", "",
             "Generated from `waste_sorting/cell/specs.py` (the one declaration of every parameter); "
             "the shipped [`config/sorting_cell.yaml`](../config/sorting_cell.yaml) sets each to this default. "
             "`ros2 param describe` and `waste-sorting param describe` print the same text.", ""]
    for node, node_specs in CELL.items():
        lines += [f"## {node}", "", "| parameter | default | unit | range | meaning |", "|---|---|---|---|---|"]
        for p in node_specs:
            bounds = f"{p.min:g} – {p.max:g}" if p.min is not None and p.max is not None else \
                ", ".join(p.choices) if p.choices else ""
            default = f'"{p.default}"' if p.default == "" else p.default
            meaning = p.description + (" (read-only at run time)" if p.read_only else "")
            lines.append(f"| `{p.name}` | {default} | {p.unit} | {bounds} | {meaning} |")
        lines.append("")
    return "\n".join(lines)
