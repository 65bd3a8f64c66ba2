"""Valve-controller emulator: the firmware logic (`ControllerCore`) served on a pseudo-terminal.

It runs in real time: answers pings with its own clock (starting at its boot),
executes FIRE/PICK at the commanded controller time, and trips its watchdog
when heartbeats stop. Every executed pulse is recorded with its wall-clock
time so the simulator can tell where the item really was. Faults can be
injected for tests and demos.
"""

from __future__ import annotations

import itertools
import os
import random
import select
import threading
import time
import tty
from dataclasses import dataclass, replace

from waste_sorting.protocol.controller import ControllerCore, ControllerStats, Pulse
from waste_sorting.protocol.frames import HELLO, Frame, FrameDecoder, MsgType, encode_frame

__all__ = ["ControllerEmulator", "Faults", "Pulse"]


@dataclass
class Faults:
    """Fault injection (probabilities per reply frame)."""

    drop: float = 0.0
    corrupt: float = 0.0
    duplicate: float = 0.0
    delay_s: float = 0.0
    silent: bool = False


class ControllerEmulator:
    def __init__(self, ejectors: int = 8, valves_per_ejector: int = 32, watchdog_s: float = 0.5,
                 max_pending: int = 256, seed: int = 0) -> None:
        self._rng = random.Random(seed)
        self.core = ControllerCore(ejectors, valves_per_ejector, max_pending, self._rng.getrandbits(32))
        self.watchdog_s = watchdog_s
        self.faults = Faults()
        self.pulses: list[Pulse] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._decoder = FrameDecoder()
        self._boot = time.monotonic()
        self._last_rx = time.monotonic()
        self._tx_seq = itertools.count()
        self.master_fd = self.slave_fd = -1
        self.port = ""
        self._threads: list[threading.Thread] = []

    @property
    def stats(self) -> ControllerStats:
        return self.core.stats

    @property
    def armed(self) -> bool:
        return self.core.armed

    def now_us(self) -> int:
        return int((time.monotonic() - self._boot) * 1e6)

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
        self._send(MsgType.HELLO, HELLO.pack(self.core.boot_id))
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
        """Simulate a reboot: clock, pending work and sequence memory are lost; boots disarmed."""
        with self._lock:
            self.core.reboot(self._rng.getrandbits(32))
            self._boot = time.monotonic()
            self._decoder = FrameDecoder()
        self._send(MsgType.HELLO, HELLO.pack(self.core.boot_id))

    def pulses_snapshot(self) -> list[Pulse]:
        with self._lock:
            return list(self.pulses)

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
        copies = 2 if self.faults.duplicate and self._rng.random() < self.faults.duplicate else 1
        if self.faults.delay_s:  # a slow line delays every frame, without holding up the next one
            threading.Timer(self.faults.delay_s, self._write, (data * copies,)).start()
        else:
            self._write(data * copies)

    def _write(self, data: bytes) -> None:
        try:
            if self.master_fd >= 0:
                os.write(self.master_fd, data)
        except OSError:
            pass

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                ready, _, _ = select.select([self.master_fd], [], [], 0.02)
                chunk = os.read(self.master_fd, 4096) if ready else b""
            except (OSError, ValueError):
                return
            for frame in self._decoder.feed(chunk) if chunk else ():
                self._last_rx = time.monotonic()
                if self.faults.silent:
                    continue
                with self._lock:
                    reply = self.core.handle(frame, self.now_us())
                if frame.type in (MsgType.FIRE, MsgType.PICK):
                    self._wake.set()
                if reply is not None:
                    self._send(reply[0], reply[2], reply[1])
            if time.monotonic() - self._last_rx > self.watchdog_s:
                with self._lock:
                    self.core.watchdog()
                self._last_rx = time.monotonic()  # one trip per silence period

    def _execute(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                due = self.core.next_due_us
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
                for p in self.core.pop_due(self.now_us()):
                    self.pulses.append(replace(p, wall_time=time.time()))


def _serve_in_process(conn: object, kwargs: dict) -> None:  # pragma: no cover - runs in the child
    emu = ControllerEmulator(**kwargs)
    conn.send(emu.start())  # type: ignore[attr-defined]
    conn.recv()  # type: ignore[attr-defined]  # block until asked to stop
    pulses = emu.pulses_snapshot()
    emu.close()
    conn.send(pulses)  # type: ignore[attr-defined]


class EmulatorProcess:
    """The emulator in its own process, like a real controller: no shared GIL with the cell,
    so the pulses' timing is the emulated firmware's, not the host's scheduling."""

    def __init__(self, **kwargs: object) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        self._conn, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve_in_process, args=(child, kwargs), daemon=True)
        self.port = ""

    def start(self) -> str:
        self._proc.start()
        self.port = self._conn.recv()
        return self.port

    def stop(self) -> list[Pulse]:
        """Stop the emulator and return every pulse it executed."""
        if not self._proc.is_alive():
            return []
        self._conn.send("stop")
        pulses = self._conn.recv()
        self._proc.join(timeout=5)
        return pulses
