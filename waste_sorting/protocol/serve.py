"""`waste-sorting controller-emulator`: serve the valve-controller protocol on a pseudo-terminal.

Prints every pulse as it is fired. With ``--link`` a symlink names the pty
for the actuator; it is removed on exit, whichever way the emulator stops
(Ctrl-C, SIGTERM from ``ros2 launch``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from waste_sorting.errors import UsageError
from waste_sorting.protocol.emulator import ControllerEmulator, Pulse
from waste_sorting.signals import StopRequested, ignore_stop_signals, install_stop_handlers


def describe(p: Pulse) -> str:
    kind = (f"valves {p.valve_first}-{p.valve_first + p.valve_count - 1}" if p.valve_count
            else f"pick at ({p.x:.3f}, {p.y:.3f})")
    return f"{p.wall_time:.3f} item {p.item_id} ejector {p.ejector} {kind} {p.duration * 1e3:.0f} ms"


STOP_GRACE_S = 1.0


class _PulsePrinter:
    """Prints each new pulse and each change of the armed state (where the controller tells it)."""

    def __init__(self, pulses: Callable[[], list[Pulse]], armed: Callable[[], bool] | None) -> None:
        self.pulses, self.armed_now = pulses, armed
        self.seen, self.armed = 0, armed() if armed else None

    def poll(self) -> None:
        pulses = self.pulses()
        for p in pulses[self.seen:]:
            print(describe(p), flush=True)
        self.seen = len(pulses)
        if self.armed_now is not None and self.armed_now() != self.armed:
            self.armed = self.armed_now()
            print("armed" if self.armed else "disarmed: every valve closed, pending pulses dropped", flush=True)


def serve(ejectors: int, valves: int, watchdog_s: float, link: Path | None, firmware: bool = False) -> None:
    """Serve until SIGINT or SIGTERM; the link, if any, exists exactly while the controller does.
    ``firmware``: the reference firmware in simavr instead of the Python emulator."""
    if link is not None and link.exists() and not link.is_symlink():
        raise UsageError(f"--link {link}: a file that is not a link is there; name another path")
    install_stop_handlers()
    emu: Any
    if firmware:
        from waste_sorting.protocol.firmware import FirmwareController

        emu = FirmwareController()
        port = emu.start()
        printer = _PulsePrinter(emu.pulses, None)
        print(f"valve controller firmware (simavr) listening on {port}", flush=True)
    else:
        emu = ControllerEmulator(ejectors=ejectors, valves_per_ejector=valves, watchdog_s=watchdog_s)
        port = emu.start()
        printer = _PulsePrinter(emu.pulses_snapshot, lambda: emu.core.armed)
        print(f"controller emulator listening on {port}", flush=True)
    try:
        if link is not None:
            tmp = link.with_name(f".{link.name}.{os.getpid()}")
            os.symlink(port, tmp)
            os.replace(tmp, link)  # atomic: an actuator never opens a half-made link
            print(f"linked {link} -> {port}", flush=True)
        try:
            while True:
                time.sleep(0.05)
                printer.poll()
        except (KeyboardInterrupt, StopRequested):
            # Ctrl-C reaches the cell's every process at once: answer the actuator's last STOP (every
            # valve closed) before going, as a real controller, which outlives its host, would.
            end = time.monotonic() + STOP_GRACE_S
            while time.monotonic() < end:
                time.sleep(0.05)
                printer.poll()
    finally:
        ignore_stop_signals()
        if link is not None and link.is_symlink() and os.readlink(link) == port:
            link.unlink()
        emu.close()
