"""Decoding around damaged chunks: the halo closure of the damage, filled; the rest exact.

A damaged chunk (found by :func:`~tilestream.container.verify.verify`) spoils exactly the
tasks that read it, directly or through other tasks. The closure follows the stages'
declared dependencies (:class:`~tilestream.stage.Dep`), whatever the family: a damaged
``z`` chunk spoils every ``y`` chunk whose ``h_s`` window reaches it; a damaged phase of a
checkerboard / ELIC chunk spoils the later phases of the chunks whose context halo reaches
it; a damaged tile of a serial context (mbt2018, cheng2020) spoils every later tile whose
context reaches it, along the wavefront. The spoiled ``ŷ`` samples are decoded as zeros;
every other task runs as usual. A pixel depends on the ``ŷ`` window ``g_s`` reads for it
(:meth:`~tilestream.tasks.CodecContext.y_window_for_pixels`), so the pixels whose window
holds a spoiled sample -- and only those -- are filled (with the nodata value, or zeros). As
block-wise decoding reads exactly the minimal window, every other pixel is bit-identical to
an undamaged decode. A damaged nodata ``mask`` chunk spoils the pixels of its own block.
"""

from __future__ import annotations

import json
import os
import sys
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any

import numpy as np
from torch import nn

from tilestream.container import ContainerReader
from tilestream.container.schema import ContainerError
from tilestream.container.verify import DamagedChunk, _short, verify
from tilestream.errors import TilestreamError
from tilestream.geometry import BlockGrid, Interval, Window
from tilestream.stage import Index, Names, Part, Stage
from tilestream.tasks import MASK_STREAM, CodecContext

__all__ = ["DamageMap", "DamageReport", "Decoded", "ON_DAMAGE", "damage_map", "decode_filling"]

#: what ``decode`` does with damaged chunks
ON_DAMAGE = ("fail", "fill")

Key = tuple[str, Index]
_SPOILED = np.zeros(0, np.float32)


@dataclass
class DamageMap:
    """The halo closure of a set of damaged chunks.

    Attributes
    ----------
    spoiled : set of (stage, index)
        Decode tasks that read a damaged chunk, directly or through other tasks.
    latent : ndarray of bool
        ``(H, W)`` over the latent ``ŷ``: samples decoded from damaged data.
    mask_blocks : set of (int, int)
        Image blocks whose nodata mask chunk is damaged.
    rows, cols : ndarray of int
        ``(P, 2)``: the ``ŷ`` rows (columns) that ``g_s`` reads for each padded-image row
        (column), as half-open intervals.
    """

    spoiled: set[Key]
    latent: np.ndarray
    mask_blocks: set[Index]
    rows: np.ndarray
    cols: np.ndarray
    block_shape: tuple[int, int] = (0, 0)
    image_grid: Any = None
    _sums: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._sums = np.pad(self.latent.astype(np.int64).cumsum(0).cumsum(1), ((1, 0), (1, 0)))

    def pixels(self, window: Window) -> np.ndarray:
        """``(h, w)`` bool: the pixels of an image ``window`` that depend on damaged chunks."""
        (a, b), (c, d) = self.rows[window.y.start : window.y.stop].T, self.cols[window.x.start : window.x.stop].T
        s = self._sums
        count = s[b][:, d] - s[a][:, d] - s[b][:, c] + s[a][:, c]
        out = count > 0
        for i, j in self.mask_blocks:
            block = self.image_grid.window(i, j).intersect(window)
            if not block.empty:
                ys, xs = block.to_slices(window)
                out[ys, xs] = True
        return out

    def region(self, latent: np.ndarray, mask_blocks: set[Index], shape: tuple[int, int]) -> list[int] | None:
        """Image bounds ``[y0, y1, x0, x1]`` of the pixels depending on ``latent`` samples
        and ``mask_blocks`` (``None``: none)."""
        boxes = []
        if latent.any():
            ys, xs = np.nonzero(latent.any(axis=1))[0], np.nonzero(latent.any(axis=0))[0]
            y0, y1, x0, x1 = ys[0], ys[-1] + 1, xs[0], xs[-1] + 1
            # pixel rows whose ŷ rows [a, b) meet [y0, y1)
            prow = np.nonzero((self.rows[:, 0] < y1) & (self.rows[:, 1] > y0))[0]
            pcol = np.nonzero((self.cols[:, 0] < x1) & (self.cols[:, 1] > x0))[0]
            boxes.append((prow[0], prow[-1] + 1, pcol[0], pcol[-1] + 1))
        for i, j in mask_blocks:
            w = self.image_grid.window(i, j)
            boxes.append((w.y.start, w.y.stop, w.x.start, w.x.stop))
        if not boxes:
            return None
        y0, y1 = min(b[0] for b in boxes), min(shape[0], max(b[1] for b in boxes))
        x0, x1 = min(b[2] for b in boxes), min(shape[1], max(b[3] for b in boxes))
        return [int(y0), int(y1), int(x0), int(x1)]


@dataclass
class DamageReport:
    """What a decode with ``on_damage="fill"`` found and filled.

    Attributes
    ----------
    container, output : str
        Paths.
    damaged : list of dict
        Per damaged chunk: its name, stream, index, the error reading it gave, and
        ``region``: the image bounds ``[y0, y1, x0, x1]`` of the pixels depending on it.
    filled_pixels : int
        Pixels filled (inside the decoded window).
    fill_value : float
        The value written there (the nodata value, else 0).
    chunks : int
        Chunks checked.
    """

    container: str
    output: str
    damaged: list[dict[str, Any]]
    filled_pixels: int
    fill_value: float
    chunks: int
    window: list[int] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """JSON-ready report."""
        fill = self.fill_value
        return {
            "container": self.container,
            "output": self.output,
            "chunks": self.chunks,
            "damaged_chunks": len(self.damaged),
            "damaged": self.damaged,
            "filled_pixels": self.filled_pixels,
            "fill_value": "NaN" if isinstance(fill, float) and np.isnan(fill) else fill,
            "window": self.window,
        }

    def lines(self) -> list[str]:
        """One line per damaged chunk, for stderr."""
        out = []
        for d in self.damaged:
            where = "no pixel" if d["region"] is None else "pixels {}:{},{}:{}".format(*d["region"])
            out.append(f"tilestream: damaged chunk {d['chunk']} ({_short(d['reason'])}): filled {where}")
        return out


class Decoded(str):
    """The output path of a decode, with the :class:`DamageReport` of a decode that
    filled damage (``None`` when nothing was damaged)."""

    damage: DamageReport | None = None


@dataclass(frozen=True)
class FillingContext(CodecContext):
    """A task context whose store reads a damaged nodata ``mask`` chunk as "all nodata"
    (those pixels are filled anyway), so that the other pixels of a window decode."""

    damaged_masks: frozenset[Index] = frozenset()

    def store(self) -> Any:
        return _MaskFillingStore(super().store(), self)


class _MaskFillingStore:
    def __init__(self, store: Any, ctx: FillingContext):
        self.store, self.ctx = store, ctx

    def read(self, stream: str, i: int, j: int) -> bytes:
        if stream == MASK_STREAM and not self.ctx.stream_prefix and (i, j) in self.ctx.damaged_masks:
            import zlib

            block = self.ctx.layout.image_grid.window(i, j).clip(self.ctx.layout.image_shape)
            return zlib.compress(np.packbits(np.ones(block.shape, bool)).tobytes())
        return self.store.read(stream, i, j)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)


# -- the closure -------------------------------------------------------------------------
def _group_stages(ctx: CodecContext, stages: list[Stage]) -> dict[str, list[Stage]]:
    """The latent stages of each band group (prefix → stages, in order)."""
    from tilestream.pipeline.stages import group_prefixes

    prefixes = group_prefixes(ctx)
    latent = [s for s in stages if s.name not in (Names.PIXELS, Names.REGION)]
    if prefixes == [""]:
        return {"": latent}
    return {p: [s for s in latent if s.name.startswith(p)] for p in prefixes}


def _readers(ctx: CodecContext, groups: dict[str, list[Stage]]) -> dict[str, str]:
    """Stream → the stage whose tasks read it at their own index: ``z`` by ``ẑ``, the
    codec's phases (in order) by its last stages (in order)."""
    codec = ctx.codec()
    out = {}
    for prefix, stages in groups.items():
        phases = [p.stream for p in codec.phases]
        if codec.has_hyperprior:
            out[prefix + "z"] = stages[0].name
        for stream, stage in zip(phases, stages[len(stages) - len(phases) :]):
            out[prefix + stream] = stage.name
    return out


def _grid_extent(ctx: CodecContext, stage: Stage) -> tuple[int, int]:
    rows, cols = ctx.layout.grid_shape
    return rows, stage.cols or cols


def _reader_map(ctx: CodecContext, stages: list[Stage]) -> dict[Key, list[Key]]:
    """Task → the tasks that read it (from the declared deps of every task)."""
    readers: dict[Key, list[Key]] = {}
    for stage in stages:
        rows, cols = _grid_extent(ctx, stage)
        for i in range(rows):
            for j in range(cols):
                for dep in stage.deps:
                    for index in dep.chunks(i, j):
                        readers.setdefault((dep.stage, tuple(index)), []).append((stage.name, (i, j)))
    return readers


def _closure(readers: dict[Key, list[Key]], seeds: set[Key]) -> set[Key]:
    """Every task reading a seed, directly or through other tasks."""
    found = set(seeds)
    queue = deque(seeds)
    while queue:
        for reader in readers.get(queue.popleft(), ()):
            if reader not in found:
                found.add(reader)
                queue.append(reader)
    return found


def _axis_reads(ctx: CodecContext) -> tuple[np.ndarray, np.ndarray]:
    """The ``ŷ`` interval ``g_s`` reads for each padded-image row and column."""
    hp, wp = ctx.layout.padded_shape
    h, w = ctx.layout.y_shape
    rows = np.array([_span(ctx.y_window_for_pixels(Window(Interval(r, r + 1), Interval(0, wp))).y, h) for r in range(hp)])
    cols = np.array([_span(ctx.y_window_for_pixels(Window(Interval(0, hp), Interval(c, c + 1))).x, w) for c in range(wp)])
    return rows.reshape(-1, 2), cols.reshape(-1, 2)


def _span(interval: Interval, size: int) -> tuple[int, int]:
    """``interval`` clipped to ``[0, size)`` (outside it ``g_s`` reads zero padding)."""
    return min(size, max(0, interval.start)), min(size, max(0, interval.stop))


def _mark(ctx: CodecContext, latent: np.ndarray, index: Index) -> None:
    grid = ctx.codec().latent_grid(ctx.layout)
    if hasattr(grid, "positions"):  # sheared tiles: exactly the tile's samples
        for r, c in grid.positions(*index):
            latent[r, c] = True
    else:
        ys, xs = grid.window(*index).to_slices(Window.full(latent.shape))
        latent[ys, xs] = True


def damage_map(ctx: CodecContext, stages: list[Stage], damaged: list[DamagedChunk]) -> tuple[DamageMap, dict[str, Any]]:
    """The closure of ``damaged`` over ``stages`` (the decode stages of ``ctx``).

    Returns the :class:`DamageMap` and, per damaged chunk name, its own latent samples and
    mask blocks (for the per-chunk regions of the report).

    Raises
    ------
    ContainerError
        For a damaged chunk of a stream the codec does not read (damaged metadata).
    """
    groups = _group_stages(ctx, stages)
    reads = _readers(ctx, groups)
    lasts = {g[-1].name for g in groups.values()}
    y_shape = ctx.layout.y_shape
    per_chunk: dict[str, Any] = {}
    seeds: set[Key] = set()
    masks: set[Index] = set()
    for chunk in damaged:
        if chunk.stream == MASK_STREAM:
            masks.add(chunk.index)
            per_chunk[chunk.name] = (np.zeros(y_shape, bool), {chunk.index})
        elif chunk.stream in reads:
            seeds.add((reads[chunk.stream], chunk.index))
        else:
            raise ContainerError(f"chunk {chunk.name} belongs to no stream this model decodes; the metadata is damaged, re-encode it")
    readers = _reader_map(ctx, stages)
    spoiled = _closure(readers, seeds)
    latent = np.zeros(y_shape, bool)
    for name, index in spoiled:
        if name in lasts:
            _mark(ctx, latent, index)
    for chunk in damaged:
        if chunk.stream != MASK_STREAM:
            own = np.zeros(y_shape, bool)
            for name, index in _closure(readers, {(reads[chunk.stream], chunk.index)}):
                if name in lasts:
                    _mark(ctx, own, index)
            per_chunk[chunk.name] = (own, set())
    rows, cols = _axis_reads(ctx)
    dmap = DamageMap(spoiled, latent, masks, rows, cols, image_grid=ctx.layout.image_grid)
    return dmap, per_chunk


# -- running around the damage -----------------------------------------------------------
def _guarded(fn: Any, spoiled: frozenset[Index], zeros: Any, ctx: CodecContext, i: int, j: int, *deps: Any) -> Part:
    """Run a stage task, unless it is spoiled: then the last latent stage gives zeros of
    its part's shape and any other stage a placeholder no unspoiled task reads."""
    if (i, j) not in spoiled:
        return fn(ctx, i, j, *deps)
    if zeros is None:
        return Part(_SPOILED)
    return Part(zeros(ctx, i, j))


def _zero_part(channels: int, ctx: CodecContext, i: int, j: int) -> np.ndarray:
    window = ctx.codec().latent_grid(ctx.layout).window(i, j)
    if window.empty:
        return np.zeros((0, 0, 0), np.float32)
    return np.zeros((channels, *window.shape), np.float32)


def _latent_channels(ctx: CodecContext) -> int:
    from tilestream.models.registry import transforms
    from tilestream.testing import input_channels

    return input_channels(transforms(ctx.model())["g_s"])


def guard_stages(ctx: CodecContext, stages: list[Stage], dmap: DamageMap) -> list[Stage]:
    """``stages`` with their spoiled tasks replaced (see :func:`_guarded`)."""
    lasts = {g[-1].name for g in _group_stages(ctx, stages).values()}
    zeros = partial(_zero_part, _latent_channels(ctx))
    out = []
    for stage in stages:
        spoiled = frozenset(index for name, index in dmap.spoiled if name == stage.name)
        if not spoiled or stage.name in (Names.PIXELS, Names.REGION):
            out.append(stage)
            continue
        fill = zeros if stage.name in lasts else None
        out.append(replace(stage, fn=partial(_guarded, stage.fn, spoiled, fill), batch=None))
    return out


def _filled(blocks: Iterator[tuple[Window, np.ndarray]], dmap: DamageMap, offset: tuple[int, int], value: float, count: list[int]) -> Iterator[tuple[Window, np.ndarray]]:
    """Fill the damaged pixels of each block (``offset``: the blocks' origin in the image)."""
    for window, pixels in blocks:
        where = Window(window.y.shift(offset[0]), window.x.shift(offset[1]))
        mask = dmap.pixels(where)
        if mask.any():
            pixels = np.array(pixels, copy=True)
            pixels[mask] = value
            count[0] += int(mask.sum())
        yield window, pixels


def _blocks(ctx: CodecContext, stages: list[Stage], *, scheduler: Any, progress: bool | None, num_workers: int | None) -> Iterator[tuple[Window, np.ndarray]]:
    """:func:`~tilestream.pipeline.decode.decode_blocks` with ``stages``."""
    from tilestream.pipeline.decode import decode_blocks

    return decode_blocks(ctx, scheduler=scheduler, progress=progress, num_workers=num_workers, stages=stages)


def _region_tiles(ctx: CodecContext, window: Window, block: int, guard: Any, *, scheduler: Any, progress: bool | None, num_workers: int | None) -> Iterator[tuple[Window, np.ndarray]]:
    """Like :func:`~tilestream.pipeline.region.region_tiles`, with guarded stages."""
    from tilestream.pipeline.runtime import progress_bar, runner
    from tilestream.pipeline.stages import region_stages
    from tilestream.schedule import demand

    grid = BlockGrid(window.shape, (block, block))
    tiles = [tile for _, tile in grid]
    parts = [Window(t.y.shift(window.y.start), t.x.shift(window.x.start)) for t in tiles]
    update, close = progress_bar(len(tiles), "decode region", progress, unit="tile")
    stages = guard(region_stages(ctx, parts))
    targets = [(Names.REGION, (n, 0)) for n in range(len(parts))]
    try:
        with runner(scheduler, num_workers) as run:
            run.set_context(ctx)
            done = demand(stages, targets, run, group=grid.grid_shape[1], progress=update)
            for tile, (_, part) in zip(tiles, done):
                yield tile, part.value
    finally:
        close()


def decode_filling(
    container: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    damage_report: str | os.PathLike[str] | None = None,
    model: nn.Module | str | None = None,
    checkpoint: Any = None,
    device: Any = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    region: tuple[int, int, int, int] | None = None,
    num_workers: int | None = None,
    storage_options: dict[str, Any] | None = None,
    stderr: Any = None,
    sink_options: dict[str, Any] | None = None,
    block: int | None = None,
) -> Decoded:
    """Decode a container, filling the pixels that depend on damaged chunks.

    The container is verified first (every chunk's checksum); the halo closure of the
    damaged chunks is filled with the nodata value (or 0), every other pixel is decoded
    exactly. One line per damaged chunk goes to ``stderr`` (default ``sys.stderr``), and
    the JSON report to ``damage_report`` (default ``OUTPUT.damage.json``, next to a local
    output) when anything was damaged. Parameters as :func:`~tilestream.pipeline.decode`;
    ``sink_options`` are :func:`~tilestream.io.sinks.sink_for`'s output format options.

    Returns
    -------
    Decoded
        The output path; its ``damage`` is the :class:`DamageReport`, or ``None`` when no
        chunk was damaged.
    """
    from tilestream.io import geotiff
    from tilestream.io.sinks import prepare_output, sink_for
    from tilestream.pipeline.decode import coded_context, decode_blocks
    from tilestream.pipeline.region import region_tiles, region_window
    from tilestream.pipeline.stages import decode_stages

    found = verify(container)  # every checksum first: the damage is known before decoding
    location = prepare_output(output, overwrite, storage_options)
    out = getattr(location, "url", location)
    with ContainerReader(container, storage_options) as reader:
        base = coded_context(reader, model, checkpoint, device, block)
        masks = frozenset(d.index for d in found.damaged if d.stream == MASK_STREAM)
        ctx = FillingContext(**{f: getattr(base, f) for f in base.__dataclass_fields__}, damaged_masks=masks)
        meta = reader.meta
        block = meta.block
        metadata = dict(meta.source_metadata)
        fmt = ctx.pixel_format
        value = 0 if fmt.nodata is None else fmt.nodata
        window = Window.full(meta.image_shape) if region is None else region_window(region, meta.image_shape)
        if region is not None and "geotiff" in metadata:
            metadata["geotiff"] = geotiff.for_region(metadata["geotiff"], window.y.start, window.x.start)
        count = [0]
        report = None
        if found.ok:
            if region is None:
                blocks = decode_blocks(base, scheduler=scheduler, progress=progress, num_workers=num_workers)
            else:
                blocks = region_tiles(base, window, block, scheduler=scheduler, progress=progress, num_workers=num_workers)
        else:
            stages = decode_stages(ctx)
            dmap, per_chunk = damage_map(ctx, stages, found.damaged)
            damaged = []
            for d in found.damaged:
                own, own_masks = per_chunk[d.name]
                damaged.append({**d.to_json(), "region": dmap.region(own, own_masks, meta.image_shape)})
            report = DamageReport(
                reader.path, out, damaged, 0, value, found.chunks,
                [window.y.start, window.y.stop, window.x.start, window.x.stop],
            )
            if region is None:
                blocks = _blocks(ctx, guard_stages(ctx, stages, dmap), scheduler=scheduler, progress=progress, num_workers=num_workers)
            else:
                guard = partial(guard_stages, ctx, dmap=dmap)
                blocks = _region_tiles(ctx, window, block, guard, scheduler=scheduler, progress=progress, num_workers=num_workers)
            blocks = _filled(blocks, dmap, (window.y.start, window.x.start), value, count)
        sink_for(location, window.shape, fmt, block, meta.source_layout, metadata, **(sink_options or {})).consume(blocks)
    result = Decoded(out)
    if report is not None:
        report.filled_pixels = count[0]
        result.damage = report
        stream = sys.stderr if stderr is None else stderr
        for line in report.lines():
            print(line, file=stream)
        path = os.fspath(damage_report) if damage_report is not None else _default_report(out)
        if path is not None:
            with open(path, "w") as fh:
                json.dump(report.to_json(), fh, indent=2)
            print(f"tilestream: {len(damaged)} damaged chunk(s), {count[0]} pixels filled; report in {path}", file=stream)
    return result


def _default_report(output: str) -> str | None:
    """``OUTPUT.damage.json`` next to a local output (``None`` for a URL)."""
    if "://" in output and not output.startswith("file://"):
        return None
    return output.removeprefix("file://").rstrip("/") + ".damage.json"


def check_on_damage(on_damage: str) -> str:
    """Validate ``on_damage``."""
    if on_damage not in ON_DAMAGE:
        raise TilestreamError(f"on_damage {on_damage!r} is not one of {', '.join(ON_DAMAGE)}; pass 'fail' or 'fill'")
    return on_damage
