"""The valve controller's firmware logic, independent of clock and transport.

The pty emulator drives it in real time; the offline evaluator drives it in
simulated time, so both execute commands exactly as the firmware would: at the
commanded controller time, once per sequence number, only when armed, never
late, and never after the watchdog has closed the valves. A FIRE/PICK naming
an item that already has a pulse pending on the same ejector replaces that
pulse: the host amends a pulse when the belt changes speed after it was sent.
An amendment that comes too late is refused and leaves the pending pulse as
it was.
"""

from __future__ import annotations

import heapq
import itertools
from collections import OrderedDict
from dataclasses import dataclass, field

from waste_sorting.protocol.frames import ACK, FIRE, NAK, PICK, PING, PONG, Frame, MsgType, NakReason


@dataclass(frozen=True)
class Pulse:
    """One executed valve pulse (valve_count 0: a robot pick at x, y)."""

    item_id: int
    ejector: int
    valve_first: int
    valve_count: int
    wall_time: float  # host-side time when the valves opened (the driver's clock)
    ctrl_time_us: int
    duration: float
    x: float = 0.0
    y: float = 0.0


@dataclass
class ControllerStats:
    frames_in: int = 0
    acks: int = 0
    naks: int = 0
    duplicates: int = 0
    watchdog_trips: int = 0
    cancelled: int = 0
    replaced: int = 0  # pending pulses amended by a later command for the same item and ejector
    boots: int = 1


@dataclass(order=True)
class _Pending:
    due_us: int
    order: int
    pulse: Pulse = field(compare=False)


Reply = tuple[MsgType, int, bytes]  # type, seq, payload


class ControllerCore:
    def __init__(self, ejectors: int = 8, valves_per_ejector: int = 32, max_pending: int = 256,
                 boot_id: int = 1) -> None:
        self.ejectors, self.valves, self.max_pending = ejectors, valves_per_ejector, max_pending
        self.boot_id = boot_id
        self.armed = False  # boots disarmed: the host must ARM it
        self.stats = ControllerStats()
        self._pending: list[_Pending] = []
        self._order = itertools.count()
        self._seen: OrderedDict[int, Reply] = OrderedDict()

    def reboot(self, boot_id: int) -> None:
        self._pending.clear()
        self._seen.clear()
        self.armed = False
        self.boot_id = boot_id
        self.stats.boots += 1

    @property
    def next_due_us(self) -> int | None:
        return self._pending[0].due_us if self._pending else None

    def watchdog(self) -> None:
        """Heartbeats stopped: close all valves, drop pending work, disarm."""
        self.stats.cancelled += len(self._pending)
        self._pending.clear()
        if self.armed:
            self.stats.watchdog_trips += 1
        self.armed = False

    def handle(self, frame: Frame, now_us: int) -> Reply | None:
        """Process one host frame; returns the reply to send (or None)."""
        self.stats.frames_in += 1
        if frame.type == MsgType.PING:
            (host_us,) = PING.unpack(frame.payload)
            return MsgType.PONG, frame.seq, PONG.pack(host_us, now_us, self.boot_id)
        if frame.type not in (MsgType.HEARTBEAT, MsgType.STOP, MsgType.ARM, MsgType.FIRE, MsgType.PICK):
            return None
        cached = self._seen.get(frame.seq)
        if cached is not None and frame.type in (MsgType.FIRE, MsgType.PICK):
            self.stats.duplicates += 1  # a retry: answer again, never execute twice
            return self._count(cached)
        reply = self._execute(frame, now_us)
        self._seen[frame.seq] = reply
        while len(self._seen) > 512:
            self._seen.popitem(last=False)
        return self._count(reply)

    def _count(self, reply: Reply) -> Reply:
        if reply[0] == MsgType.ACK:
            self.stats.acks += 1
        else:
            self.stats.naks += 1
        return reply

    @staticmethod
    def _ack(seq: int, state: int) -> Reply:
        return MsgType.ACK, seq, ACK.pack(seq, state)

    @staticmethod
    def _nak(seq: int, reason: NakReason) -> Reply:
        return MsgType.NAK, seq, NAK.pack(seq, int(reason))

    def _execute(self, frame: Frame, now_us: int) -> Reply:
        seq = frame.seq
        if frame.type == MsgType.HEARTBEAT:
            return self._ack(seq, int(self.armed))
        if frame.type == MsgType.STOP:
            self.stats.cancelled += len(self._pending)
            self._pending.clear()
            self.armed = False
            return self._ack(seq, 0)
        if frame.type == MsgType.ARM:
            self.armed = True
            return self._ack(seq, 1)
        if not self.armed:
            return self._nak(seq, NakReason.DISARMED)
        if frame.type == MsgType.FIRE:
            ejector, first, count, at_us, dur_us, item = FIRE.unpack(frame.payload)
            if ejector >= self.ejectors or count == 0 or first + count > self.valves:
                return self._nak(seq, NakReason.BAD_VALVES)
            pulse = Pulse(item, ejector, first, count, 0.0, at_us, dur_us / 1e6)
        else:
            ejector, x, y, at_us, item = PICK.unpack(frame.payload)
            if ejector >= self.ejectors:
                return self._nak(seq, NakReason.BAD_VALVES)
            pulse = Pulse(item, ejector, 0, 0, 0.0, at_us, 0.0, x, y)
        if at_us < now_us:
            return self._nak(seq, NakReason.TOO_LATE)
        if item:
            kept = [p for p in self._pending if (p.pulse.item_id, p.pulse.ejector) != (item, ejector)]
            if len(kept) < len(self._pending):
                self.stats.replaced += len(self._pending) - len(kept)
                self._pending = kept
                heapq.heapify(self._pending)
        if len(self._pending) >= self.max_pending:
            return self._nak(seq, NakReason.QUEUE_FULL)
        heapq.heappush(self._pending, _Pending(at_us, next(self._order), pulse))
        return self._ack(seq, 1)

    def pop_due(self, now_us: int) -> list[Pulse]:
        """Pulses whose time has come (their ``wall_time`` is left for the driver to set)."""
        out = []
        while self._pending and self._pending[0].due_us <= now_us:
            out.append(heapq.heappop(self._pending).pulse)
        return out
