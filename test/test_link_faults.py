"""Fault injection over the real pty link: every command settles once, nothing executes twice or late."""

from __future__ import annotations

import os
import threading
import time

import pytest

from waste_sorting.protocol.emulator import ControllerEmulator
from waste_sorting.protocol.link import CommandResult, ControllerLink, LinkConfig, Outcome


def run_burst(emu: ControllerEmulator, link: ControllerLink, n: int, spacing: float = 0.02,
              lead: float = 0.25) -> dict[int, list[CommandResult]]:
    results: dict[int, list[CommandResult]] = {}
    lock = threading.Lock()
    for k in range(n):
        item = 1000 + k

        def done(r: CommandResult, item: int = item) -> None:
            with lock:
                results.setdefault(item, []).append(r)

        link.fire(k % 4, 0, 2, time.monotonic() + lead, 0.01, item, done)
        time.sleep(spacing)
    deadline = time.time() + 5
    while time.time() < deadline and len(results) < n:
        time.sleep(0.05)
    time.sleep(lead + 0.2)
    return results


def check_accounting(emu: ControllerEmulator, results: dict[int, list[CommandResult]], n: int) -> None:
    assert len(results) == n and all(len(r) == 1 for r in results.values()), "each command settles exactly once"
    executed = [p.item_id for p in emu.pulses_snapshot()]
    assert len(executed) == len(set(executed)), "a retried command was executed twice"
    acked = {item for item, (r,) in results.items() if r.outcome == Outcome.ACKED}
    assert acked <= set(executed), "an acknowledged command did not fire"
    refused = {item for item, (r,) in results.items() if r.outcome == Outcome.NAKED}
    assert not refused & set(executed), "a refused command fired"


@pytest.fixture
def cell():
    emu = ControllerEmulator(ejectors=4, valves_per_ejector=16, watchdog_s=0.5, seed=3)
    link = ControllerLink(LinkConfig(port=emu.start(), ack_timeout_s=0.02, retries=4, heartbeat_s=0.05),
                          log=lambda m: None)
    link.start()
    assert link.wait_ready(5.0)
    yield emu, link
    link.close()
    emu.close()


@pytest.mark.parametrize("fault", [
    {"drop": 0.3}, {"corrupt": 0.3}, {"duplicate": 0.5}, {"delay_s": 0.03}, {"drop": 0.15, "corrupt": 0.15,
                                                                              "duplicate": 0.2}])
def test_faulty_replies_never_cause_double_or_phantom_pulses(cell, fault):
    emu, link = cell
    for k, v in fault.items():
        setattr(emu.faults, k, v)
    results = run_burst(emu, link, 30)
    for k in fault:
        setattr(emu.faults, k, 0 if k != "silent" else False)
    check_accounting(emu, results, 30)
    outcomes = [r.outcome for (r,) in results.values()]
    assert outcomes.count(Outcome.ACKED) >= 20  # retries get most through
    assert link.stats.retries > 0 or "duplicate" in fault


def test_controller_that_stops_answering_is_detected_and_commands_fail_cleanly(cell):
    emu, link = cell
    emu.faults.silent = True
    time.sleep(link.cfg.link_timeout_s + 0.2)
    assert not link.connected
    results = run_burst(emu, link, 5, lead=0.1)
    assert all(r.outcome in (Outcome.TIMEOUT, Outcome.LINK_DOWN, Outcome.TOO_LATE) for (r,) in results.values())
    emu.faults.silent = False
    assert link.wait_ready(3.0), "link did not come back when the controller answered again"
    results = run_burst(emu, link, 5)
    assert all(r.outcome == Outcome.ACKED for (r,) in results.values())


def test_commands_are_never_resent_after_their_fire_time(cell):
    emu, link = cell
    emu.faults.drop = 1.0  # no replies at all
    results = run_burst(emu, link, 3, lead=0.03)
    emu.faults.drop = 0.0
    assert [r.outcome for (r,) in results.values()] == [Outcome.TOO_LATE] * 3


def test_port_vanishes_and_comes_back(tmp_path):
    """The controller's device disappears (cable pulled) and reappears at the same path."""
    path = str(tmp_path / "ttyCTRL")
    emu = ControllerEmulator(seed=1)
    os.symlink(emu.start(), path)
    logs: list[str] = []
    link = ControllerLink(LinkConfig(port=path, heartbeat_s=0.05, reconnect_max_s=0.2), log=logs.append)
    link.start()
    try:
        assert link.wait_ready(5.0)
        emu.close()
        os.remove(path)
        time.sleep(0.8)
        assert not link.connected and any("lost" in m or "unavailable" in m for m in logs)
        emu = ControllerEmulator(seed=2)
        os.symlink(emu.start(), path)
        assert link.wait_ready(5.0), "did not reconnect"
        assert link.stats.reconnects >= 1
        results = run_burst(emu, link, 3)
        assert all(r.outcome == Outcome.ACKED for (r,) in results.values())
    finally:
        link.close()
        emu.close()


def test_a_write_that_went_out_is_never_a_timeout_and_one_that_cannot_is():
    """pyserial's write_timeout raises when its deadline passed during a write that completed (a host
    too loaded to run the check in time): the frame went out, yet the link was dropped with every
    command in flight. A timeout must mean bytes still unwritten."""
    import serial

    from waste_sorting.protocol.link import write_all

    master, slave = os.openpty()
    port = serial.Serial(os.ttyname(slave), timeout=0.01, write_timeout=0)
    try:
        frame = bytes(range(40))
        write_all(port, frame, timeout=0.0)  # already past its deadline, and still not a timeout
        got = b""
        while len(got) < len(frame):
            got += os.read(master, 1024)
        assert got == frame
        # Nobody reads the other end: the pty's buffer fills and the rest is refused in time.
        t0 = time.monotonic()
        with pytest.raises(serial.SerialTimeoutException, match="bytes not taken in 0.05 s"):
            write_all(port, bytes(1 << 20), timeout=0.05)
        assert time.monotonic() - t0 < 2.0
    finally:
        port.close()
        os.close(master)
        os.close(slave)
