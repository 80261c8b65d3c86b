"""A sink's writer thread: order, bounded queue, and failures on either side."""

from __future__ import annotations

import threading
import time

import pytest

from tilestream.io.background import Aborted, feed


def test_every_item_is_written_in_order_in_another_thread():
    seen, threads = [], set()

    def write(items):
        for item in items:
            threads.add(threading.current_thread().name)
            seen.append(item)

    feed(write, range(500), depth=3)
    assert seen == list(range(500))
    assert threads == {"tilestream-writer"}


def test_the_producer_runs_at_most_depth_items_ahead_of_a_slow_writer():
    produced, written, ahead = [], [], []

    def items():
        for n in range(40):
            produced.append(n)
            ahead.append(len(produced) - len(written))
            yield n

    def write(it):
        for n in it:
            time.sleep(0.002)
            written.append(n)

    feed(write, items(), depth=4)
    assert written == list(range(40))
    # queued (4) + the one the writer holds + the one being produced
    assert max(ahead) <= 4 + 2


def test_a_writer_error_stops_the_producer_and_reaches_the_caller():
    pulled = []

    def items():
        for n in range(10_000):
            pulled.append(n)
            yield n

    def write(it):
        for n in it:
            if n == 5:
                raise ValueError("disk full at 5")

    gen = items()
    with pytest.raises(ValueError, match="disk full at 5"):
        feed(write, gen, depth=2)
    assert len(pulled) < 20  # the decode stopped soon after
    assert gen.gi_frame is None  # and was closed


def test_a_producer_error_aborts_the_writer_which_cleans_up_before_the_error_propagates():
    cleaned = []

    def items():
        yield from range(3)
        raise KeyboardInterrupt

    def write(it):
        try:
            for _ in it:
                pass
        except Aborted:
            cleaned.append("discarded")
            raise

    with pytest.raises(KeyboardInterrupt):
        feed(write, items(), depth=8)
    assert cleaned == ["discarded"]


def test_a_writer_that_stops_early_ends_the_feed():
    def write(it):
        next(it)

    feed(write, range(100), depth=2)  # returns; nothing hangs
