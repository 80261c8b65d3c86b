"""The wavefront takes each dependency's row reach from its description, not from samples."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tilestream.geometry import BlockGrid, Window
from tilestream.schedule import Runner, ScheduleError, demand, replay_plan, self_reading, wavefront
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


def test_the_row_reach_is_computed_once_and_only_when_asked():
    # a region read follows the dependencies of a few tasks: it must not plan every
    # task's window of a gigapixel grid just to build the stage
    grid = BlockGrid((ROWS, COLS), (1, 1))
    calls = []

    def window(i, j):
        calls.append((i, j))
        return grid.window(*_two_rows_back_in_column_1(i, j)[0])

    dep = Dep.through("a", window, grid, (ROWS, COLS))
    assert calls == []
    assert dep.chunks(4, 1) == [(2, 1)] and len(calls) == 1
    assert tuple(dep.rows) == (-2, 0) and dep.rows[0] == -2 and dep.rows[1] == 0
    assert len(calls) == 1 + ROWS * COLS  # every task's window, once
    assert repr(dep.rows) == "(-2, 0)" and dep.rows == (-2, 0)
    assert len(calls) == 1 + ROWS * COLS


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


def _above_and_left(i, j):
    return [(i - 1, j)] * (i > 0) + [(i, j - 1)] * (j > 0)


def _serial(ctx, i, j, a, s):
    """A serial context: its own value, plus everything above and to the left (mod a prime
    so that every row depends on every earlier one)."""
    ctx.append(("s", i))
    return Part(np.array((int(a[(i, j)].value) + sum(int(p.value) for p in s.values())) % 1_000_003))


def _counted_one(ctx, i, j):
    ctx.append(("a", i))
    return _one(ctx, i, j)


def _serial_stages():
    return [
        Stage("a", _counted_one),
        Stage("s", _serial, (Dep.own("a"), Dep("s", _above_and_left, (-1, 0))), writes=True),
        Stage("e", _sum, (Dep("s", lambda i, j: [(i, j)] + [(i - 1, j)] * (i > 0), (-1, 0)),), emit=True),
    ]


@settings(max_examples=25, deadline=None)
@given(band=st.integers(1, 3), stop=st.integers(0, 6))
def test_a_serial_context_resumes_from_its_saved_state_without_replaying_earlier_rows(band, stop):
    stages = _serial_stages()
    assert self_reading(stages) == {"s"}

    def run(**kw):
        calls: list[tuple[str, int]] = []
        runner = Runner(synchronous=True)
        runner.set_context(calls)
        states: dict[int, dict] = {}
        out = {r: [int(p.value) for p in row] for _, r, row in wavefront(
            stages, ROWS, COLS, runner, band=band, on_state=lambda t, parts: states.__setitem__(t, parts), **kw)}
        return out, calls, states

    full, _, states = run()
    start = stop + 1
    if start >= -(-ROWS // band):  # e reads s on its own row: lag 0, ROWS / band steps
        return
    resumed, calls, _ = run(start=start, preload=states[stop])
    assert resumed == {r: v for r, v in full.items() if r in resumed}  # every later row as before
    assert max(full) in resumed
    # the saved rows of s stand in for all of its earlier rows: s runs only where the steps
    # from `start` on compute it, a only where those read it
    first_s = start * band  # every stage has lag 0
    assert min(r for name, r in calls if name == "s") >= first_s
    assert min(r for name, r in calls if name == "a") >= first_s
    # without the state the serial stage replays every earlier row
    assert ("s", 0) in replay_plan(stages, ROWS, band, start)
    assert not replay_plan(stages, ROWS, band, start, {("s", start * band - 1)})


def _sum_batch(calls, ctx, indices, args):
    calls.append(list(indices))
    return [_sum(ctx, i, j, *a) for (i, j), a in zip(indices, args)]


@settings(max_examples=15, deadline=None)
@given(batch=st.integers(1, 7), band=st.integers(1, 3))
def test_a_batched_stage_gives_the_tasks_results_in_row_pieces(batch, band):
    from functools import partial

    grid = BlockGrid((ROWS, COLS), (1, 1))
    window = lambda i, j: grid.window(*_two_rows_back_in_column_1(i, j)[0])  # noqa: E731
    dep = Dep.through("a", window, grid, (ROWS, COLS))
    plain = [Stage("a", _one), Stage("b", _sum, (dep,), emit=True)]
    calls: list[list[tuple[int, int]]] = []
    batched = [Stage("a", _one), Stage("b", _sum, (dep,), emit=True, batch=partial(_sum_batch, calls))]
    runner = Runner(batch=batch)
    runner.set_context(None)
    got = {r: [int(p.value) for p in row] for _, r, row in wavefront(batched, ROWS, COLS, runner, band=band)}
    assert got == _run(plain, band)
    if batch == 1:
        assert calls == []  # one task per chunk
    else:  # every row cut into pieces of at most `batch` consecutive columns
        assert sorted(idx for c in calls for idx in c) == [(i, j) for i in range(ROWS) for j in range(COLS)]
        assert all(len(c) <= batch and len({i for i, _ in c}) == 1 for c in calls)
        assert len(calls) == ROWS * -(-COLS // batch)


@pytest.mark.parametrize("batch", [0, -1, 1.5, True])
def test_a_runner_refuses_a_bad_batch(batch):
    with pytest.raises(ValueError, match="batch must be a positive int"):
        Runner(batch=batch)


def test_an_emitted_row_is_not_held_by_the_wavefront_through_the_next_step():
    # a decode's rows of pixels are the largest values of a step: once the consumer has
    # them (and lets them go), the wavefront must not keep the row alive while it computes
    # the next one
    import gc
    import weakref

    emitted: dict[int, list] = {}
    alive_during: dict[int, int] = {}

    def pixels(ctx, i, j, a):
        if j == 0 and i - 1 in emitted:
            gc.collect()
            alive_during[i] = sum(ref() is not None for ref in emitted[i - 1])
        return Part(np.full(1000, sum(int(p.value) for p in a.values())))

    stages = [Stage("a", _one), Stage("p", pixels, (Dep("a", lambda i, j: [(i, j)], (0, 0)),), emit=True)]
    runner = Runner(synchronous=True)
    runner.set_context(None)
    for _, r, row in wavefront(stages, ROWS, COLS, runner):
        assert [int(p.value[0]) for p in row] == [100 * r + j for j in range(COLS)]
        emitted[r] = [weakref.ref(p.value) for p in row]
        del row
    assert alive_during == {r: 0 for r in range(1, ROWS)}


@pytest.mark.parametrize("synchronous", [True, False])
def test_a_result_read_for_the_last_time_is_dropped_when_its_readers_are_done(synchronous):
    # "b" reads the row of "a" above its own: in step t, a(t - 1) is read for the last
    # time. It must die once every b(t, ·) is done -- inside the step, so that a step's
    # new results do not pile up on top of the rows it is finishing with ("c" runs after
    # every b(t, ·) of the step and looks).
    import gc
    import weakref

    made: dict[tuple[int, int], weakref.ref] = {}
    alive_in_c: dict[int, int] = {}

    def a(ctx, i, j):
        value = np.full(1000, 100 * i + j)
        made[(i, j)] = weakref.ref(value)
        return Part(value)

    def b(ctx, i, j, above):
        return Part(np.array(sum(int(p.value[0]) for p in above.values())))

    def c(ctx, i, j, bs):
        gc.collect()
        if i > 0:
            alive_in_c[i] = sum(made[(i - 1, k)]() is not None for k in range(COLS))
        return Part(np.array(sum(int(p.value) for p in bs.values())))

    stages = [
        Stage("a", a),
        Stage("b", b, (Dep("a", lambda i, j: [(i + d, j) for d in (-1, 0) if i + d >= 0], (-1, 0)),)),
        Stage("c", c, (Dep("b", lambda i, j: [(i, k) for k in range(COLS)], (0, 0)),), emit=True, cols=1),
    ]
    runner = Runner(synchronous=synchronous, num_workers=2)
    runner.set_context(None)
    sums = {r: int(row[0].value) for _, r, row in wavefront(stages, ROWS, COLS, runner)}
    assert sums == {r: sum(100 * i + j for i in (r - 1, r) if i >= 0 for j in range(COLS)) for r in range(ROWS)}
    assert alive_in_c == {r: 0 for r in range(1, ROWS)}
