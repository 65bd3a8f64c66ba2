"""Timed commands (FIRE, PICK) and their payloads, with the fire time left to the sender's clock."""

from __future__ import annotations

from dataclasses import dataclass

from waste_sorting.protocol.frames import FIRE, PICK, MsgType


@dataclass(frozen=True)
class Command:
    mtype: MsgType
    ejector: int
    valve_first: int
    valve_count: int
    item_id: int
    duration: float
    x: float = 0.0
    y: float = 0.0

    def payload(self, at_us: int) -> bytes:
        if self.mtype == MsgType.PICK:
            return PICK.pack(self.ejector, self.x, self.y, at_us, self.item_id & 0xFFFFFFFF)
        return FIRE.pack(self.ejector, self.valve_first, self.valve_count, at_us, int(self.duration * 1e6),
                         self.item_id & 0xFFFFFFFF)
