"""The wavefront takes each dependency's row reach from its description, not from samples."""

from __future__ import annotations

import numpy as np
import pytest

from tilestream.geometry import BlockGrid, Window
from tilestream.schedule import Runner, ScheduleError, demand, wavefront
from tilestream.stage import Dep, Part, Stage


def _one(ctx, i, j):
    return Part(np.array(100 * i + j))


def _sum(ctx, i, j, a):
    return Part(np.array(sum(int(p.value) for p in a.values())))


ROWS, COLS = 8, 5


def _two_rows_back_in_column_1(i, j):
    """Only column 1 reads two rows back: a column that sampling {0, 2, 4} misses."""
    return [(i - 2, j)] if j == 1 and i >= 2 else [(i, j)]


def _run(stages, band=1):
    runner = Runner()
    runner.set_context(None)
    return {r: [int(p.value) for p in row] for _, r, row in wavefront(stages, ROWS, COLS, runner, band=band)}


def test_dep_through_derives_the_row_reach_from_every_window():
    grid = BlockGrid((ROWS, COLS), (1, 1))
    window = lambda i, j: grid.window(*_two_rows_back_in_column_1(i, j)[0])  # noqa: E731
    assert Dep.through("a", window, grid, (ROWS, COLS)).rows == (-2, 0)


@pytest.mark.parametrize("band", [1, 3])
def test_a_reach_seen_in_one_column_only_is_honoured(band):
    grid = BlockGrid((ROWS, COLS), (1, 1))
    window = lambda i, j: grid.window(*_two_rows_back_in_column_1(i, j)[0])  # noqa: E731
    stages = [Stage("a", _one), Stage("b", _sum, (Dep.through("a", window, grid, (ROWS, COLS)),), emit=True)]
    got = _run(stages, band)
    expected = {i: [100 * idx[0] + idx[1] for j in range(COLS) for idx in _two_rows_back_in_column_1(i, j)] for i in range(ROWS)}
    assert got == expected


def test_an_understated_reach_fails_naming_the_task():
    stages = [Stage("a", _one), Stage("b", _sum, (Dep("a", _two_rows_back_in_column_1, (0, 0)),), emit=True)]
    with pytest.raises(ScheduleError, match=r"task b\(2, 1\) reads a\(0, 1\), outside the declared row reach \(0, 0\)"):
        _run(stages)


def test_demand_runs_each_needed_task_once_in_groups():
    grid = BlockGrid((ROWS, COLS), (1, 1))
    window = lambda i, j: Window.from_bounds(max(0, i - 1), i + 1, j, j + 1)  # noqa: E731
    stages = [Stage("a", _one), Stage("b", _sum, (Dep.through("a", window, grid, (ROWS, COLS)),))]
    runner = Runner()
    runner.set_context(None)
    stats: dict = {}
    targets = [("b", (3, 1)), ("b", (4, 1)), ("b", (4, 2))]
    out = dict(demand(stages, targets, runner, group=2, stats=stats))
    assert {k: int(v.value) for k, v in out.items()} == {("b", (3, 1)): 201 + 301, ("b", (4, 1)): 301 + 401, ("b", (4, 2)): 302 + 402}
    assert stats["tasks"] == {"a": 5, "b": 3}  # a(3, 1) is shared, computed once
