"""Region decode: only the chunks, phases and tiles a window of the image needs."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tilestream.cache import PartCache
from tilestream.errors import TilestreamError
from tilestream.geometry import BlockGrid, Window
from tilestream.pipeline.runtime import progress_bar, runner
from tilestream.pipeline.stages import latent_stages, region_stages
from tilestream.schedule import Runner, demand
from tilestream.stage import Names
from tilestream.tasks import CodecContext

__all__ = ["decode_latent", "decode_region", "region_cache", "region_tiles", "region_window"]


def region_window(region: tuple[int, int, int, int], shape: tuple[int, int]) -> Window:
    """Validate ``(y0, y1, x0, x1)`` against an image of ``shape``; return its window.

    Raises
    ------
    TilestreamError
        If the region is empty or not inside the image.
    """
    if (
        not isinstance(region, (tuple, list))
        or len(region) != 4
        or not all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in region)
    ):
        raise TilestreamError(
            f"region {region!r} is not four integers (y0, y1, x0, x1); pass e.g. (0, 512, 1024, 1536)"
        )
    y0, y1, x0, x1 = (int(v) for v in region)
    h, w = shape
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise TilestreamError(
            f"region {y0}:{y1},{x0}:{x1} is outside the image of {h}x{w} or empty; use "
            f"0 <= Y0 < Y1 <= {h} and 0 <= X0 < X1 <= {w}"
        )
    return Window.from_bounds(y0, y1, x0, x1)


def _pixels(
    ctx: CodecContext, windows: list[Window], run: Runner, *, group: int = 1,
    stats: dict[str, Any] | None = None, progress: Any = None, cache: PartCache | None = None,
) -> Iterator[np.ndarray]:
    """Pixels of each padded-image window in order, running only the tasks they need."""
    stages = region_stages(ctx, windows)
    run.set_context(ctx)
    targets = [(Names.REGION, (n, 0)) for n in range(len(windows))]
    for _, part in demand(stages, targets, run, group=group, stats=stats, progress=progress, cache=cache):
        yield part.value


def region_cache(ctx: CodecContext, max_bytes: int) -> PartCache:
    """A cache for the latent tasks (``ẑ``, ``h_s``, every phase of ``ŷ``) that region
    reads of ``ctx``'s image share (see :mod:`tilestream.cache`)."""
    names = {s.name for s in region_stages(ctx, [ctx.layout.image_window(0, 0)])} - {Names.REGION}
    return PartCache(max_bytes, names)


def decode_region(
    ctx: CodecContext, window: Window, *, run: Runner | None = None, stats: dict[str, Any] | None = None,
    cache: PartCache | None = None,
) -> np.ndarray:
    """Pixels of an image ``window`` ``(h, w, C)``, decoding only the chunks it needs.

    Follows the dependencies back through every stage -- ``ẑ`` chunks, ``h_s``, each phase
    of a context model, sheared tiles of a serial context -- and runs each needed task once.

    Parameters
    ----------
    ctx : CodecContext
        An opened container (:func:`~tilestream.pipeline.coded_context`).
    window : Window
        The region in image pixels.
    run : Runner, optional
        Where to run (default: local threads).
    stats : dict, optional
        Receives the tasks run (see :func:`tilestream.schedule.demand`).
    cache : PartCache, optional
        Latent results kept from earlier reads (:func:`region_cache`): used, and filled.
    """
    lay = ctx.layout
    out = np.empty((*window.shape, ctx.pixel_format.channels), ctx.pixel_format.dtype)
    block = ctx.block or lay.block  # the transform block
    if window.y.size * window.x.size <= block * block:
        parts = [window]  # one synthesis: no halo paid per block the region touches
    else:  # a large region: synthesised block by block, each within a block's memory
        grid = BlockGrid(lay.padded_shape, (block, block))
        parts = [grid.window(bi, bj).intersect(window) for bi, bj in grid.touching(window)]
    pixels = _pixels(ctx, parts, run or Runner(), group=len(parts), stats=stats, cache=cache)
    for part, values in zip(parts, pixels):
        dst = part.to_slices(window)
        out[dst[0], dst[1]] = values
    return out


def region_tiles(
    ctx: CodecContext,
    window: Window,
    block: int,
    *,
    scheduler: Any = None,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """Decode ``window`` one output tile of ``block`` pixels at a time, row-major, in the
    region's own coordinates; one row of tiles per computation on ``scheduler``."""
    grid = BlockGrid(window.shape, (block, block))
    tiles = [tile for _, tile in grid]
    parts = [Window(t.y.shift(window.y.start), t.x.shift(window.x.start)) for t in tiles]
    update, close = progress_bar(len(tiles), "decode region", progress, unit="tile")
    try:
        with runner(scheduler, num_workers) as run:
            pixels = _pixels(ctx, parts, run, group=grid.grid_shape[1], progress=update)
            yield from zip(tiles, pixels)
    finally:
        close()


def decode_latent(ctx: CodecContext, window: Window | None = None) -> np.ndarray:
    """The decoded latent ``ŷ`` ``(M, h, w)`` over a latent ``window`` (default: all of it),
    computing only the chunks, phases and tiles it needs (for checks and benchmarks)."""
    lay = ctx.layout
    window = Window.full(lay.y_shape) if window is None else window
    codec = ctx.codec()
    stages = latent_stages(ctx)
    last = stages[-1].name
    indices = sorted(codec.latent_grid(lay).touching(window))
    run = Runner()
    run.set_context(ctx)
    parts = {index: part.value for (_, index), part in demand(stages, [(last, i) for i in indices], run, group=len(indices))}
    return codec.gather(lay, parts, window)
