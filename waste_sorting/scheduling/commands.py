"""Turning a released pick request into a controller command, or a miss with its reason.

Shared by the actuator node and the offline evaluator, so both drop exactly
the same requests for exactly the same reasons.
"""

from __future__ import annotations

import numpy as np

from waste_sorting.itemlist import MissReason
from waste_sorting.protocol.commands import Command
from waste_sorting.protocol.frames import MsgType
from waste_sorting.scheduling.ejection import EjectorGeometry


def command_for(rec: np.void, now: float, geometry: EjectorGeometry, min_lead: float, enabled: bool,
                link_ready: bool) -> Command | MissReason:
    """The command to send for pick request ``rec`` at time ``now``, or why it cannot be sent."""
    ejector = int(rec["ejector"])
    if not enabled:
        return MissReason.STOPPED
    if not 0 <= ejector < len(geometry.x):
        return MissReason.NO_BIN
    if float(rec["fire_time"]) - now < min_lead:
        return MissReason.TOO_LATE
    if not link_ready:
        return MissReason.LINK_DOWN
    item = int(rec["item_id"])
    if geometry.mode == "robot":
        return Command(MsgType.PICK, ejector, 0, 0, item, 0.0, float(geometry.x[ejector]), float(rec["y"]))
    first, count = int(rec["valve_first"]), int(rec["valve_count"])
    if count <= 0:
        first, count = geometry.valves_for(float(rec["y"]), float(rec["width"]))
    return Command(MsgType.FIRE, ejector, first, count, item, float(rec["pulse"]))
