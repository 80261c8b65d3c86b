"""The stage graphs of encode, decode and region decode, built from the codec's description.

The transforms frame every codec the same way: ``g_a`` (stage ``y``) and, with side
information, ``h_a`` + coding of ``z`` before the codec's ``y`` stages; decoding ``ẑ`` before
them and ``g_s`` after them. What happens in between is the codec's
(:meth:`~tilestream.entropy.ChunkCodec.y_stages`); nothing here asks which family it is.
"""

from __future__ import annotations

from functools import partial

from tilestream import tasks
from tilestream.geometry import Window
from tilestream.stage import Dep, Names, Stage
from tilestream.tasks import CodecContext

__all__ = ["decode_stages", "encode_stages", "latent_stages", "region_stages"]


def encode_stages(ctx: CodecContext) -> list[Stage]:
    """``g_a`` → (``h_a`` + ``z``) → the codec's ``y`` coding stages."""
    codec, lay = ctx.codec(), ctx.layout
    stages = [Stage(Names.Y, tasks.analyse_block)]
    if codec.has_hyperprior:
        deps = (Dep.through(Names.Y, ctx.y_window_for_z, lay.y_grid, lay.grid_shape),)
        stages.append(Stage(Names.Z, tasks.hyper_chunk, deps, writes=True))
    return stages + codec.y_stages(ctx, encoding=True)


def latent_stages(ctx: CodecContext) -> list[Stage]:
    """Decoding up to ``ŷ``: ``ẑ`` from its stream, then the codec's ``y`` stages; the last
    stage's parts lie on the codec's latent grid."""
    codec = ctx.codec()
    stages = [Stage(Names.ZHAT, tasks.decode_hyper)] if codec.has_hyperprior else []
    return stages + codec.y_stages(ctx, encoding=False)


def decode_stages(ctx: CodecContext) -> list[Stage]:
    """:func:`latent_stages`, then ``g_s`` per image block (emitted row by row)."""
    lay = ctx.layout
    stages = latent_stages(ctx)
    need = lambda i, j: ctx.y_window_for_pixels(lay.image_window(i, j))  # noqa: E731
    grid = ctx.codec().latent_grid(lay)
    dep = Dep.through(stages[-1].name, need, grid, lay.grid_shape)
    return stages + [Stage(Names.PIXELS, tasks.synthesise_block, (dep,), emit=True)]


def region_stages(ctx: CodecContext, windows: list[Window]) -> list[Stage]:
    """:func:`latent_stages`, then ``g_s`` on each of ``windows`` (padded-image windows),
    target ``(Names.REGION, (n, 0))`` for ``windows[n]``; for :func:`~tilestream.schedule.demand`."""
    stages = latent_stages(ctx)
    grid = ctx.codec().latent_grid(ctx.layout)
    need = lambda n, _: ctx.y_window_for_pixels(windows[n])  # noqa: E731
    dep = Dep.through(stages[-1].name, need, grid, (len(windows), 1))
    return stages + [Stage(Names.REGION, partial(tasks.synthesise_window, tuple(windows)), (dep,))]
