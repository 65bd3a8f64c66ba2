"""Valve-controller emulator: speaks the protocol on a pseudo-terminal.

It behaves like the firmware we expect on the line: it answers pings with its
own clock, executes FIRE/PICK at the commanded controller time (not when the
frame arrives), de-duplicates retried sequence numbers, refuses commands when
disarmed or late, and closes every valve and drops pending work when heartbeats
stop (watchdog). Every executed pulse is recorded with its wall-clock time so
the simulator can tell where the item really was.
"""

from __future__ import annotations

import heapq
import itertools
import os
import random
import select
import threading
import time
import tty
from collections import OrderedDict
from dataclasses import dataclass, field

from waste_sorting.protocol.frames import (
    ACK,
    FIRE,
    HELLO,
    NAK,
    PICK,
    PING,
    PONG,
    Frame,
    FrameDecoder,
    MsgType,
    NakReason,
    encode_frame,
)


@dataclass(frozen=True)
class Pulse:
    """One executed valve pulse (valve_count 0: a robot pick at x, y)."""

    item_id: int
    ejector: int
    valve_first: int
    valve_count: int
    wall_time: float  # time.time() when the valves opened
    ctrl_time_us: int
    duration: float
    x: float = 0.0
    y: float = 0.0


@dataclass
class Faults:
    """Fault injection for tests and demos (probabilities per frame)."""

    drop: float = 0.0
    corrupt: float = 0.0
    duplicate: float = 0.0
    delay_s: float = 0.0
    silent: bool = False


@dataclass
class EmulatorStats:
    frames_in: int = 0
    acks: int = 0
    naks: int = 0
    duplicates: int = 0
    watchdog_trips: int = 0
    cancelled: int = 0
    boots: int = 1


@dataclass(order=True)
class _Pending:
    due_us: int
    order: int
    pulse: Pulse = field(compare=False)


class ControllerEmulator:
    def __init__(self, ejectors: int = 8, valves_per_ejector: int = 32, watchdog_s: float = 0.5,
                 max_pending: int = 256, seed: int = 0) -> None:
        self.ejectors, self.valves = ejectors, valves_per_ejector
        self.watchdog_s, self.max_pending = watchdog_s, max_pending
        self.faults = Faults()
        self.stats = EmulatorStats()
        self.pulses: list[Pulse] = []
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._pending: list[_Pending] = []
        self._order = itertools.count()
        self._seen: OrderedDict[int, bytes] = OrderedDict()
        self._decoder = FrameDecoder()
        self._armed = False  # boots disarmed: the host must ARM it
        self._boot_id = self._rng.getrandbits(32)
        self._boot = time.monotonic()
        self._last_rx = time.monotonic()
        self._tx_seq = itertools.count()
        self.master_fd = -1
        self.slave_fd = -1
        self.port = ""
        self._threads: list[threading.Thread] = []

    # -- clock ---------------------------------------------------------------
    def now_us(self) -> int:
        return int((time.monotonic() - self._boot) * 1e6)

    # -- life cycle ----------------------------------------------------------
    def start(self) -> str:
        """Open the pty and serve it; returns the device path for the host."""
        self.master_fd, self.slave_fd = os.openpty()
        tty.setraw(self.master_fd)
        tty.setraw(self.slave_fd)
        self.port = os.ttyname(self.slave_fd)
        for target in (self._serve, self._execute):
            t = threading.Thread(target=target, daemon=True, name=f"emulator-{target.__name__}")
            t.start()
            self._threads.append(t)
        self._send(MsgType.HELLO, HELLO.pack(self._boot_id))
        return self.port

    def close(self) -> None:
        self._stop.set()
        self._wake.set()
        for t in self._threads:
            t.join(timeout=2)
        for fd in (self.master_fd, self.slave_fd):
            if fd >= 0:
                os.close(fd)
        self.master_fd = self.slave_fd = -1

    def restart(self) -> None:
        """Simulate a controller reboot: clock, pending work and dedup memory are lost."""
        with self._lock:
            self._pending.clear()
            self._seen.clear()
            self._armed = False
            self._boot = time.monotonic()
            self._boot_id = self._rng.getrandbits(32)
            self._decoder = FrameDecoder()
            self.stats.boots += 1
        self._send(MsgType.HELLO, HELLO.pack(self._boot_id))

    @property
    def armed(self) -> bool:
        return self._armed

    def pulses_snapshot(self) -> list[Pulse]:
        with self._lock:
            return list(self.pulses)

    # -- I/O -----------------------------------------------------------------
    def _send(self, mtype: MsgType, payload: bytes, seq: int | None = None) -> None:
        if self.faults.silent or self.master_fd < 0:
            return
        data = encode_frame(Frame(mtype, next(self._tx_seq) if seq is None else seq, payload))
        if self.faults.drop and self._rng.random() < self.faults.drop:
            return
        if self.faults.corrupt and self._rng.random() < self.faults.corrupt:
            b = bytearray(data)
            b[self._rng.randrange(2, len(b))] ^= 0xFF
            data = bytes(b)
        if self.faults.delay_s:
            time.sleep(self.faults.delay_s)
        try:
            os.write(self.master_fd, data)
            if self.faults.duplicate and self._rng.random() < self.faults.duplicate:
                os.write(self.master_fd, data)
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master_fd], [], [], 0.02)
            except (OSError, ValueError):
                return
            if ready:
                try:
                    chunk = os.read(self.master_fd, 4096)
                except OSError:
                    chunk = b""
                if chunk:
                    for frame in self._decoder.feed(chunk):
                        self._last_rx = time.monotonic()
                        self.stats.frames_in += 1
                        if not self.faults.silent:
                            self._handle(frame)
            if time.monotonic() - self._last_rx > self.watchdog_s:
                self._watchdog()

    def _watchdog(self) -> None:
        with self._lock:
            if self._pending:
                self.stats.cancelled += len(self._pending)
                self._pending.clear()
            if self._armed or not self.stats.watchdog_trips:
                self.stats.watchdog_trips += 1
            self._armed = False  # all valves closed; host must ARM again
        self._last_rx = time.monotonic()  # count one trip per silence period

    def _handle(self, frame: Frame) -> None:
        if frame.type == MsgType.PING:
            (host_us,) = PING.unpack(frame.payload)
            self._send(MsgType.PONG, PONG.pack(host_us, self.now_us(), self._boot_id), frame.seq)
            return
        if frame.type in (MsgType.HEARTBEAT, MsgType.STOP, MsgType.ARM, MsgType.FIRE, MsgType.PICK):
            with self._lock:
                cached = self._seen.get(frame.seq)
            if cached is not None and frame.type in (MsgType.FIRE, MsgType.PICK):
                self.stats.duplicates += 1  # a retry: answer again, never execute twice
                self._send_raw(cached)
                return
            reply = self._execute_command(frame)
            with self._lock:
                self._seen[frame.seq] = reply
                while len(self._seen) > 512:
                    self._seen.popitem(last=False)
            self._send_raw(reply)

    def _send_raw(self, reply: bytes) -> None:
        mtype, seq, payload = MsgType(reply[0]), int.from_bytes(reply[1:3], "little"), reply[3:]
        if mtype == MsgType.ACK:
            self.stats.acks += 1
        else:
            self.stats.naks += 1
        self._send(mtype, payload, seq)

    @staticmethod
    def _reply(mtype: MsgType, seq: int, code: int) -> bytes:
        payload = (ACK if mtype == MsgType.ACK else NAK).pack(seq, code)
        return bytes([int(mtype)]) + (seq & 0xFFFF).to_bytes(2, "little") + payload

    def _execute_command(self, frame: Frame) -> bytes:
        seq = frame.seq
        if frame.type == MsgType.HEARTBEAT:
            return self._reply(MsgType.ACK, seq, int(self._armed))
        if frame.type == MsgType.STOP:
            with self._lock:
                self.stats.cancelled += len(self._pending)
                self._pending.clear()
                self._armed = False
            return self._reply(MsgType.ACK, seq, 0)
        if frame.type == MsgType.ARM:
            self._armed = True
            return self._reply(MsgType.ACK, seq, 1)
        if not self._armed:
            return self._reply(MsgType.NAK, seq, NakReason.DISARMED)
        if frame.type == MsgType.FIRE:
            ejector, first, count, at_us, dur_us, item = FIRE.unpack(frame.payload)
            if ejector >= self.ejectors or count == 0 or first + count > self.valves:
                return self._reply(MsgType.NAK, seq, NakReason.BAD_VALVES)
            pulse = Pulse(item, ejector, first, count, 0.0, at_us, dur_us / 1e6)
        else:
            ejector, x, y, at_us, item = PICK.unpack(frame.payload)
            if ejector >= self.ejectors:
                return self._reply(MsgType.NAK, seq, NakReason.BAD_VALVES)
            pulse = Pulse(item, ejector, 0, 0, 0.0, at_us, 0.0, x, y)
        if at_us < self.now_us():
            return self._reply(MsgType.NAK, seq, NakReason.TOO_LATE)
        with self._lock:
            if len(self._pending) >= self.max_pending:
                return self._reply(MsgType.NAK, seq, NakReason.QUEUE_FULL)
            heapq.heappush(self._pending, _Pending(at_us, next(self._order), pulse))
        self._wake.set()
        return self._reply(MsgType.ACK, seq, 1)

    def _execute(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                due = self._pending[0].due_us if self._pending else None
            if due is None:
                self._wake.wait(0.05)
                self._wake.clear()
                continue
            wait = (due - self.now_us()) / 1e6
            if wait > 0.0005:
                self._wake.wait(min(wait, 0.05))
                self._wake.clear()
                continue
            with self._lock:
                if not self._pending or self._pending[0].due_us != due:
                    continue
                p = heapq.heappop(self._pending).pulse
                fired = Pulse(p.item_id, p.ejector, p.valve_first, p.valve_count,
                              time.time(), p.ctrl_time_us, p.duration, p.x, p.y)
                self.pulses.append(fired)
