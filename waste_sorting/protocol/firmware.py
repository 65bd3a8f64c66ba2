"""The reference valve-controller firmware running in simavr: the second counterpart of the protocol.

`FirmwareController` builds the firmware and its harness (`make -C firmware/valve_controller`), runs
the real firmware image in simavr with UART0 on a pseudo-terminal, and turns the harness's record of
every valve output change into the pulses that really fired (controller time, from the simulated
pins). It has the interface of `EmulatorProcess`: ``start()`` gives the port, ``stop()`` the pulses.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

from waste_sorting.errors import UsageError
from waste_sorting.protocol.controller import Pulse
from waste_sorting.protocol.frames import FIRE, FrameDecoder, MsgType

PACKAGES = "gcc-avr avr-libc simavr libsimavr-dev libelf-dev"
BANKS, VALVES = 8, 32  # the firmware's valve banks (firmware/valve_controller/valve_controller.c)
MAX_PENDING = 32


def firmware_dir() -> Path:
    """The firmware's source folder (a source checkout; WASTE_SORTING_FIRMWARE names another)."""
    return Path(os.environ.get("WASTE_SORTING_FIRMWARE", Path(__file__).resolve().parents[2] / "firmware"
                               / "valve_controller"))


def toolchain_problem() -> str | None:
    """Why the firmware cannot be built and simulated here, or None."""
    missing = [tool for tool in ("avr-gcc", "avr-objcopy", "cc", "make") if shutil.which(tool) is None]
    if not Path("/usr/include/simavr/sim_avr.h").is_file():
        missing.append("libsimavr headers")
    if missing:
        return f"{', '.join(missing)} not found: install the Debian packages {PACKAGES}"
    if not (firmware_dir() / "valve_controller.c").is_file():
        return f"no firmware source in {firmware_dir()}"
    return None


def build() -> tuple[Path, Path]:
    """(firmware ELF, simavr harness), built if out of date."""
    problem = toolchain_problem()
    if problem:
        raise UsageError(f"cannot build the firmware: {problem}")
    src = firmware_dir()
    out = subprocess.run(["make", "-s", "-C", str(src)], capture_output=True, text=True)
    if out.returncode:
        raise UsageError(f"building the firmware failed:\n{out.stdout}{out.stderr}")
    return src / "build" / "valve_controller.elf", src / "build" / "valve_controller_sim"


class ValvePulses:
    """Valve output changes -> pulses, as they come: each run of valves that opened together and closed
    together is one pulse, at its controller time."""

    def __init__(self, t0_wall: float = 0.0) -> None:
        self.t0_wall = t0_wall
        self.state = [0] * BANKS
        self.opened: dict[tuple[int, int], int] = {}  # (bank, valve) -> us it opened
        self.pulses: list[Pulse] = []

    def edge(self, us: int, bank: int, word: int) -> None:
        closing: dict[int, list[int]] = {}  # start us -> valves of the bank closing now
        for v in range(VALVES):
            was, now = self.state[bank] >> v & 1, word >> v & 1
            if now and not was:
                self.opened[(bank, v)] = us
            elif was and not now:
                closing.setdefault(self.opened.pop((bank, v)), []).append(v)
        self.state[bank] = word
        for start, valves in sorted(closing.items()):
            runs = [[valves[0]]]
            for v in valves[1:]:
                (runs[-1].append(v) if v == runs[-1][-1] + 1 else runs.append([v]))
            for run in runs:
                self.pulses.append(Pulse(0, bank, run[0], len(run), self.t0_wall + start / 1e6, start,
                                         (us - start) / 1e6))


def pulses_from_edges(edges: list[tuple[int, int, int]], t0_wall: float) -> list[Pulse]:
    """The pulses of a whole record of valve changes (us, bank, valves), in the order they began."""
    tracker = ValvePulses(t0_wall)
    for edge in edges:
        tracker.edge(*edge)
    return sorted(tracker.pulses, key=lambda p: p.ctrl_time_us)


def _ahead_of_the_cell() -> None:
    """A real controller has a CPU of its own: the simulation goes ahead of the cell's processes where
    the host allows it (root), so that simulated time keeps up with the wall clock."""
    try:
        os.nice(-10)
    except OSError:
        pass


class FirmwareController:
    """The firmware in simavr on a pseudo-terminal, in step with the wall clock."""

    def __init__(self) -> None:
        self.elf, self.harness = build()
        self._proc: subprocess.Popen[str] | None = None
        self._edges: list[tuple[int, int, int]] = []
        self._pulses = ValvePulses()  # kept as the edges come: a long serve never re-reads them all
        self._received = bytearray()  # every byte the firmware received: its commands
        self._lock = threading.Lock()
        self.t0_wall = 0.0
        self.lag_us: int | None = None   # worst lag of simulated behind wall time, after stop()
        self.port = ""

    def start(self) -> str:
        self._proc = subprocess.Popen([str(self.harness), str(self.elf)], stdout=subprocess.PIPE,
                                      stderr=subprocess.DEVNULL, text=True, bufsize=1, preexec_fn=_ahead_of_the_cell)
        assert self._proc.stdout is not None
        for line in self._proc.stdout:
            if line.startswith("PTY "):
                self.port = line.split()[1]
                self.t0_wall = self._pulses.t0_wall = time.time()
                break
        if not self.port:
            raise UsageError("the firmware simulator did not start (no pseudo-terminal)")
        threading.Thread(target=self._read, daemon=True, name="firmware-edges").start()
        return self.port

    def _read(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        for line in self._proc.stdout:
            parts = line.split()
            if parts and parts[0] == "V" and len(parts) == 4:
                edge = (int(parts[1]), int(parts[2]), int(parts[3], 16))
                with self._lock:
                    self._edges.append(edge)
                    self._pulses.edge(*edge)
            elif parts and parts[0] == "R" and len(parts) == 2:
                with self._lock:
                    self._received.append(int(parts[1], 16))
            elif parts and parts[0] == "LAG":
                self.lag_us = int(parts[1])

    def pulses(self) -> list[Pulse]:
        with self._lock:
            return sorted(self._pulses.pulses, key=lambda p: p.ctrl_time_us)

    def commands(self) -> list[tuple[int, int, int, int, int]]:
        """Every FIRE the firmware received, once per sequence number: (seq, at_us, ejector, first, count)."""
        with self._lock:
            frames = FrameDecoder().feed(bytes(self._received))
        out: dict[int, tuple[int, int, int, int, int]] = {}
        for f in frames:
            if f.type == MsgType.FIRE:
                ejector, first, count, at, _, _ = FIRE.unpack(f.payload)
                out.setdefault(f.seq, (f.seq, at, ejector, first, count))
        return list(out.values())

    def fire_errors_us(self, window_us: int = 50_000) -> tuple[list[int], int]:
        """(for each FIRE whose valves opened, the pin edge minus the controller time it asked for, in us;
        how many FIREs no valve answered: refused, or replaced by an amendment before their time)."""
        with self._lock:
            edges = list(self._edges)
        state = [0] * BANKS
        rises: list[tuple[int, int, int]] = []  # (us, bank, valves that opened)
        for us, bank, word in edges:
            if word & ~state[bank]:
                rises.append((us, bank, word & ~state[bank]))
            state[bank] = word
        errors, unanswered = [], 0
        for _, at, ejector, first, count in self.commands():
            mask = ((1 << count) - 1) << first
            near = [us - at for us, bank, up in rises if bank == ejector and up & mask and abs(us - at) < window_us]
            if near:
                errors.append(min(near, key=abs))
            else:
                unanswered += 1
        return errors, unanswered

    def outputs(self) -> list[int]:
        """Each bank's valves now (bit v: valve v open)."""
        with self._lock:
            return list(self._pulses.state)

    def stop(self) -> list[Pulse]:
        """Stop the simulation; every pulse the firmware's pins showed."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.send_signal(signal.SIGTERM)
            try:
                self._proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        time.sleep(0.05)  # the reader takes the last lines
        return self.pulses()

    close = stop
