"""Freed heap memory goes back to the operating system after every local wavefront step."""

from __future__ import annotations

import platform
import sys

import numpy as np
import pytest

import tilestream.schedule as schedule
from tilestream.heap import release_free_memory
from tilestream.stage import Part, Stage


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc", reason="glibc only")
def test_glibc_trims_its_heap():
    assert release_free_memory() is True


def test_every_local_step_trims_the_heap(monkeypatch):
    calls = []
    monkeypatch.setattr(schedule, "release_free_memory", lambda: calls.append(1) or True)
    runner = schedule.Runner()
    runner.set_context(None)
    stages = [Stage("a", lambda ctx, i, j: Part(np.array(i)), emit=True)]
    rows = list(schedule.wavefront(stages, 4, 3, runner))
    assert [r for _, r, _ in rows] == [0, 1, 2, 3]
    assert len(calls) == 4  # one per step
