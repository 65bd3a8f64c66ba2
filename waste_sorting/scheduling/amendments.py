"""Which items hold an accepted pulse, so an amended request goes only where it replaces one.

Shared by the actuator node and the offline evaluator. An amendment is sent
only for an item whose pulse the controller acknowledged, and one command per
item is in flight at a time: a retried older command that reached the
controller after a newer one would put the stale pulse back. An amendment that
arrives while one is in flight waits, and a newer one replaces it.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum

import numpy as np


class Amend(Enum):
    SEND = "send"            # send it now
    QUEUED = "queued"        # sent when the command in flight for the item settles
    NO_PULSE = "no_pulse"    # the item has no accepted pulse to replace: dropped


@dataclass
class _Entry:
    accepted: bool = False   # the controller holds a pulse for the item
    in_flight: bool = True
    queued: np.void | None = None


class PulseBook:
    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self._items: OrderedDict[int, _Entry] = OrderedDict()

    def sending(self, item_id: int) -> None:
        """An item's first command is on its way."""
        self._items[item_id] = _Entry()
        self._items.move_to_end(item_id)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def offer(self, rec: np.void) -> Amend:
        """What to do with an amended request now."""
        entry = self._items.get(int(rec["item_id"]))
        if entry is None or not (entry.accepted or entry.in_flight):
            return Amend.NO_PULSE
        if entry.in_flight:
            entry.queued = rec.copy()
            return Amend.QUEUED
        entry.in_flight = True
        return Amend.SEND

    def settled(self, item_id: int, acked: bool) -> np.void | None:
        """The item's command in flight was answered; returns a waiting amendment to send now.

        A refused amendment leaves the controller's pulse as it was, so only a
        first command's refusal means the item holds no pulse.
        """
        entry = self._items.get(item_id)
        if entry is None:
            return None
        entry.in_flight = False
        entry.accepted = entry.accepted or acked
        queued, entry.queued = entry.queued, None
        if queued is not None and entry.accepted:
            entry.in_flight = True
            return queued
        return None
