"""Context models are scheduled by graph structure: independent chunks and phases run in
one dask computation with no path between them; dependent ones are ordered."""

from __future__ import annotations

import pytest

import tilestream
from tests.conftest import cached_model, photo
from tilestream import pipeline
from tilestream.schedule import Runner, wavefront


class RecordingRunner(Runner):
    """The threaded runner, recording each step's task graph before computing it."""

    def __init__(self):
        super().__init__()
        self.steps: list[dict[tuple[str, tuple[int, int]], set[str]]] = []
        self.keys: dict[str, tuple[str, tuple[int, int]]] = {}

    def finish(self):
        step: dict[tuple[str, tuple[int, int]], set[str]] = {}
        deps: dict[str, set[str]] = {}
        for stage, index, handle in self._pending:
            self.keys[str(handle.key)] = (stage, index)
            for k, v in handle.__dask_graph__().dependencies.items():
                deps.setdefault(str(k), set()).update(str(d) for d in v)
        for stage, index, handle in self._pending:
            step[(stage, index)] = _ancestors(str(handle.key), deps)
        self.steps.append({k: {self.keys[a] for a in v if a in self.keys} for k, v in step.items()})
        return super().finish()


def _ancestors(key: str, deps: dict[str, set[str]]) -> set[str]:
    seen: set[str] = set()
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
    tilestream.encode(photo("ladybird_213x317.png"), path, model=model, block=64, progress=False)
    reader = tilestream.container.ContainerReader(str(path))
    ctx = pipeline._context_for(reader, model, None, None)
    rows, cols = ctx.layout.grid_shape
    runner = RecordingRunner()
    runner.set_context(ctx)
    stages = pipeline._decode_stages(ctx, True)
    for _ in wavefront(stages, rows, cols, runner):
        pass
    return ctx, runner.steps, len(ctx.codec().phases)


def test_all_chunks_of_a_phase_in_a_row_run_in_one_step_independently(decode_steps):
    ctx, steps, phases = decode_steps
    rows, cols = ctx.layout.grid_shape
    for k in range(phases):
        for r in range(rows):
            tasks = {(f"phase-{k}", (r, j)) for j in range(cols)}
            holding = [s for s in steps if tasks <= set(s)]
            assert len(holding) == 1, f"phase {k} row {r} is split over steps"
            step = holding[0]
            for task in tasks:
                assert not (step[task] & tasks), f"{task} waits for another chunk of its phase"


def test_different_phases_of_different_chunks_run_concurrently(decode_steps):
    ctx, steps, phases = decode_steps
    found = set()
    for step in steps:
        for a, a_anc in step.items():
            for b, b_anc in step.items():
                if (
                    a[0].startswith("phase-") and b[0].startswith("phase-") and a[0] != b[0]
                    and a[1] != b[1] and b not in a_anc and a not in b_anc
                ):
                    found.add((a[0], b[0]))
    # e.g. phase k+1 of a row runs beside phase k of the row below it
    assert {(f"phase-{k + 1}", f"phase-{k}") for k in range(phases - 1)} <= found


def test_a_phase_runs_after_the_previous_phase_of_every_neighbour_it_reads(decode_steps):
    ctx, steps, phases = decode_steps
    step_of = {task: n for n, step in enumerate(steps) for task in step}
    lay = ctx.layout
    for k in range(1, phases):
        for (i, j), _ in lay.y_grid:
            task = (f"phase-{k}", (i, j))
            for nb in lay.y_grid.touching(ctx.context_window(k, i, j)):
                before = (f"phase-{k - 1}", nb)
                # an earlier step, or the same step with a graph edge to wait for
                assert step_of[before] < step_of[task] or before in steps[step_of[task]][task]
