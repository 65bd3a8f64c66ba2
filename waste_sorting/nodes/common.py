"""Configuration objects built from node parameter values (shared by tracker, actuator, evaluator)."""

from __future__ import annotations

from typing import Any

from waste_sorting.scheduling.ejection import EjectorGeometry

HISTORY = 10_000  # recent outcomes and latencies a node keeps for diagnostics and reports (a shift runs for hours)


def ejector_geometry(v: dict[str, Any]) -> EjectorGeometry:
    geom = EjectorGeometry(
        x=list(v["ejector_x"]), valve_count=v["valve_count"], valve_pitch=v["valve_pitch"],
        y_center=v["valve_y_center"], latency=v["valve_latency"], pulse_margin=v["pulse_margin"],
        min_pulse=v["min_pulse"], max_pulse=v["max_pulse"], lateral_margin=v["lateral_margin"],
        mode=v["ejector_mode"])
    geom.validate()
    return geom
