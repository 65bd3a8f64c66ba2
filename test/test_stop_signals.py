"""The first SIGINT/SIGTERM stops once; a spinning loop is told, not interrupted; later signals do nothing."""

from __future__ import annotations

import os
import signal

import pytest

from waste_sorting.signals import StopRequested, install_stop_handlers


@pytest.fixture
def restore_handlers():
    saved = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    yield
    for s, h in saved.items():
        signal.signal(s, h)


def test_first_signal_raises_once_and_later_ones_are_ignored(restore_handlers):
    switch = install_stop_handlers()
    with pytest.raises(StopRequested):
        os.kill(os.getpid(), signal.SIGTERM)
        signal.sigtimedwait([], 0)  # a bytecode boundary for the handler to run at
    assert switch.requested.is_set()
    os.kill(os.getpid(), signal.SIGINT)  # teardown goes on undisturbed
    os.kill(os.getpid(), signal.SIGTERM)


def test_a_loop_that_watches_the_switch_is_told_not_interrupted(restore_handlers):
    switch = install_stop_handlers()
    switch.raises = False
    turns = 0
    while not switch.requested.is_set():
        turns += 1
        if turns == 3:
            os.kill(os.getpid(), signal.SIGINT)
        assert turns < 1000, "the signal never reached the switch"
    assert turns >= 3
