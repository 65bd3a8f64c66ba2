"""The actuate stage: pick requests -> controller commands -> one outcome per item.

What the actuator node and the offline tools do with every pick request.
A first request ends as exactly one fired record: SORTED when the controller
acknowledged its command, else MISSED with the reason (too late, disarmed,
queue full, link down, stopped). An AMENDED request (the tracker re-planned a
released pulse) is sent only to replace a pulse the controller accepted, one
command per item in flight (`PulseBook`); amendments are counted, not fired
again. The stage talks to a `CommandSender`: the serial link live, the
controller's firmware logic in simulated time offline.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Protocol

import numpy as np

from waste_sorting.itemlist import ItemFlags, ItemStatus, MissReason
from waste_sorting.protocol.commands import Command
from waste_sorting.protocol.frames import NakReason
from waste_sorting.protocol.link import CommandResult, Outcome
from waste_sorting.scheduling.amendments import Amend, PulseBook
from waste_sorting.scheduling.commands import command_for
from waste_sorting.scheduling.ejection import EjectorGeometry

NAK_REASONS = {NakReason.TOO_LATE: MissReason.TOO_LATE, NakReason.DISARMED: MissReason.STOPPED,
               NakReason.QUEUE_FULL: MissReason.EJECTOR_BUSY}
"""A controller's refusal as the item's miss reason (others: NAK)."""


class CommandSender(Protocol):
    """Where commands go: ``done`` gets exactly one result, now or later, from any thread."""

    @property
    def ready(self) -> bool:
        """Connected and clock-synchronised: a timed command can be sent."""
        ...

    def send(self, cmd: Command, fire_time: float, now: float, done: Callable[[CommandResult], None]) -> None:
        """Send ``cmd`` to execute at cell time ``fire_time`` (the cell's clock reads ``now``)."""
        ...


def outcome_of(result: CommandResult) -> tuple[ItemStatus, MissReason]:
    if result.outcome == Outcome.ACKED:
        return ItemStatus.SORTED, MissReason.NONE
    if result.outcome == Outcome.TOO_LATE:
        return ItemStatus.MISSED, MissReason.TOO_LATE
    if result.outcome == Outcome.NAKED:
        return ItemStatus.MISSED, NAK_REASONS.get(result.nak_reason, MissReason.NAK)  # type: ignore[arg-type]
    return ItemStatus.MISSED, MissReason.LINK_DOWN


def outcome_name(rec: np.void) -> str:
    """SORTED, or MISSED_<REASON>: how a fired record is counted, live and offline."""
    status, reason = ItemStatus(int(rec["status"])), MissReason(int(rec["reason"]))
    return status.name if reason == MissReason.NONE else f"{status.name}_{reason.name}"


class ActuateStage:
    def __init__(self, geometry: EjectorGeometry, min_lead: float, enabled: bool, sender: CommandSender,
                 clock: Callable[[], float], fired: Callable[[np.void], None]) -> None:
        self.geometry, self.min_lead, self.enabled = geometry, min_lead, enabled
        self.sender, self.clock = sender, clock  # clock: the cell's time (ROS time live, the bag's offline)
        self.fired = fired  # each first request's record, once, with its outcome
        self.book = PulseBook()
        self.outcomes: Counter[str] = Counter()  # SORTED, MISSED_<REASON>, AMENDED, AMEND_<WHY>
        self._lock = threading.Lock()

    def counts(self) -> dict[str, int]:
        """The outcomes so far (a copy, safe while commands settle on other threads)."""
        with self._lock:
            return dict(self.outcomes)

    def request(self, rec: np.void) -> None:
        """One pick request from the tracker (first or amended); ``rec`` is the stage's to change."""
        if int(rec["flags"]) & ItemFlags.AMENDED:
            with self._lock:
                verdict = self.book.offer(rec)
            if verdict == Amend.SEND:
                self._amend(rec)
            else:
                self._count(f"AMEND_{verdict.name}")
            return
        item = int(rec["item_id"])

        def done(result: CommandResult) -> None:
            self._settled(item, result.outcome == Outcome.ACKED)
            self._finish(rec, *outcome_of(result))

        with self._lock:
            self.book.sending(item)
        why = self._send(rec, done)
        if why is not None:
            self._settled(item, False)
            self._finish(rec, ItemStatus.MISSED, why)

    def _send(self, rec: np.void, done: Callable[[CommandResult], None]) -> MissReason | None:
        """Send the command for ``rec``, or say why it cannot go."""
        now = self.clock()
        cmd = command_for(rec, now, self.geometry, self.min_lead, self.enabled, self.sender.ready)
        if isinstance(cmd, MissReason):
            return cmd
        rec["valve_first"], rec["valve_count"] = cmd.valve_first, cmd.valve_count
        self.sender.send(cmd, float(rec["fire_time"]), now, done)
        return None

    def _amend(self, rec: np.void) -> None:
        """Replace an accepted pulse; a refused amendment leaves that pulse as it was."""
        item = int(rec["item_id"])

        def done(result: CommandResult) -> None:
            self._count("AMENDED" if result.outcome == Outcome.ACKED else f"AMEND_{result.outcome.name}")
            self._settled(item, result.outcome == Outcome.ACKED)

        why = self._send(rec, done)
        if why is not None:
            self._count(f"AMEND_{why.name}")
            self._settled(item, False)

    def _settled(self, item: int, acked: bool) -> None:
        with self._lock:
            waiting = self.book.settled(item, acked)
        if waiting is not None:
            self._amend(waiting)

    def _count(self, key: str) -> None:
        with self._lock:
            self.outcomes[key] += 1

    def _finish(self, rec: np.void, status: ItemStatus, reason: MissReason) -> None:
        rec["status"], rec["reason"] = status, reason
        self._count(outcome_name(rec))
        self.fired(rec)
