"""Host side of the serial link: framing, ACK/retry, heartbeat, clock sync, reconnect.

Commands are sent with a sequence number and retried with the *same* number
until ACK/NAK or the retry budget is spent; the controller answers a repeated
number without executing it again. Fire times are sent in the controller's
clock, estimated from PING/PONG round trips (the lowest-RTT recent sample
wins), so link latency and jitter do not move the pulse.
"""

from __future__ import annotations

import itertools
import math
import select
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum

import serial

from waste_sorting.protocol.commands import Command
from waste_sorting.protocol.frames import (
    ACK,
    HELLO,
    NAK,
    PING,
    PONG,
    Frame,
    FrameDecoder,
    MsgType,
    NakReason,
    encode_frame,
)

WRITE_TIMEOUT = 0.1  # s a frame may wait for the port to take it before the link counts as lost
UNAVAILABLE_REPEAT_S = 30.0  # how often a port that stays away is logged again


def write_all(port: serial.Serial, data: bytes, timeout: float) -> None:
    """Write every byte of ``data`` to a non-blocking port, or raise SerialTimeoutException.

    A timeout means bytes were still unwritten when it expired. pyserial's own
    ``write_timeout`` also raises when the deadline passed during a write that
    completed (a thread descheduled for 0.1 s on a loaded host): the frame went
    out, yet the link was dropped and every command in flight failed with it.
    """
    rest = memoryview(data)
    deadline = time.monotonic() + timeout
    while rest:
        _, ready, _ = select.select([], [port.fileno()], [], max(0.0, deadline - time.monotonic()))
        taken = (port.write(rest) or 0) if ready else 0
        if not taken and time.monotonic() >= deadline:
            raise serial.SerialTimeoutException(
                f"write timeout: {len(rest)} of {len(data)} bytes not taken in {timeout:g} s")
        rest = rest[taken:]


class Outcome(Enum):
    ACKED = "acked"
    NAKED = "naked"
    TIMEOUT = "timeout"
    LINK_DOWN = "link_down"
    TOO_LATE = "too_late"  # not acknowledged before its fire time: never resent late


@dataclass(frozen=True)
class CommandResult:
    seq: int
    outcome: Outcome
    nak_reason: NakReason | None = None


@dataclass
class LinkStats:
    sent: int = 0
    retries: int = 0
    acked: int = 0
    naked: int = 0
    timeouts: int = 0
    reconnects: int = 0
    controller_restarts: int = 0
    rtt_ms: float = float("nan")


@dataclass
class _InFlight:
    frame: Frame
    on_result: Callable[[CommandResult], None] | None
    deadline: float
    tries: int = 1
    due: float | None = None  # host monotonic fire time of a FIRE/PICK


@dataclass
class LinkConfig:
    port: str
    baudrate: int = 921600
    ack_timeout_s: float = 0.03
    retries: int = 3
    heartbeat_s: float = 0.1
    sync_period_s: float = 0.5
    reconnect_max_s: float = 2.0
    link_timeout_s: float = 0.5  # no reply for this long: link is down
    extra: dict = field(default_factory=dict)


class ControllerLink:
    def __init__(self, cfg: LinkConfig, log: Callable[[str], None] = print) -> None:
        self.cfg = cfg
        self.log = log
        self.stats = LinkStats()
        self._serial: serial.Serial | None = None
        self._decoder = FrameDecoder()
        self._seq = itertools.count(1)
        self._lock = threading.RLock()
        self._inflight: dict[int, _InFlight] = {}
        self._sync: deque[tuple[float, float]] = deque(maxlen=8)  # (rtt_s, offset_s)
        self._last_rx = 0.0
        self._boot_id: int | None = None
        self._stop = threading.Event()
        self._unavailable_logged = -math.inf
        self._threads: list[threading.Thread] = []
        self.on_controller_restart: Callable[[], None] | None = None
        #: Whether the host wants the controller armed; the heartbeat ACK reports its actual
        #: state and the link re-sends ARM/STOP until they agree (after boot, watchdog, restart).
        self.want_armed = True
        self.controller_armed: bool | None = None

    # -- state ---------------------------------------------------------------
    @property
    def connected(self) -> bool:
        return self._serial is not None and time.monotonic() - self._last_rx < self.cfg.link_timeout_s

    @property
    def synced(self) -> bool:
        return bool(self._sync)

    def controller_time_us(self, host_monotonic: float | None = None) -> int:
        """Controller clock (µs) at a host monotonic time, from the best sync sample."""
        if not self._sync:
            raise RuntimeError("clock not synchronised with the controller yet")
        t = time.monotonic() if host_monotonic is None else host_monotonic
        _, offset = min(self._sync)
        return int((t + offset) * 1e6)

    # -- life cycle ----------------------------------------------------------
    def start(self) -> None:
        for target in (self._reader, self._ticker):
            t = threading.Thread(target=target, daemon=True, name=f"link-{target.__name__}")
            t.start()
            self._threads.append(t)

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(timeout=2)
        self._drop_port("closed")

    def wait_ready(self, timeout: float = 5.0) -> bool:
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.connected and self.synced and self.controller_armed == self.want_armed:
                return True
            time.sleep(0.01)
        return False

    # -- commands ------------------------------------------------------------
    def send(self, mtype: MsgType, payload: bytes = b"",
             on_result: Callable[[CommandResult], None] | None = None, due: float | None = None) -> int:
        """Send a command; ``on_result`` gets exactly one outcome. ``due`` (host monotonic) stops
        retries of a timed command once its moment has passed."""
        seq = next(self._seq) & 0xFFFF
        frame = Frame(mtype, seq, payload)
        if self._serial is None:
            if on_result:
                on_result(CommandResult(seq, Outcome.LINK_DOWN))
            return seq
        with self._lock:
            if mtype != MsgType.PING:
                # Heartbeats are never retried: the next one is on its way anyway.
                tries = self.cfg.retries + 1 if mtype == MsgType.HEARTBEAT else 1
                self._inflight[seq] = _InFlight(frame, on_result, time.monotonic() + self.cfg.ack_timeout_s,
                                                tries, due)
        self._write(encode_frame(frame))
        self.stats.sent += 1
        return seq

    def send_timed(self, cmd: Command, fire_host_monotonic: float,
                   on_result: Callable[[CommandResult], None] | None = None) -> int:
        """Send a FIRE/PICK to execute at a host monotonic time (converted to the controller's clock)."""
        at = self.controller_time_us(fire_host_monotonic)
        return self.send(cmd.mtype, cmd.payload(at), on_result, due=fire_host_monotonic)

    def fire(self, ejector: int, valve_first: int, valve_count: int, fire_host_monotonic: float,
             duration_s: float, item_id: int, on_result: Callable[[CommandResult], None] | None = None) -> int:
        cmd = Command(MsgType.FIRE, ejector, valve_first, valve_count, item_id, duration_s)
        return self.send_timed(cmd, fire_host_monotonic, on_result)

    # -- internals -----------------------------------------------------------
    def _write(self, data: bytes) -> None:
        port = self._serial
        if port is None:
            return
        try:
            write_all(port, data, WRITE_TIMEOUT)
        except (serial.SerialException, OSError) as exc:
            self._drop_port(f"write failed: {exc}")

    def _open(self) -> bool:
        try:
            # Non-blocking writes (write_timeout=0); `write_all` waits for the port itself.
            self._serial = serial.Serial(self.cfg.port, self.cfg.baudrate, timeout=0.01, write_timeout=0)
        except (serial.SerialException, OSError) as exc:
            # Once, then every UNAVAILABLE_REPEAT_S while it stays away: not one line per retry.
            now = time.monotonic()
            if now - self._unavailable_logged >= UNAVAILABLE_REPEAT_S:
                self._unavailable_logged = now
                self.log(f"serial port {self.cfg.port} unavailable: {exc} (retrying; picks are missed "
                         "with LINK_DOWN until it answers)")
            self._serial = None
            return False
        self._decoder = FrameDecoder()
        self._sync.clear()
        self.controller_armed = None  # unknown until this controller's first heartbeat ACK
        self._last_rx = time.monotonic()
        self._unavailable_logged = -math.inf
        self.log(f"serial port {self.cfg.port} open")
        self._ping()
        return True

    def _drop_port(self, why: str) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            self.log("serial link closed" if self._stop.is_set() else f"serial link lost ({why})")
            try:
                port.close()
            except (serial.SerialException, OSError):
                pass
        self._fail_all(Outcome.LINK_DOWN)

    def _fail_all(self, outcome: Outcome) -> None:
        with self._lock:
            pending, self._inflight = self._inflight, {}
        for f in pending.values():
            if f.on_result:
                f.on_result(CommandResult(f.frame.seq, outcome))

    def _reader(self) -> None:
        backoff = 0.05
        while not self._stop.is_set():
            port = self._serial
            if port is None:
                if self._open():
                    backoff = 0.05
                    if self.stats.reconnects or self.stats.sent:
                        self.stats.reconnects += 1
                else:
                    self._stop.wait(backoff)
                    backoff = min(backoff * 2, self.cfg.reconnect_max_s)
                continue
            try:
                # Block for the first byte only, then take what is there: a fixed-size read
                # would sit out its timeout and skew the clock sync by an asymmetric delay.
                chunk = port.read(1)
                if chunk and port.in_waiting:
                    chunk += port.read(port.in_waiting)
            except (serial.SerialException, OSError, TypeError) as exc:
                self._drop_port(f"read failed: {exc}")
                continue
            if chunk:
                for frame in self._decoder.feed(chunk):
                    self._last_rx = time.monotonic()
                    self._on_frame(frame)

    def _on_frame(self, frame: Frame) -> None:
        if frame.type == MsgType.PONG:
            host_us, ctrl_us, boot_id = PONG.unpack(frame.payload)
            now = time.monotonic()
            rtt = now - host_us / 1e6
            if 0 <= rtt < 1.0:
                self._sync.append((rtt, ctrl_us / 1e6 - (host_us / 1e6 + rtt / 2)))
                self.stats.rtt_ms = rtt * 1e3
            self._note_boot(boot_id)
            return
        if frame.type == MsgType.HELLO:
            (boot_id,) = HELLO.unpack(frame.payload)
            self._note_boot(boot_id)
            return
        if frame.type in (MsgType.ACK, MsgType.NAK):
            seq, code = (ACK if frame.type == MsgType.ACK else NAK).unpack(frame.payload)
            with self._lock:
                inflight = self._inflight.pop(seq, None)
            if inflight is None:
                return  # a duplicate answer: already settled
            if inflight.frame.type == MsgType.HEARTBEAT:
                if frame.type == MsgType.ACK:
                    self.controller_armed = bool(code)
                    if self.controller_armed != self.want_armed:
                        self.send(MsgType.ARM if self.want_armed else MsgType.STOP)
                return
            if frame.type == MsgType.ACK:
                self.stats.acked += 1
                result = CommandResult(seq, Outcome.ACKED)
            else:
                self.stats.naked += 1
                result = CommandResult(seq, Outcome.NAKED, NakReason(code) if code in
                                       NakReason._value2member_map_ else None)
            if inflight.on_result:
                inflight.on_result(result)

    def _note_boot(self, boot_id: int) -> None:
        if self._boot_id is not None and boot_id != self._boot_id:
            self.stats.controller_restarts += 1
            self.log("controller restarted: clock re-synchronising")
            self._sync.clear()
            self.controller_armed = None
            self._ping()
            if self.on_controller_restart:
                self.on_controller_restart()
        self._boot_id = boot_id

    def _ping(self) -> None:
        seq = next(self._seq) & 0xFFFF
        self._write(encode_frame(Frame(MsgType.PING, seq, PING.pack(int(time.monotonic() * 1e6)))))

    def _ticker(self) -> None:
        next_hb = next_sync = 0.0
        while not self._stop.wait(0.005):
            now = time.monotonic()
            if self._serial is None:
                continue
            if now >= next_sync or not self._sync:
                self._ping()
                next_sync = now + (self.cfg.sync_period_s if self._sync else 0.05)
            if now >= next_hb:
                self.send(MsgType.HEARTBEAT)
                next_hb = now + self.cfg.heartbeat_s
            self._retry_expired(now)
            if now - self._last_rx > self.cfg.link_timeout_s and self._inflight:
                self._fail_all(Outcome.LINK_DOWN)

    def _retry_expired(self, now: float) -> None:
        expired: list[tuple[_InFlight, Outcome]] = []
        with self._lock:
            for seq, f in list(self._inflight.items()):
                if now < f.deadline:
                    continue
                if f.due is not None and now >= f.due:
                    del self._inflight[seq]
                    expired.append((f, Outcome.TOO_LATE))
                elif f.tries > self.cfg.retries:
                    del self._inflight[seq]
                    expired.append((f, Outcome.TIMEOUT))
                else:
                    f.tries += 1
                    f.deadline = now + self.cfg.ack_timeout_s
                    self.stats.retries += 1
                    self._write(encode_frame(f.frame))
        for f, outcome in expired:
            if f.frame.type == MsgType.HEARTBEAT:
                continue
            self.stats.timeouts += 1
            if f.on_result:
                f.on_result(CommandResult(f.frame.seq, outcome))
