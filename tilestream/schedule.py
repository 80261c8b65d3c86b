"""A row wavefront over block-grid stages, run on dask (threads or a distributed client).

A codec is a few *stages* over the same block grid (e.g. ``y`` → ``z`` → ``code``). A task
of one stage reads chunks of earlier stages within a few rows of its own. Running the whole
grid as one graph would let results pile up; instead the grid advances one step at a time:
at step ``t`` stage ``s`` computes row ``t − lag(s)``, where the lags follow from how far
ahead each stage reads. Each step is one dask computation (all tasks of the step run in
parallel, within-step dependencies included), and a row is released as soon as no later
task reads it. Memory is therefore bounded by a few rows of chunks, whatever the image size.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Stage", "Runner", "wavefront"]

Index = tuple[int, int]


@dataclass
class Stage:
    """One stage over a ``rows × cols`` grid.

    Parameters
    ----------
    name : str
        Unique name.
    fn : callable
        ``fn(ctx, i, j, *dep_dicts)``; each dep dict maps chunk indices of a producer
        stage to their values.
    deps : dict
        Producer stage name → function ``(i, j) → list of (i', j')`` it reads.
    emit : bool
        Results are yielded to the caller (row by row, in order) instead of kept.
    report : callable, optional
        Maps a result to an int to add up (e.g. bytes written).
    cols : int, optional
        Columns of this stage's grid when it differs from the others' (sheared tiles);
        its rows are the same.

    A stage may read itself (``deps`` naming its own name) in rows above or on its row to
    the left: a serial context coded as a wavefront. Those tasks of one row then run in
    one dask computation with their chain of dependencies.
    """

    name: str
    fn: Callable[..., Any]
    deps: dict[str, Callable[[int, int], list[Index]]] = field(default_factory=dict)
    emit: bool = False
    report: Callable[[Any], int] | None = None
    cols: int | None = None


class Runner:
    """Runs the tasks of one step on the threaded scheduler or a distributed client."""

    def __init__(self, client: Any = None, num_workers: int | None = None):
        self.client = client
        self.num_workers = num_workers
        self._pending: list[tuple[str, Index, Any]] = []
        self._ctx: Any = None

    def set_context(self, ctx: Any) -> None:
        """Ship the context once (scattered to every worker on a cluster)."""
        if self.client is not None:
            self._ctx = self.client.scatter(ctx, broadcast=True, hash=False)
        else:
            import dask

            self._ctx = dask.delayed(ctx, name=f"ctx-{uuid.uuid4().hex}")

    def submit(self, stage: str, index: Index, fn: Callable[..., Any], *args: Any) -> Any:
        if self.client is not None:
            handle = self.client.submit(fn, self._ctx, *index, *args, pure=False)
        else:
            import dask

            handle = dask.delayed(fn, pure=False)(self._ctx, *index, *args)
        self._pending.append((stage, index, handle))
        return handle

    def finish(self) -> dict[tuple[str, Index], Any]:
        """Compute everything submitted since the last call; return results by key."""
        pending, self._pending = self._pending, []
        if not pending:
            return {}
        if self.client is not None:
            from distributed import wait

            futures = [h for _, _, h in pending]
            wait(futures)
            for future in futures:
                if future.status == "error":
                    raise future.exception()
            return {(s, i): h for s, i, h in pending}
        import dask

        kwargs: dict[str, Any] = {"scheduler": "threads"}
        if self.num_workers:
            kwargs["num_workers"] = self.num_workers
        values = dask.compute(*[h for _, _, h in pending], **kwargs)
        return {(s, i): v for (s, i, _), v in zip(pending, values)}

    def report(self, fn: Callable[[Any], int], values: list[Any]) -> int:
        """Sum ``fn`` over results (computed where the results live)."""
        if self.client is not None:
            return int(sum(self.client.gather([self.client.submit(fn, v) for v in values])))
        return int(sum(fn(v) for v in values))


def _reach(stages: list[Stage], rows: int, cols: int) -> dict[tuple[str, str], tuple[int, int]]:
    """Min and max row offset (producer row − consumer row) of every dependency edge."""
    reach: dict[tuple[str, str], tuple[int, int]] = {}
    for stage in stages:
        for producer, chunks in stage.deps.items():
            lo, hi = 0, 0
            first = True
            width = stage.cols or cols
            for i in range(rows):
                for j in sorted({0, width // 2, width - 1}):
                    for pi, _ in chunks(i, j):
                        d = pi - i
                        lo, hi = (d, d) if first else (min(lo, d), max(hi, d))
                        first = False
            reach[(producer, stage.name)] = (lo, hi)
    return reach


def wavefront(
    stages: list[Stage],
    rows: int,
    cols: int,
    runner: Runner,
    progress: Callable[[int], None] | None = None,
    stats: dict[str, int] | None = None,
    band: int = 1,
) -> Iterator[tuple[str, int, list[Any]]]:
    """Run ``stages`` over the grid; yield ``(stage, row, results)`` for emitting stages
    and ``("report", 0, [total])`` at the end with the sum of all reports.

    ``stats``, if given, receives ``max_live``: the largest number of task results held
    at once (bounded by a few rows, whatever the number of rows).

    ``band`` rows of every stage run per step (default 1). A larger band holds ``band``
    times more rows but lets a stage that reads its own row above (a serial context) run
    several rows at once as a skewed wavefront inside one dask computation.
    """
    if band < 1:
        raise ValueError(f"band must be at least 1, got {band}")
    names = [s.name for s in stages]
    by_name = {s.name: s for s in stages}
    reach = _reach(stages, rows, cols)
    lag: dict[str, int] = {}
    for stage in stages:
        for p in stage.deps:
            if p == stage.name:
                if reach[(p, p)][1] > 0:
                    raise ValueError(f"stage {p} reads itself in a later row")
            elif p not in lag or names.index(p) >= names.index(stage.name):
                raise ValueError(f"stage {stage.name} reads {p}, which is not an earlier stage")
        lag[stage.name] = max(
            [0] + [lag[p] + reach[(p, stage.name)][1] for p in stage.deps if p in lag]
        )
    results: dict[str, dict[Index, Any]] = {s.name: {} for s in stages}
    consumers = {s.name: [c for c in stages if s.name in c.deps] for s in stages}
    total = 0
    steps = -(-(rows + max(lag.values())) // band)
    for t in range(steps):
        active: list[tuple[Stage, int]] = []
        for stage in stages:
            for r in range(max(0, t * band - lag[stage.name]), min(rows, (t + 1) * band - lag[stage.name])):
                active.append((stage, r))
                for j in range(stage.cols or cols):
                    args = [
                        {idx: results[p][idx] for idx in chunks(r, j)}
                        for p, chunks in stage.deps.items()
                    ]
                    handle = runner.submit(stage.name, (r, j), stage.fn, *args)
                    results[stage.name][(r, j)] = handle
        done = runner.finish()
        for (name, index), value in done.items():
            results[name][index] = value
        for stage, r in active:
            row = [results[stage.name][(r, j)] for j in range(stage.cols or cols)]
            if stage.report is not None:
                total += runner.report(stage.report, row)
            if stage.emit:
                if runner.client is not None:
                    row = runner.client.gather(row)
                yield stage.name, r, row
            if progress is not None:
                progress(len(row))
        # release rows nobody will read again
        for stage in stages:
            users = consumers[stage.name]
            keep_from = min(
                [(t + 1) * band - lag[c.name] + reach[(stage.name, c.name)][0] for c in users]
                or [(t + 1) * band]
            )
            for index in [k for k in results[stage.name] if k[0] < keep_from]:
                del results[stage.name][index]
        if stats is not None:
            live = sum(len(v) for v in results.values())
            stats["max_live"] = max(stats.get("max_live", 0), live)
    yield "report", 0, [total]


def demand(
    stages: list[Stage],
    targets: list[tuple[str, Index]],
    ctx: Any,
    stats: dict[str, Any] | None = None,
) -> Iterator[tuple[tuple[str, Index], Any]]:
    """Compute only what ``targets`` need, in this process; yield ``(target, value)`` in order.

    The dependencies of every target are followed back through ``deps`` (across stages and
    phases); each task runs once, in an order where its inputs come first, and its result is
    dropped as soon as no remaining task reads it. ``stats``, if given, receives ``tasks``:
    how many tasks of each stage ran, and ``ran``: the set of ``(stage, index)`` keys.
    """
    by_name = {s.name: s for s in stages}
    position = {s.name: n for n, s in enumerate(stages)}
    edges: dict[tuple[str, Index], list[tuple[str, list[Index]]]] = {}
    readers: dict[tuple[str, Index], int] = {}

    def closure(root: tuple[str, Index]) -> list[tuple[str, Index]]:
        found: list[tuple[str, Index]] = []
        stack = [root]
        while stack:
            key = stack.pop()
            if key in edges:
                continue
            stage = by_name[key[0]]
            deps = [(p, list(chunks(*key[1]))) for p, chunks in stage.deps.items()]
            edges[key] = deps
            found.append(key)
            for p, indices in deps:
                for index in indices:
                    readers[(p, index)] = readers.get((p, index), 0) + 1
                    stack.append((p, index))
        return sorted(found, key=lambda k: (position[k[0]], k[1]))

    plans = [closure(t) for t in targets]  # all reader counts known before anything runs
    values: dict[tuple[str, Index], Any] = {}
    pending = set(targets)  # targets not yielded yet: kept even when no task reads them
    if stats is not None:
        stats.setdefault("tasks", {})
        stats.setdefault("ran", set())
    for target, plan in zip(targets, plans):
        for key in plan:
            stage = by_name[key[0]]
            args = [{index: values[(p, index)] for index in indices} for p, indices in edges[key]]
            values[key] = stage.fn(ctx, *key[1], *args)
            if stats is not None:
                stats["tasks"][key[0]] = stats["tasks"].get(key[0], 0) + 1
                stats["ran"].add(key)
            for p, indices in edges[key]:
                for index in indices:
                    dep = (p, index)
                    readers[dep] -= 1
                    if readers[dep] == 0 and dep not in pending:
                        del values[dep]
        pending.discard(target)
        value = values[target]
        if readers.get(target, 0) == 0:
            del values[target]
        yield target, value
