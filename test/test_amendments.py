"""Amended pick requests reach the controller only where they replace an accepted pulse, newest last."""

import numpy as np

from waste_sorting import itemlist
from waste_sorting.scheduling.amendments import Amend, PulseBook


def request(item: int, fire_time: float) -> np.void:
    rec = itemlist.empty(1)[0]
    rec["item_id"], rec["fire_time"] = item, fire_time
    return rec


def test_no_accepted_pulse_no_amendment():
    book = PulseBook()
    assert book.offer(request(1, 1.0)) == Amend.NO_PULSE  # never sent
    book.sending(2)
    book.settled(2, acked=False)  # refused (too late, link down...)
    assert book.offer(request(2, 1.0)) == Amend.NO_PULSE


def test_one_command_in_flight_per_item_and_the_newest_waiting_amendment_wins():
    book = PulseBook()
    book.sending(5)
    assert book.offer(request(5, 1.00)) == Amend.QUEUED  # the first command is not answered yet
    assert book.offer(request(5, 1.02)) == Amend.QUEUED
    nxt = book.settled(5, acked=True)
    assert nxt is not None and float(nxt["fire_time"]) == 1.02
    assert book.offer(request(5, 1.03)) == Amend.QUEUED  # 1.02 is in flight now
    assert book.settled(5, acked=True) is not None
    assert book.settled(5, acked=True) is None
    assert book.offer(request(5, 1.04)) == Amend.SEND


def test_a_refused_amendment_keeps_the_accepted_pulse_amendable():
    book = PulseBook()
    book.sending(7)
    book.settled(7, acked=True)
    assert book.offer(request(7, 1.0)) == Amend.SEND
    book.settled(7, acked=False)  # e.g. NAK too late: the controller kept the earlier pulse
    assert book.offer(request(7, 1.1)) == Amend.SEND


def test_a_first_command_refused_drops_the_amendment_waiting_behind_it():
    book = PulseBook()
    book.sending(3)
    assert book.offer(request(3, 1.0)) == Amend.QUEUED
    assert book.settled(3, acked=False) is None
    assert book.offer(request(3, 1.1)) == Amend.NO_PULSE


def test_the_book_is_bounded():
    book = PulseBook(capacity=10)
    for item in range(1, 100):
        book.sending(item)
        book.settled(item, acked=True)
    assert book.offer(request(1, 1.0)) == Amend.NO_PULSE
    assert book.offer(request(99, 1.0)) == Amend.SEND
