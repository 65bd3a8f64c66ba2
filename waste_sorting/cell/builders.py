"""Parameter values -> the core objects they configure; the one place a value set is checked as a whole.

Each builder raises ValueError with the reason when the values do not fit
together (a node then refuses the change, as `ros2 param set` shows it).
"""

from __future__ import annotations

from typing import Any

from waste_sorting.protocol.link import LinkConfig
from waste_sorting.scheduling.ejection import EjectorGeometry
from waste_sorting.simulation.belt import SimConfig
from waste_sorting.tracking.tracker import BinMap, TrackerConfig
from waste_sorting.vision.homography import Homography
from waste_sorting.vision.item_detector import DetectorConfig
from waste_sorting.vision.segmentation import SegmentationConfig

Values = dict[str, Any]


def detector_settings(v: Values) -> tuple[Homography, SegmentationConfig, DetectorConfig]:
    band = v["classify_band"]
    if len(band) != 2 or band[0] >= band[1]:
        raise ValueError("classify_band must be [low, high] with low < high")
    size = v["expected_size"]
    if len(size) != 2:
        raise ValueError("expected_size must be [width, height] ([0, 0]: any)")
    if v["item_share"] < v["stain_share"]:
        raise ValueError(f"item_share ({v['item_share']}) must be at least stain_share ({v['stain_share']})")
    return (
        Homography(v["homography"]),
        SegmentationConfig(threshold=v["threshold"], min_area_px=v["min_area_px"],
                           speck_area_px=v["speck_area_px"], max_area_fraction=v["max_area_fraction"],
                           downscale=v["downscale"],
                           split_touching=v["split_touching"], shade_min=v["shade_min"],
                           shade_chroma=v["shade_chroma"], stain_share=v["stain_share"],
                           item_share=v["item_share"], settle_frames=v["settle_frames"]),
        DetectorConfig(classify_band=(band[0], band[1]), max_classifications=v["max_classifications"],
                       max_belt_speed=v["max_belt_speed"], temperature=v["temperature"]),
    )


def ejector_geometry(v: Values) -> EjectorGeometry:
    geom = EjectorGeometry(
        x=list(v["ejector_x"]), valve_count=v["valve_count"], valve_pitch=v["valve_pitch"],
        y_center=v["valve_y_center"], latency=v["valve_latency"], pulse_margin=v["pulse_margin"],
        min_pulse=v["min_pulse"], max_pulse=v["max_pulse"], lateral_margin=v["lateral_margin"],
        mode=v["ejector_mode"])
    geom.validate()
    return geom


def tracker_settings(v: Values) -> tuple[TrackerConfig, BinMap, EjectorGeometry]:
    if v["view_x_max"] <= v["view_x_min"]:
        raise ValueError("view_x_max must be greater than view_x_min")
    geom = ejector_geometry(v)
    bins = BinMap(list(v["classes"]), list(v["bin_classes"]), list(v["bin_min_confidence"]))
    bins.validate()
    if len(bins.ejector_class) > len(geom.x):
        raise ValueError(f"{len(bins.ejector_class)} bins but only {len(geom.x)} ejectors in ejector_x")
    if min(geom.x) <= v["view_x_max"]:
        raise ValueError("every ejector must be downstream of the camera view (ejector_x > view_x_max)")
    cfg = TrackerConfig(view_x_min=v["view_x_min"], view_x_max=v["view_x_max"], gate_along=v["gate_along"],
                        gate_across=v["gate_across"], min_hits=v["min_hits"], max_unseen=v["max_unseen"],
                        min_lead=v["min_lead"], pick_lead=v["pick_lead"], overlap_policy=v["overlap_policy"],
                        decide_after=v["decide_after"], amend_tolerance=v["amend_tolerance"])
    if cfg.pick_lead < cfg.min_lead:
        raise ValueError("pick_lead must be >= min_lead")
    return cfg, bins, geom


def link_config(v: Values) -> LinkConfig:
    return LinkConfig(port=v["port"], baudrate=v["baudrate"], ack_timeout_s=v["ack_timeout"],
                      retries=v["retries"], heartbeat_s=v["heartbeat_period"])


def sim_config(v: Values, images: Any) -> SimConfig:
    """The simulated belt a camera driver with ``source: sim`` renders (``images``: the resolved folder)."""
    from waste_sorting.simulation.speed import SpeedProfile

    return SimConfig(images=images, subset=v["sim_subset"], width_px=v["width"], height_px=v["height"],
                     metres_per_px=v["sim_metres_per_px"], fps=v["fps"],
                     speed=SpeedProfile.parse(v["sim_belt_speed"]), items_per_second=v["sim_items_per_second"],
                     touching_p=v["sim_touching_p"], seed=v["sim_seed"], photo_aspect=v["sim_photo_aspect"])
