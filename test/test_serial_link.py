"""The real serial path: pyserial on a pseudo-terminal to the controller emulator."""

import threading
import time

import pytest

from waste_sorting.protocol.emulator import ControllerEmulator
from waste_sorting.protocol.frames import FIRE, MsgType, NakReason
from waste_sorting.protocol.link import CommandResult, ControllerLink, LinkConfig, Outcome


@pytest.fixture
def cell():
    emu = ControllerEmulator(ejectors=4, valves_per_ejector=16, watchdog_s=0.3)
    port = emu.start()
    link = ControllerLink(LinkConfig(port=port, heartbeat_s=0.05), log=lambda m: None)
    link.start()
    assert link.wait_ready(5.0), "link did not come up"
    yield emu, link
    link.close()
    emu.close()


class Results:
    def __init__(self):
        self.items: list[CommandResult] = []
        self.event = threading.Event()

    def __call__(self, r: CommandResult) -> None:
        self.items.append(r)
        self.event.set()


def test_pulse_fires_at_the_commanded_time_not_on_arrival(cell):
    emu, link = cell
    res = Results()
    targets = []
    for k in range(5):
        t_fire = time.monotonic() + 0.15 + 0.05 * k
        wall_target = time.time() + (t_fire - time.monotonic())
        targets.append(wall_target)
        link.fire(1, 3, 4, t_fire, 0.04, item_id=100 + k, on_result=res)
    time.sleep(0.6)
    assert [r.outcome for r in res.items] == [Outcome.ACKED] * 5
    pulses = emu.pulses_snapshot()
    assert [p.item_id for p in pulses] == [100, 101, 102, 103, 104]
    errors_ms = [abs(p.wall_time - w) * 1e3 for p, w in zip(pulses, targets, strict=True)]
    print("pulse timing errors (ms):", [f"{e:.2f}" for e in errors_ms])
    assert max(errors_ms) < 15.0  # generous: thread wake-up on a loaded 2-core machine
    assert (pulses[0].valve_first, pulses[0].valve_count, pulses[0].duration) == (3, 4, pytest.approx(0.04))


def test_late_and_invalid_commands_are_refused(cell):
    emu, link = cell
    res = Results()
    link.fire(0, 0, 2, time.monotonic() - 0.05, 0.02, item_id=1, on_result=res)
    link.fire(0, 15, 4, time.monotonic() + 0.1, 0.02, item_id=2, on_result=res)  # valves 15..18 > 16
    deadline = time.time() + 2
    while len(res.items) < 2 and time.time() < deadline:
        time.sleep(0.01)
    reasons = sorted(r.nak_reason for r in res.items)
    assert reasons == sorted([NakReason.TOO_LATE, NakReason.BAD_VALVES])
    time.sleep(0.2)
    assert emu.pulses_snapshot() == []


def test_retried_sequence_number_is_never_executed_twice(cell):
    emu, link = cell
    res = Results()
    # Drop the controller's answers for a while: the host resends the same frame (same seq).
    emu.faults.drop = 1.0
    link.fire(2, 0, 1, time.monotonic() + 0.5, 0.02, item_id=7, on_result=res)
    time.sleep(link.cfg.ack_timeout_s * 2.5)
    emu.faults.drop = 0.0
    assert res.event.wait(2.0)
    assert res.items[0].outcome == Outcome.ACKED
    assert link.stats.retries >= 1 and emu.stats.duplicates >= 1
    time.sleep(0.6)
    assert [p.item_id for p in emu.pulses_snapshot()] == [7]


def _settle(res: Results, n: int) -> None:
    deadline = time.time() + 2
    while len(res.items) < n and time.time() < deadline:
        time.sleep(0.005)


def test_a_later_fire_for_the_same_item_replaces_its_pending_pulse(cell):
    """The host amends a pulse (the belt changed speed after it was sent): one pulse, at the new time."""
    emu, link = cell
    res = Results()
    t0 = time.monotonic()
    link.fire(1, 2, 3, t0 + 0.30, 0.03, item_id=41, on_result=res)
    link.fire(1, 4, 2, t0 + 0.30, 0.03, item_id=42, on_result=res)  # another item: kept
    link.fire(0, 2, 3, t0 + 0.30, 0.03, item_id=41, on_result=res)  # the same item at another ejector: kept
    _settle(res, 3)
    wall_new = time.time() + (t0 + 0.40 - time.monotonic())
    link.fire(1, 5, 3, t0 + 0.40, 0.05, item_id=41, on_result=res)
    _settle(res, 4)
    time.sleep(0.55 - (time.monotonic() - t0))
    assert [r.outcome for r in res.items] == [Outcome.ACKED] * 4
    pulses = sorted(emu.pulses_snapshot(), key=lambda p: (p.item_id, p.ejector))
    assert [(p.item_id, p.ejector) for p in pulses] == [(41, 0), (41, 1), (42, 1)]
    amended = pulses[1]
    assert (amended.valve_first, amended.valve_count, amended.duration) == (5, 3, pytest.approx(0.05))
    assert abs(amended.wall_time - wall_new) < 0.015
    assert emu.stats.replaced == 1


def test_an_amendment_too_late_leaves_the_pending_pulse(cell):
    emu, link = cell
    res = Results()
    t0 = time.monotonic()
    link.fire(2, 0, 2, t0 + 0.25, 0.02, item_id=9, on_result=res)
    _settle(res, 1)
    link.fire(2, 0, 2, time.monotonic() - 0.01, 0.02, item_id=9, on_result=res)
    _settle(res, 2)
    assert [r.outcome for r in res.items] == [Outcome.ACKED, Outcome.NAKED]
    assert res.items[1].nak_reason == NakReason.TOO_LATE
    time.sleep(0.35 - (time.monotonic() - t0))
    assert [p.item_id for p in emu.pulses_snapshot()] == [9]


def test_watchdog_closes_valves_when_heartbeats_stop():
    emu = ControllerEmulator(watchdog_s=0.2)
    port = emu.start()
    link = ControllerLink(LinkConfig(port=port, heartbeat_s=0.05), log=lambda m: None)
    link.start()
    assert link.wait_ready(5.0)
    link.fire(0, 0, 1, time.monotonic() + 0.8, 0.02, item_id=1)
    time.sleep(0.1)
    link.close()  # host dies: no more heartbeats
    time.sleep(1.0)
    assert emu.stats.watchdog_trips >= 1
    assert not emu.armed
    assert emu.pulses_snapshot() == []  # the pending pulse was cancelled, not fired blind
    emu.close()


def test_link_rearms_controller_after_restart(cell):
    emu, link = cell
    emu.restart()  # reboots disarmed with a new clock
    deadline = time.time() + 3
    while time.time() < deadline and not (emu.armed and link.synced and link.stats.controller_restarts):
        time.sleep(0.02)
    assert emu.armed and link.stats.controller_restarts == 1
    res = Results()
    link.fire(0, 0, 1, time.monotonic() + 0.1, 0.02, item_id=5, on_result=res)
    assert res.event.wait(2.0) and res.items[0].outcome == Outcome.ACKED


def test_software_stop_refuses_fire(cell):
    emu, link = cell
    link.want_armed = False
    res = Results()
    link.send(MsgType.STOP)
    time.sleep(0.1)
    link.fire(0, 0, 1, time.monotonic() + 0.2, 0.02, item_id=9, on_result=res)
    assert res.event.wait(2.0)
    assert res.items[0].outcome == Outcome.NAKED and res.items[0].nak_reason == NakReason.DISARMED
    time.sleep(0.3)
    assert emu.pulses_snapshot() == [] and not emu.armed


def test_fire_payload_carries_controller_clock(cell):
    _, link = cell
    t = time.monotonic() + 1.0
    ctrl = link.controller_time_us(t)
    payload = FIRE.pack(0, 0, 1, ctrl, 1000, 1)
    assert FIRE.unpack(payload)[3] == ctrl
    # The emulator's clock started at its boot, so it differs from the host clock by a large offset.
    assert abs(ctrl / 1e6 - t) > 1.0
