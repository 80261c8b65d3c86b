"""Context models are scheduled by graph structure: independent chunks and phases run in
one dask computation with no path between them; dependent ones are ordered."""

from __future__ import annotations

import pytest

import tilestream
from tests.conftest import cached_model, photo
from tilestream import pipeline
from tilestream.pipeline.stages import decode_stages
from tilestream.schedule import Runner, wavefront
from tilestream.stage import Names


class RecordingRunner(Runner):
    """The threaded runner, recording each step's task graph before computing it."""

    def __init__(self):
        super().__init__()
        self.steps: list[dict[tuple[str, tuple[int, int]], set[tuple[str, tuple[int, int]]]]] = []

    def finish(self):
        deps = self.dependencies()
        self.steps.append({key: _ancestors(key, deps) for key in deps})
        return super().finish()


def _ancestors(key, deps):
    seen = set()
    todo = list(deps.get(key, ()))
    while todo:
        k = todo.pop()
        if k not in seen:
            seen.add(k)
            todo.extend(deps.get(k, ()))
    return seen


@pytest.fixture(scope="module", params=["cheng2020-anchor-checkerboard", "elic2022-official"])
def decode_steps(request, tmp_path_factory):
    name = request.param
    model = cached_model(name)
    path = tmp_path_factory.mktemp(name) / "c.tsz"
    tilestream.encode(photo("ladybird_213x317.png"), path, model=model, block=64, chunk=64, progress=False)
    reader = tilestream.container.ContainerReader(str(path))
    ctx = pipeline.coded_context(reader, model)
    rows, cols = ctx.layout.grid_shape
    runner = RecordingRunner()
    runner.set_context(ctx)
    stages = decode_stages(ctx)
    for _ in wavefront(stages, rows, cols, runner):
        pass
    return ctx, runner.steps, len(ctx.codec().phases)


def test_all_chunks_of_a_phase_in_a_row_run_in_one_step_independently(decode_steps):
    ctx, steps, phases = decode_steps
    rows, cols = ctx.layout.grid_shape
    for k in range(phases):
        for r in range(rows):
            tasks = {(Names.phase(k), (r, j)) for j in range(cols)}
            holding = [s for s in steps if tasks <= set(s)]
            assert len(holding) == 1, f"phase {k} row {r} is split over steps"
            step = holding[0]
            for task in tasks:
                assert not (step[task] & tasks), f"{task} waits for another chunk of its phase"


def test_different_phases_of_different_chunks_run_concurrently(decode_steps):
    ctx, steps, phases = decode_steps
    found = set()
    phase_names = {Names.phase(k) for k in range(phases)}
    for step in steps:
        for a, a_anc in step.items():
            for b, b_anc in step.items():
                if (
                    a[0] in phase_names and b[0] in phase_names and a[0] != b[0]
                    and a[1] != b[1] and b not in a_anc and a not in b_anc
                ):
                    found.add((a[0], b[0]))
    # e.g. phase k+1 of a row runs beside phase k of the row below it
    assert {(Names.phase(k + 1), Names.phase(k)) for k in range(phases - 1)} <= found


def test_a_phase_runs_after_the_previous_phase_of_every_neighbour_it_reads(decode_steps):
    ctx, steps, phases = decode_steps
    step_of = {task: n for n, step in enumerate(steps) for task in step}
    lay = ctx.layout
    codec = ctx.codec()
    for k in range(1, phases):
        for (i, j), _ in lay.y_grid:
            task = (Names.phase(k), (i, j))
            for nb in lay.y_grid.touching(codec.context_window(k, lay.y_window(i, j))):
                before = (Names.phase(k - 1), nb)
                # an earlier step, or the same step with a graph edge to wait for
                assert step_of[before] < step_of[task] or before in steps[step_of[task]][task]
