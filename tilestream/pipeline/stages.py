"""The stage graphs of encode, decode and region decode, built from the codec's description.

The transforms frame every codec the same way: ``g_a`` (stage ``y``) and, with side
information, ``h_a`` + coding of ``z`` before the codec's ``y`` stages; decoding ``ẑ`` before
them and ``g_s`` after them. What happens in between is the codec's
(:meth:`~tilestream.entropy.ChunkCodec.y_stages`); nothing here asks which family it is.

An image of more than three bands is coded in band groups
(:meth:`~tilestream.pixels.PixelFormat.band_groups`): every group runs the same stages under
its own names and streams (prefix ``b{k}/``), in the same graph; ``g_s`` of a block reads
the last stage of every group and joins their bands.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import partial

from tilestream import tasks
from tilestream.geometry import Window
from tilestream.stage import Dep, Names, Stage
from tilestream.tasks import CodecContext

__all__ = ["decode_stages", "encode_stages", "group_prefixes", "group_streams", "latent_stages", "region_stages"]


def group_prefixes(ctx: CodecContext) -> list[str]:
    """Stage / stream prefix of each band group (none for a single group)."""
    groups = ctx.band_groups()
    return [""] if len(groups) == 1 else [f"b{k}/" for k in range(len(groups))]


def _grouped(ctx: CodecContext, build: Callable[[CodecContext], list[Stage]]) -> list[list[Stage]]:
    """``build(ctx)`` for each band group, renamed into its namespace."""
    prefixes = group_prefixes(ctx)
    if prefixes == [""]:
        return [build(ctx)]
    out = []
    for k, prefix in enumerate(prefixes):
        out.append([
            replace(
                s, name=prefix + s.name, fn=partial(tasks.in_group, k, s.fn),
                batch=None if s.batch is None else partial(tasks.in_group, k, s.batch),
                deps=tuple(replace(d, stage=prefix + d.stage) for d in s.deps),
            )
            for s in build(ctx.group(k))
        ])
    return out


def group_streams(ctx: CodecContext, streams: tuple[str, ...]) -> tuple[str, ...]:
    """The container's streams: the codec's, once per band group (and the nodata mask)."""
    mask = (tasks.MASK_STREAM,) if ctx.pixel_format.nodata is not None else ()
    return tuple(prefix + s for prefix in group_prefixes(ctx) for s in streams) + mask


def _encode(ctx: CodecContext) -> list[Stage]:
    codec, lay = ctx.codec(), ctx.layout
    stages = [Stage(Names.Y, tasks.analyse_block, batch=tasks.analyse_blocks)]
    if codec.has_hyperprior:
        deps = (Dep.through(Names.Y, ctx.y_window_for_z, lay.y_grid, lay.grid_shape),)
        stages.append(Stage(Names.Z, tasks.hyper_chunk, deps, writes=True))
    return stages + codec.y_stages(ctx, encoding=True)


def _latent(ctx: CodecContext) -> list[Stage]:
    codec = ctx.codec()
    stages = [Stage(Names.ZHAT, tasks.decode_hyper)] if codec.has_hyperprior else []
    return stages + codec.y_stages(ctx, encoding=False)


def encode_stages(ctx: CodecContext) -> list[Stage]:
    """``g_a`` → (``h_a`` + ``z``) → the codec's ``y`` coding stages (per band group), and
    the nodata mask of each block."""
    mask = [Stage(Names.MASK, tasks.code_mask, writes=True)] if ctx.pixel_format.nodata is not None else []
    return [s for group in _grouped(ctx, _encode) for s in group] + mask


def latent_stages(ctx: CodecContext) -> list[Stage]:
    """Decoding up to ``ŷ``: ``ẑ`` from its stream, then the codec's ``y`` stages; the last
    stage's parts lie on the codec's latent grid. One band group only (checks, benchmarks)."""
    return _latent(ctx)


def _synthesis(
    ctx: CodecContext, need: Callable[[int, int], Window], shape: tuple[int, int]
) -> tuple[list[Stage], tuple[Dep, ...]]:
    """Every group's latent stages, and the deps of a ``g_s`` task on the last of each."""
    groups = _grouped(ctx, _latent)
    grid = ctx.codec().latent_grid(ctx.layout)
    deps = tuple(Dep.through(g[-1].name, need, grid, shape) for g in groups)
    return [s for g in groups for s in g], deps


def decode_stages(ctx: CodecContext) -> list[Stage]:
    """The latent stages of every band group, then ``g_s`` per image block (emitted row by row)."""
    lay = ctx.layout
    need = lambda i, j: ctx.y_window_for_pixels(lay.image_window(i, j))  # noqa: E731
    stages, deps = _synthesis(ctx, need, lay.grid_shape)
    return stages + [Stage(Names.PIXELS, tasks.synthesise_groups, deps, emit=True, batch=tasks.synthesise_blocks)]


def region_stages(ctx: CodecContext, windows: list[Window]) -> list[Stage]:
    """The latent stages of every band group, then ``g_s`` on each of ``windows``
    (padded-image windows), target ``(Names.REGION, (n, 0))`` for ``windows[n]``; for
    :func:`~tilestream.schedule.demand`."""
    need = lambda n, _: ctx.y_window_for_pixels(windows[n])  # noqa: E731
    stages, deps = _synthesis(ctx, need, (len(windows), 1))
    return stages + [Stage(Names.REGION, partial(tasks.synthesise_window, tuple(windows)), deps)]
