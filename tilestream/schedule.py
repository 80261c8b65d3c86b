"""Running stages on dask: a row wavefront over the whole grid, or on demand for regions.

A codec is a few *stages* over the same block grid (see :mod:`tilestream.stage`). A task of
one stage reads chunks of earlier stages within a few rows of its own, as its
:class:`~tilestream.stage.Dep` declares. Running the whole grid as one graph would let
results pile up; instead :func:`wavefront` advances one step at a time: at step ``t`` stage
``s`` computes row ``t − lag(s)``, where the lags follow from the declared row reach of each
dependency. Each step is one dask computation (all tasks of the step run in parallel,
within-step dependencies included), and a row is released as soon as no later task reads
it: a result that the tasks of the current step read for the last time is handed to the
step's computation, which drops it when the last of those tasks is done (dask's order runs
a step as a sweep along the row, so the rows a step finishes with are freed while its new
row is computed). Memory is therefore bounded by a few rows of chunks, whatever the image
size.

:func:`demand` computes only what a list of targets needs (region decode), in groups of
targets, each group one dask computation, releasing results no remaining task reads.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

from tilestream.heap import release_free_memory
from tilestream.stage import Index, Part, Stage

__all__ = ["Runner", "ScheduleError", "demand", "replay_plan", "self_reading", "step_of_row", "wavefront"]

Key = tuple[str, Index]


class ScheduleError(RuntimeError):
    """A stage list is inconsistent with what its tasks read (a bug in a codec's stages)."""


def _nbytes(part: Part) -> int:
    return int(part.nbytes)


class _Ref:
    """A task queued in the current local computation (its graph key)."""

    __slots__ = ("key",)

    def __init__(self, key: str):
        self.key = key


class _Call:
    """Rebuilds a task's dependency dicts from the values dask hands it (a literal in the
    graph: dask substitutes keys only in the flat list next to it)."""

    __slots__ = ("args", "ctx", "fn", "index")

    def __init__(self, fn: Callable[..., Part], ctx: Any, index: Index, args: tuple[dict[Index, Any], ...]):
        self.fn, self.ctx, self.index, self.args = fn, ctx, index, args

    def __call__(self, computed: list[Any]) -> Part:
        found = iter(computed)
        args = [{k: next(found) if isinstance(v, _Ref) else v for k, v in d.items()} for d in self.args]
        return self.fn(self.ctx, *self.index, *args)


def _run(call: _Call, computed: list[Any]) -> Part:
    return call(computed)


class _BatchCall:
    """A batch task's call: :class:`_Call` for several chunk indices at once."""

    __slots__ = ("args", "ctx", "fn", "indices")

    def __init__(self, fn: Callable[..., list[Part]], ctx: Any, indices: list[Index], args: list[tuple[dict[Index, Any], ...]]):
        self.fn, self.ctx, self.indices, self.args = fn, ctx, indices, args

    def __call__(self, computed: list[Any]) -> list[Part]:
        found = iter(computed)
        args = [tuple({k: next(found) if isinstance(v, _Ref) else v for k, v in d.items()} for d in a) for a in self.args]
        return self.fn(self.ctx, self.indices, args)


def _item(parts: list[Part], n: int) -> Part:
    return parts[n]


class _Box:
    """A result of an earlier step that no later step reads, handed to the current
    computation: its one reference until the computation takes it out."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value


def _take(box: _Box) -> Any:
    value, box.value = box.value, None
    return value


class Runner:
    """Runs the tasks of one step on local threads, in this thread, or on a dask client.

    Locally the step is one dask graph (built directly, one entry per task) run by dask's
    threaded scheduler (or its synchronous one); on a cluster every task is a future.

    Parameters
    ----------
    client : distributed.Client, optional
        Run on this cluster; default: local.
    num_workers : int, optional
        Threads of the local scheduler.
    synchronous : bool
        Run local tasks in the calling thread (inside another dask task, for example).
    batch : int
        Chunks of one row per task for stages that offer a batched function
        (:attr:`Stage.batch`); 1 (default) runs every chunk as its own task.
    """

    def __init__(self, client: Any = None, num_workers: int | None = None, *, synchronous: bool = False, batch: int = 1):
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch must be a positive int, got {batch!r}")
        self.client = client
        self.num_workers = num_workers
        self.synchronous = synchronous
        self.batch = batch
        self._pending: list[tuple[Key, Any]] = []
        self._graph: dict[str, Any] = {}
        self._ctx: Any = None
        self._prefix = uuid.uuid4().hex[:8]

    def set_context(self, ctx: Any) -> None:
        """Ship the context once (scattered to every worker on a cluster)."""
        self._ctx = self.client.scatter(ctx, broadcast=True, hash=False) if self.client is not None else ctx

    def submit(self, key: Key, fn: Callable[..., Part], *args: dict[Index, Any]) -> Any:
        """Queue ``fn(ctx, *index, *args)``; ``args`` may hold handles of queued tasks."""
        if self.client is not None:
            handle = self.client.submit(fn, self._ctx, *key[1], *args, pure=False)
        else:
            handle = _Ref(f"{self._prefix}-{key[0]}-{key[1][0]}-{key[1][1]}")
            refs = [v.key for d in args for v in d.values() if isinstance(v, _Ref)]
            self._graph[handle.key] = (_run, _Call(fn, self._ctx, key[1], args), refs)
        self._pending.append((key, handle))
        return handle

    def hand_over(self, key: Key, value: Any) -> Any:
        """A handle for ``value``, a result of an earlier computation that only tasks of
        the current one read: locally, the computation then holds its only reference and
        drops it as soon as the last of those tasks is done (not at the end of the step).
        On a cluster, ``value`` (a future) is returned as it is."""
        if self.client is not None:
            return value
        handle = _Ref(f"{self._prefix}-held-{key[0]}-{key[1][0]}-{key[1][1]}")
        self._graph[handle.key] = (_take, _Box(value))
        return handle

    def submit_batch(self, keys: list[Key], fn: Callable[..., list[Part]], args: list[tuple[dict[Index, Any], ...]]) -> list[Any]:
        """Queue one task ``fn(ctx, indices, args)`` computing the chunks of ``keys`` (one
        stage) at once; return a handle per key, as :meth:`submit` does."""
        indices = [k[1] for k in keys]
        if self.client is not None:
            import operator

            whole = self.client.submit(fn, self._ctx, indices, args, pure=False)
            handles = [self.client.submit(operator.getitem, whole, n, pure=False) for n in range(len(keys))]
        else:
            name, (r, j) = keys[0]
            whole_key = f"{self._prefix}-{name}-batch-{r}-{j}"
            refs = [v.key for a in args for d in a for v in d.values() if isinstance(v, _Ref)]
            self._graph[whole_key] = (_run, _BatchCall(fn, self._ctx, indices, args), refs)
            handles = []
            for n, key in enumerate(keys):
                handle = _Ref(f"{self._prefix}-{key[0]}-{key[1][0]}-{key[1][1]}")
                self._graph[handle.key] = (_item, whole_key, n)
                handles.append(handle)
        self._pending.extend(zip(keys, handles))
        return handles

    def dependencies(self) -> dict[Key, set[Key]]:
        """The queued tasks each queued task reads (local runs; for inspection)."""
        by_ref = {h.key: k for k, h in self._pending}

        def refs(name: str) -> list[str]:
            entry = self._graph[name]
            return refs(entry[1]) if entry[0] is _item else entry[2]

        return {k: {by_ref[r] for r in refs(h.key) if r in by_ref} for k, h in self._pending}  # not held results

    def finish(self) -> dict[Key, Any]:
        """Compute everything submitted since the last call; return results by key
        (futures on a cluster, :class:`Part` objects locally)."""
        pending, self._pending = self._pending, []
        graph, self._graph = self._graph, {}
        if not pending:
            return {}
        if self.client is not None:
            from distributed import wait

            futures = [h for _, h in pending]
            wait(futures)
            for future in futures:
                if future.status == "error":
                    raise future.exception()
            return {k: h for k, h in pending}
        names = [h.key for _, h in pending]
        if self.synchronous:
            from dask.local import get_sync

            values = get_sync(graph, names)
        else:
            from dask.threaded import get

            values = get(graph, names, num_workers=self.num_workers)
        del graph
        release_free_memory()  # what the step's tasks freed (a cluster's workers trim their own)
        return {k: v for (k, _), v in zip(pending, values)}

    def nbytes(self, results: list[Any]) -> int:
        """Coded bytes of results (counted where the results live)."""
        if self.client is not None:
            return int(sum(self.client.gather([self.client.submit(_nbytes, r) for r in results])))
        return int(sum(r.nbytes for r in results))

    def fetch(self, results: list[Any]) -> list[Part]:
        """Results as :class:`Part` objects in this process."""
        return self.client.gather(results) if self.client is not None else results


def _lags(stages: list[Stage]) -> dict[str, int]:
    """Rows each stage runs behind the first, so that what it reads is done."""
    names = [s.name for s in stages]
    lag: dict[str, int] = {}
    for stage in stages:
        for dep in stage.deps:
            if dep.stage == stage.name:
                if dep.rows[1] > 0:
                    raise ScheduleError(f"stage {stage.name} reads itself in a later row")
            elif dep.stage not in lag or names.index(dep.stage) >= names.index(stage.name):
                raise ScheduleError(f"stage {stage.name} reads {dep.stage}, which is not an earlier stage")
        lag[stage.name] = max([0] + [lag[d.stage] + d.rows[1] for d in stage.deps if d.stage in lag])
    return lag


def _args(stage: Stage, index: Index, results: dict[str, dict[Index, Any]]) -> list[dict[Index, Any]]:
    args = []
    for dep in stage.deps:
        have = results[dep.stage]
        wanted = dep.chunks(*index)
        missing = [idx for idx in wanted if idx not in have]
        if missing:
            raise ScheduleError(
                f"task {stage.name}{index} reads {dep.stage}{missing[0]}, outside the declared "
                f"row reach {dep.rows} of that dependency"
            )
        args.append({idx: have[idx] for idx in wanted})
    return args


def self_reading(stages: list[Stage]) -> set[str]:
    """Stages that read their own results (serial contexts): what a resumed wavefront
    cannot rebuild from a few rows, so :func:`wavefront` hands out their held results."""
    return {s.name for s in stages if any(d.stage == s.name for d in s.deps)}


def replay_plan(
    stages: list[Stage], rows: int, band: int, start: int, have: set[tuple[str, int]] | None = None
) -> set[tuple[str, int]]:
    """The ``(stage, row)`` tasks of steps before ``start`` whose results steps
    ``start, start + 1, …`` read, directly or through each other (what a resumed wavefront
    recomputes). Rows in ``have`` are given (restored from a saved state) and neither run
    nor followed further; without them a serial context that reads its own row above
    needs every earlier row."""
    have = have or set()
    lag = _lags(stages)
    by_name = {s.name: s for s in stages}
    readers = {s.name: [(c, d) for c in stages for d in c.deps if d.stage == s.name] for s in stages}
    end = {s.name: max(0, min(rows, start * band - lag[s.name])) for s in stages}
    needed: set[tuple[str, int]] = set()
    work: list[tuple[str, int]] = []
    for stage in stages:  # what is held at the end of step start - 1
        keep_from = min([start * band - lag[c.name] + d.rows[0] for c, d in readers[stage.name]] or [end[stage.name]])
        for r in range(max(0, keep_from), end[stage.name]):
            work.append((stage.name, r))
    while work:
        key = work.pop()
        if key in needed or key in have:
            continue
        needed.add(key)
        name, r = key
        for dep in by_name[name].deps:
            for pr in range(max(0, r + dep.rows[0]), min(end[dep.stage], r + dep.rows[1] + 1)):
                if (dep.stage, pr) not in needed:
                    work.append((dep.stage, pr))
    return needed


def step_of_row(stages: list[Stage], row: int, band: int) -> int:
    """The first wavefront step in which a writing stage computes ``row``."""
    lag = _lags(stages)
    return min((row + lag[s.name]) // band for s in stages if s.writes)


def wavefront(
    stages: list[Stage],
    rows: int,
    cols: int,
    runner: Runner,
    progress: Callable[[int], None] | None = None,
    stats: dict[str, int] | None = None,
    band: int = 1,
    *,
    start: int = 0,
    start_bytes: int = 0,
    on_step: Callable[[int, int], None] | None = None,
    preload: dict[Key, Part] | None = None,
    on_state: Callable[[int, dict[Key, Part]], None] | None = None,
) -> Iterator[tuple[str, int, list[Part]]]:
    """Run ``stages`` over the grid; yield ``(stage, row, parts)`` for emitting stages.

    ``stats``, if given, receives ``bytes``: the coded bytes the writing stages wrote, and
    ``max_live``: the largest number of task results held at once (bounded by a few rows,
    whatever the number of rows).

    ``band`` rows of every stage run per step (default 1). A larger band holds ``band``
    times more rows but lets a stage that reads its own row above (a serial context) run
    several rows at once as a skewed wavefront inside one dask computation.

    Resuming: with ``start`` > 0 the steps before ``start`` are taken as done (their
    ``start_bytes`` written); only the tasks of :func:`replay_plan` run again, to rebuild
    what later steps read (their writes repeat identical bytes and are not counted), and
    nothing of those steps is emitted. ``on_step(t, bytes)`` is called after each step
    ``t >= start`` has finished.

    Serial contexts: ``on_state(t, parts)``, called just before ``on_step``, receives the
    results of the stages that read themselves (:func:`self_reading`) held after step
    ``t``; passed back as ``preload`` with ``start = t + 1`` they spare the replay of every
    earlier row of those stages (rows of ``preload`` count as done).
    """
    if band < 1:
        raise ValueError(f"band must be at least 1, got {band}")
    lag = _lags(stages)
    results: dict[str, dict[Index, Any]] = {s.name: {} for s in stages}
    readers = {s.name: [(c, d) for c in stages for d in c.deps if d.stage == s.name] for s in stages}
    total = start_bytes
    steps = -(-(rows + max(lag.values())) // band)
    start = max(0, min(start, steps))
    preload = dict(preload or {}) if start else {}
    for (name, index), part in preload.items():
        results[name][index] = part
    have = {(name, index[0]) for name, index in preload}
    replay = replay_plan(stages, rows, band, start, have) if start else set()
    own_readers = self_reading(stages)
    serial = own_readers if on_state is not None else set()
    first = min([(r + lag[name]) // band for name, r in replay] or [start])
    if progress is not None and start:
        progress(sum(max(0, min(rows, start * band - lag[s.name])) * (s.cols or cols) for s in stages))
    def keep_from(stage: Stage, t: int) -> int:
        """The first row of ``stage`` that a step after ``t`` reads."""
        return min([(t + 1) * band - lag[c.name] + d.rows[0] for c, d in readers[stage.name]] or [(t + 1) * band])

    for t in range(first, steps):
        # results that no step after this one reads: the step's computation holds them
        # from here on, and drops each when its last reader is done
        for stage in stages:
            last = keep_from(stage, t)
            held = results[stage.name]
            for index in [k for k in held if k[0] < last]:
                held[index] = runner.hand_over((stage.name, index), held[index])
        active: list[tuple[Stage, int]] = []
        for stage in stages:
            for r in range(max(0, t * band - lag[stage.name]), min(rows, (t + 1) * band - lag[stage.name])):
                if t < start and (stage.name, r) not in replay:
                    continue
                active.append((stage, r))
                width = stage.cols or cols
                if runner.batch > 1 and stage.batch is not None and stage.name not in own_readers:
                    for j0 in range(0, width, runner.batch):
                        keys = [(stage.name, (r, j)) for j in range(j0, min(width, j0 + runner.batch))]
                        handles = runner.submit_batch(keys, stage.batch, [tuple(_args(stage, k[1], results)) for k in keys])
                        for key, handle in zip(keys, handles):
                            results[stage.name][key[1]] = handle
                    continue
                for j in range(width):
                    handle = runner.submit((stage.name, (r, j)), stage.fn, *_args(stage, (r, j), results))
                    results[stage.name][(r, j)] = handle
        for (name, index), value in runner.finish().items():
            results[name][index] = value
        value = None  # the loop variable would hold the step's last result into the next step
        if t >= start:
            for stage, r in active:
                row = [results[stage.name][(r, j)] for j in range(stage.cols or cols)]
                if stage.writes:
                    total += runner.nbytes(row)
                if stage.emit:
                    yield stage.name, r, runner.fetch(row)
                if progress is not None:
                    progress(len(row))
                row = []  # an emitted row is the consumer's now: not held through the next step
        # release rows nobody will read again
        for stage in stages:
            last = keep_from(stage, t)
            for index in [k for k in results[stage.name] if k[0] < last]:
                del results[stage.name][index]
        if stats is not None:
            live = sum(len(v) for v in results.values())
            stats["max_live"] = max(stats.get("max_live", 0), live)
        if serial and t >= start:
            keys = [(name, index) for name in sorted(serial) for index in sorted(results[name])]
            fetched = runner.fetch([results[name][index] for name, index in keys])
            on_state(t, dict(zip(keys, fetched)))  # type: ignore[misc]
        if on_step is not None and t >= start:
            on_step(t, total)
    if stats is not None:
        stats["bytes"] = total


def demand(
    stages: list[Stage],
    targets: list[Key],
    runner: Runner,
    *,
    group: int = 1,
    stats: dict[str, Any] | None = None,
    progress: Callable[[int], None] | None = None,
    cache: Any = None,
) -> Iterator[tuple[Key, Part]]:
    """Compute only what ``targets`` need; yield ``(target, part)`` in order.

    The dependencies of every target are followed back through the stages' deps (across
    stages and phases). Targets run ``group`` at a time: the tasks a group needs that have
    not run yet form one computation of ``runner`` (in parallel where the graph allows);
    each task runs once, and its result is dropped as soon as no remaining task reads it.
    ``stats``, if given, receives ``tasks``: how many tasks of each stage ran, and ``ran``:
    the set of ``(stage, index)`` keys.

    ``cache`` (a :class:`~tilestream.cache.PartCache`; local runs) supplies the results it
    holds -- their own dependencies are then not followed -- and receives the results of
    its stages that run here.
    """
    if cache is not None and runner.client is not None:
        raise ValueError("a result cache applies to local runs; pass cache=None with a cluster")
    by_name = {s.name: s for s in stages}
    position = {s.name: n for n, s in enumerate(stages)}
    edges: dict[Key, list[tuple[str, list[Index]]]] = {}
    readers: dict[Key, int] = {}

    def closure(root: Key) -> list[Key]:
        found: list[Key] = []
        stack = [root]
        while stack:
            key = stack.pop()
            if key in edges:
                continue
            held = cache.get(key) if cache is not None and key not in targets_set else None
            if held is not None:  # computed by an earlier call: a leaf here
                edges[key] = []
                cached[key] = held
                continue
            deps = [(d.stage, list(d.chunks(*key[1]))) for d in by_name[key[0]].deps]
            edges[key] = deps
            found.append(key)
            for producer, indices in deps:
                for index in indices:
                    readers[(producer, index)] = readers.get((producer, index), 0) + 1
                    stack.append((producer, index))
        return found

    targets_set = set(targets)
    cached: dict[Key, Part] = {}
    plans = [closure(t) for t in targets]  # all reader counts known before anything runs
    values: dict[Key, Any] = dict(cached)
    pending = set(targets)  # targets not yielded yet: kept even when no task reads them
    if stats is not None:
        stats.setdefault("tasks", {})
        stats.setdefault("ran", set())
    for start in range(0, len(targets), group):
        batch = range(start, min(len(targets), start + group))
        plan = sorted({k for n in batch for k in plans[n]}, key=lambda k: (position[k[0]], k[1]))
        for key in plan:
            if key in cached:
                continue
            args = [{index: values[(p, index)] for index in indices} for p, indices in edges[key]]
            values[key] = runner.submit(key, by_name[key[0]].fn, *args)
            if stats is not None:
                stats["tasks"][key[0]] = stats["tasks"].get(key[0], 0) + 1
                stats["ran"].add(key)
        done = runner.finish()
        values.update(done)
        if cache is not None:
            for key, part in done.items():
                cache.put(key, part)
        for key in plan:
            for p, indices in edges[key]:
                for index in indices:
                    dep = (p, index)
                    readers[dep] -= 1
                    if readers[dep] == 0 and dep not in pending:
                        del values[dep]
        out = runner.fetch([values[targets[n]] for n in batch])
        for n, part in zip(batch, out):
            target = targets[n]
            pending.discard(target)
            if readers.get(target, 0) == 0:
                del values[target]
            yield target, part
        if progress is not None:
            progress(len(batch))
