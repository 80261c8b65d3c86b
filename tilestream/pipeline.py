"""Encode and decode pipelines: the only module that wires tasks into dask computations.

``encode`` reads a source lazily block by block, runs ``g_a`` → ``h_a`` → entropy coding
as a row wavefront (see :mod:`tilestream.schedule`) and writes every chunk's bytes to the
container as soon as it is coded. ``decode`` streams the other way into a sink. Neither
ever holds the whole image or the whole latent.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from tilestream import tasks
from tilestream.container import ContainerMeta, ContainerReader, ContainerWriter
from tilestream.container.schema import ContainerError
from tilestream.entropy import codec_for
from tilestream.errors import TilestreamError
from tilestream.geometry import CodecLayout, Window
from tilestream.io.base import Source
from tilestream.io.open import open_source
from tilestream.io.sinks import Sink, TiffSink, ZarrSink, prepare_output
from tilestream.models.registry import transforms
from tilestream.models.spec import ModelSpec, WeightsError, spec_for
from tilestream.overlap import transform_overlap
from tilestream.schedule import Runner, Stage, wavefront
from tilestream.tasks import CodecContext

__all__ = ["DEFAULT_BLOCK", "EncodeResult", "encode", "decode", "decode_region", "open_client"]

#: default block side in pixels: 512 keeps a block's activations around 0.5 GB for zoo models
DEFAULT_BLOCK = 512


@dataclass(frozen=True)
class EncodeResult:
    """Summary of an encode."""

    path: str
    image_shape: tuple[int, int]
    stream_bytes: int
    bpp: float
    blocks: int


def open_client(scheduler: Any) -> Any:
    """A ``distributed.Client`` for an address or client, or ``None`` for threads."""
    if scheduler is None or scheduler == "threads":
        return None
    if isinstance(scheduler, str):
        from distributed import Client

        try:
            return Client(scheduler, timeout="10s")
        except OSError as exc:
            raise TilestreamError(
                f"cannot reach dask scheduler {scheduler!r} ({exc}); start one with "
                f"'dask scheduler' or omit --scheduler to use local threads"
            ) from exc
    return scheduler


def _progress(total: int, label: str, enabled: bool | None) -> tuple[Callable[[int], None], Callable[[], None]]:
    if enabled is None:
        enabled = sys.stderr.isatty()
    if not enabled:
        return (lambda n: None), (lambda: None)
    from tqdm import tqdm

    bar = tqdm(total=total, desc=label, unit="block", leave=False)
    return bar.update, bar.close


def _neighbours(grid_for: Callable[[int, int], Window], grid: Any) -> Callable[[int, int], list[tuple[int, int]]]:
    return lambda i, j: sorted(grid.touching(grid_for(i, j)))


# -- stage functions (module level: picklable for distributed workers) -------------------
def _y_task(ctx: CodecContext, i: int, j: int) -> np.ndarray:
    return tasks.analyse_block(ctx, i, j)


def _z_task(ctx: CodecContext, i: int, j: int, ys: tasks.Chunks) -> tuple[np.ndarray, int]:
    return tasks.hyper_chunk(ctx, i, j, ys)


def _code_task(ctx: CodecContext, i: int, j: int, ys: tasks.Chunks, zs: Any = None) -> int:
    z_parts = None if zs is None else {k: v[0] for k, v in zs.items()}
    return tasks.code_latent(ctx, i, j, ys[(i, j)], z_parts)


def _zhat_task(ctx: CodecContext, i: int, j: int) -> np.ndarray:
    return tasks.decode_hyper(ctx, i, j)


def _yhat_task(ctx: CodecContext, i: int, j: int, zs: Any = None) -> np.ndarray:
    return tasks.decode_latent(ctx, i, j, zs)


def _pix_task(ctx: CodecContext, i: int, j: int, ys: tasks.Chunks) -> np.ndarray:
    return tasks.synthesise(ctx, ctx.layout.image_window(i, j), ys)


def _z_size(result: tuple[np.ndarray, int]) -> int:
    return int(result[1])


def _int(result: int) -> int:
    return int(result)


def _values(parts: dict[Any, Any]) -> dict[Any, np.ndarray]:
    return {k: v[0] for k, v in parts.items()}


def _z_parts(zs: dict[Any, Any]) -> dict[Any, np.ndarray]:
    """``ẑ`` chunks from the encoder's ``(ẑ, bytes)`` results or the decoder's ``ẑ``."""
    return {k: v[0] if isinstance(v, tuple) else v for k, v in zs.items()}


def _hs_task(ctx: CodecContext, i: int, j: int, zs: Any) -> np.ndarray:
    return tasks.side_params(ctx, i, j, _z_parts(zs))


def _phase_task(k: int, ctx: CodecContext, i: int, j: int, hs: Any, prev: Any = None, ys: Any = None) -> tuple[np.ndarray, int]:
    context = None if prev is None else _values(prev)
    y = None if ys is None else ys[(i, j)]
    return tasks.run_phase(ctx, k, i, j, hs[(i, j)], context, y)


def _encode_phase_task(k: int, ctx: CodecContext, i: int, j: int, ys: Any, hs: Any, prev: Any = None) -> tuple[np.ndarray, int]:
    return _phase_task(k, ctx, i, j, hs, prev, ys)


def _tile_task(ctx: CodecContext, i: int, j: int, zs: Any, tiles: Any, ys: Any = None) -> tuple[np.ndarray, int]:
    return tasks.code_tile(ctx, i, j, _z_parts(zs), _values(tiles), ys)


def _phase_pixels_task(ctx: CodecContext, i: int, j: int, ys: Any) -> np.ndarray:
    return tasks.synthesise(ctx, ctx.layout.image_window(i, j), _values(ys))


def _hyper_stages(ctx: CodecContext, encoding: bool) -> list[Stage]:
    """``z`` stages shared by the context-model families."""
    lay = ctx.layout
    if encoding:
        return [Stage("y", _y_task), Stage("z", _z_task, {"y": _neighbours(ctx.y_window_for_z, lay.y_grid)}, report=_z_size)]
    return [Stage("zhat", _zhat_task)]


def _phased_stages(ctx: CodecContext, encoding: bool) -> list[Stage]:
    """Checkerboard / ELIC: ``h_s`` once per chunk, then one stage per phase; phase ``k`` of a
    chunk reads phase ``k − 1`` of the chunks its context window touches."""
    lay = ctx.layout
    z = "z" if encoding else "zhat"
    stages = _hyper_stages(ctx, encoding)
    stages.append(Stage("hs", _hs_task, {z: _neighbours(ctx.z_window_for_y, lay.z_grid)}))
    own = lambda i, j: [(i, j)]  # noqa: E731
    phases = ctx.codec().phases  # type: ignore[attr-defined]
    for k in range(len(phases)):
        deps: dict[str, Callable[[int, int], list[tuple[int, int]]]] = {}
        if encoding:
            deps["y"] = own
        deps["hs"] = own
        if k > 0:
            window_k = _context_window_fn(ctx, k)
            deps[f"phase-{k - 1}"] = _neighbours(window_k, lay.y_grid)
        fn = partial(_encode_phase_task if encoding else _phase_task, k)
        stages.append(Stage(f"phase-{k}", fn, deps, report=_z_size if encoding else None))
    if not encoding:
        last = f"phase-{len(phases) - 1}"
        pixels_need = lambda i, j: ctx.y_window_for_pixels(lay.image_window(i, j))  # noqa: E731
        stages.append(Stage("pixels", _phase_pixels_task, {last: _neighbours(pixels_need, lay.y_grid)}, emit=True))
    return stages


def _context_window_fn(ctx: CodecContext, k: int) -> Callable[[int, int], Window]:
    def window(i: int, j: int) -> Window:
        found = ctx.context_window(k, i, j)
        assert found is not None
        return found

    return window


def _ar_stages(ctx: CodecContext, encoding: bool) -> list[Stage]:
    """Serial context: sheared tiles as a wavefront (a tile after its left neighbour and the
    tiles above / above-right it reads)."""
    lay = ctx.layout
    grid = ctx.tiles()
    z = "z" if encoding else "zhat"
    stages = _hyper_stages(ctx, encoding)
    deps: dict[str, Callable[[int, int], list[tuple[int, int]]]] = {
        z: lambda i, j: sorted(lay.z_grid.touching(ctx.z_window_for(grid.window(i, j)))) if not grid.window(i, j).empty else [],
        "tiles": grid.deps,
    }
    if encoding:
        deps["y"] = lambda i, j: sorted(lay.y_grid.touching(grid.window(i, j)))
    _, tile_cols = grid.grid_shape
    stages.append(Stage("tiles", _tile_task, deps, report=_z_size if encoding else None, cols=tile_cols))
    if not encoding:
        pixels_need = lambda i, j: ctx.y_window_for_pixels(lay.image_window(i, j))  # noqa: E731
        stages.append(
            Stage("pixels", _phase_pixels_task, {"tiles": lambda i, j: sorted(grid.touching(pixels_need(i, j)))}, emit=True)
        )
    return stages


def _encode_stages(ctx: CodecContext, hyper: bool) -> list[Stage]:
    if ctx.kind == "phased":
        return _phased_stages(ctx, encoding=True)
    if ctx.kind == "autoregressive":
        return _ar_stages(ctx, encoding=True)
    lay = ctx.layout
    own = lambda i, j: [(i, j)]  # noqa: E731
    stages = [Stage("y", _y_task)]
    if hyper:
        stages.append(Stage("z", _z_task, {"y": _neighbours(ctx.y_window_for_z, lay.y_grid)}, report=_z_size))
        stages.append(
            Stage("code", _code_task, {"y": own, "z": _neighbours(ctx.z_window_for_y, lay.z_grid)}, report=_int)
        )
    else:
        stages.append(Stage("code", _code_task, {"y": own}, report=_int))
    return stages


def _decode_stages(ctx: CodecContext, hyper: bool) -> list[Stage]:
    if ctx.kind == "phased":
        return _phased_stages(ctx, encoding=False)
    if ctx.kind == "autoregressive":
        return _ar_stages(ctx, encoding=False)
    lay = ctx.layout
    pixels_need = lambda i, j: ctx.y_window_for_pixels(lay.image_window(i, j))  # noqa: E731
    stages = []
    if hyper:
        stages.append(Stage("zhat", _zhat_task))
        stages.append(Stage("yhat", _yhat_task, {"zhat": _neighbours(ctx.z_window_for_y, lay.z_grid)}))
    else:
        stages.append(Stage("yhat", _yhat_task))
    stages.append(Stage("pixels", _pix_task, {"yhat": _neighbours(pixels_need, lay.y_grid)}, emit=True))
    return stages


def _band(ctx: CodecContext, num_workers: int | None) -> int:
    """Block rows per wavefront step.

    Enough rows that a step holds at least four tasks per worker (a narrow image would
    otherwise leave workers idle at every step's barrier); for a serial context at least
    two strips, so that their tiles run as a skewed wavefront in parallel. Memory stays
    bounded by a fixed number of blocks per step, whatever the image size.
    """
    workers = num_workers or os.cpu_count() or 2
    cols = ctx.layout.grid_shape[1]
    band = -(-4 * workers // cols)
    if ctx.kind == "autoregressive":
        band = max(band, min(4, workers), 2)
    return max(1, min(band, ctx.layout.grid_shape[0]))


def _check_block(block: int) -> int:
    if isinstance(block, bool) or not isinstance(block, int) or block < 64 or block % 64:
        raise TilestreamError(f"block {block!r} px is not a positive multiple of 64; use e.g. 256 or 512")
    return block


def _resolve_device(device: str | torch.device | None) -> str:
    if device is None:
        return "cpu"
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise TilestreamError(f"device {device!r} is not a torch device; use 'cpu' or 'cuda'") from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise TilestreamError(f"device {device!r} was requested but CUDA is not available; use --device cpu")
    return str(dev)


def encode(
    source: Any,
    output: str | os.PathLike[str],
    *,
    model: nn.Module | str | None = None,
    quality: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    pretrained: bool = False,
    block: int = DEFAULT_BLOCK,
    device: str | torch.device | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> EncodeResult:
    """Compress an image block by block into a container.

    Parameters
    ----------
    source : path, zarr.Array, numpy.ndarray, dask.array.Array or Source
        A TIFF / BigTIFF (tiled or striped), a zarr array, or an array; uint8, grayscale
        or RGB, axes YX, YXS or SYX. Read lazily, one block window at a time.
    output : path
        Container to write: a folder (zarr v3 group) or a ``.zip`` file.
    model : nn.Module, str or None
        A CompressAI model object, a registry name (then give ``checkpoint`` or
        ``pretrained``), or ``None`` for the bundled default model at ``quality`` (1-3).
    quality, checkpoint, pretrained
        How to get the weights for a model name (see :func:`~tilestream.models.spec.spec_for`).
    block : int
        Block side in pixels, a multiple of 64 (default 512).
    device : str, optional
        Torch device of the transforms (default CPU).
    scheduler : str or distributed.Client, optional
        A dask scheduler address or client; default: local threads.
    overwrite : bool
        Replace an existing output.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    num_workers : int, optional
        Threads of the local scheduler.

    Returns
    -------
    EncodeResult
    """
    src: Source = open_source(source)
    out = os.fspath(output)
    prepare_output(out, overwrite)
    block = _check_block(block)
    dev = _resolve_device(device)
    spec, loaded = spec_for(model, quality=quality, checkpoint=checkpoint, pretrained=pretrained)
    codec = codec_for(loaded)
    found = transforms(loaded)
    hyper = codec.has_hyperprior
    layout = CodecLayout(src.shape, block, align=64 if hyper else 16)
    halos = {name: transform_overlap(module, name)["halo"] for name, module in found.items()}
    ctx = CodecContext(spec, layout, dev, src, None, src.channels)
    stream_grids = {}
    if codec.kind == "autoregressive":
        stream_grids["y"] = list(ctx.tiles().grid_shape)
    meta = ContainerMeta(
        model={**spec.record(), "family": codec.family},
        stream_grids=stream_grids,
        phases=codec.describe(),
        image_shape=src.shape,
        channels=src.channels,
        block=block,
        align=layout.align,
        padded_shape=layout.padded_shape,
        y_shape=layout.y_shape,
        z_shape=layout.z_shape,
        grid_shape=layout.grid_shape,
        streams=codec.streams,
        halos=halos,
        source_layout=src.layout,
        tilestream_version=_version(),
    )
    writer = ContainerWriter(out, meta)
    client = open_client(scheduler)
    owns_client = client is not None and client is not scheduler
    ctx = CodecContext(spec, layout, dev, src, writer.tmp, src.channels)
    rows, cols = layout.grid_shape
    stages = _encode_stages(ctx, hyper)
    update, close = _progress(rows * sum(s.cols or cols for s in stages), "encode", progress)
    total = 0
    try:
        runner = Runner(client, num_workers)
        runner.set_context(ctx)
        for name, _, row in wavefront(stages, rows, cols, runner, update, band=_band(ctx, num_workers)):
            if name == "report":
                total = row[0]
        h, w = src.shape
        writer.commit({"stream_bytes": total, "bpp": total * 8 / (h * w)})
    except BaseException:
        writer.abort()
        raise
    finally:
        close()
        if owns_client:
            client.close()
    h, w = src.shape
    return EncodeResult(out, src.shape, total, total * 8 / (h * w), rows * cols)


def _version() -> str:
    from tilestream import __version__

    return __version__


def _context_for(reader: ContainerReader, model: nn.Module | str | None, checkpoint: Any, device: Any) -> CodecContext:
    meta = reader.meta
    record = meta.model
    if model is None and record.get("bundled") and checkpoint is None:
        spec, _ = spec_for(None, quality=record.get("quality"))
        model = spec  # type: ignore[assignment]
    elif model is None:
        model = record["name"]
    if isinstance(model, ModelSpec):
        spec = model
    elif isinstance(model, str):
        if model != record["name"]:
            raise WeightsError(
                f"{reader.path!r} was encoded with {record['name']}, not {model}; omit --model"
            )
        spec, _ = spec_for(
            model, quality=record.get("quality"), checkpoint=checkpoint,
            pretrained=bool(record.get("pretrained")) and checkpoint is None,
        )
    else:
        spec, _ = spec_for(model)
    if spec.sha256 != record["sha256"]:
        raise WeightsError(
            f"{reader.path!r} was encoded with weights {record['sha256'][:12]}… "
            f"({record['name']}, checkpoint {record.get('checkpoint')}), but the given weights "
            f"are {spec.sha256[:12]}…; pass the same weights to decode"
        )
    layout = CodecLayout(meta.image_shape, meta.block, align=meta.align)
    if layout.padded_shape != meta.padded_shape or layout.grid_shape != meta.grid_shape:
        raise ContainerError(f"{reader.path!r} has an inconsistent layout; re-encode it")
    return CodecContext(spec, layout, _resolve_device(device), None, reader.path, meta.channels)


def decode_blocks(
    reader: ContainerReader,
    *,
    model: nn.Module | str | None = None,
    checkpoint: Any = None,
    device: Any = None,
    scheduler: Any = None,
    progress: bool | None = None,
    num_workers: int | None = None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """Decoded blocks ``(window in image pixels, (h, w, C) uint8)`` in row-major order."""
    ctx = _context_for(reader, model, checkpoint, device)
    hyper = "z" in reader.meta.streams
    rows, cols = ctx.layout.grid_shape
    stages = _decode_stages(ctx, hyper)
    update, close = _progress(rows * sum(s.cols or cols for s in stages), "decode", progress)
    client = open_client(scheduler)
    runner = Runner(client, num_workers)
    runner.set_context(ctx)
    try:
        for name, r, row in wavefront(stages, rows, cols, runner, update, band=_band(ctx, num_workers)):
            if name != "pixels":
                continue
            for j, pixels in enumerate(row):
                window = ctx.layout.image_window(r, j).clip(ctx.layout.image_shape)
                yield window, pixels
    finally:
        close()
        if client is not None and client is not scheduler:
            client.close()


def decode(
    container: str | os.PathLike[str],
    output: str | os.PathLike[str],
    *,
    model: nn.Module | str | None = None,
    checkpoint: Any = None,
    device: Any = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    region: tuple[int, int, int, int] | None = None,
    num_workers: int | None = None,
) -> str:
    """Decode a container into a tiled BigTIFF (``.tif``/``.tiff``) or a zarr array.

    Parameters
    ----------
    container : path
        A container written by :func:`encode`.
    output : path
        ``*.tif`` / ``*.tiff`` for a tiled BigTIFF, anything else for a zarr v3 array.
    model, checkpoint
        The weights, when the container was not made with a named model's checkpoint that
        is given again (they must hash to the container's SHA-256).
    region : tuple of int, optional
        ``(y0, y1, x0, x1)``: decode only this region (only the chunks it needs).
    """
    out = os.fspath(output)
    prepare_output(out, overwrite)
    reader = ContainerReader(os.fspath(container))
    meta = reader.meta
    block = meta.block
    if region is not None:
        ctx = _context_for(reader, model, checkpoint, device)
        window = _region_window(region, meta.image_shape)
        sink_shape = window.shape
        blocks = _region_tiles(ctx, window, block)
    else:
        sink_shape = meta.image_shape
        blocks = decode_blocks(
            reader, model=model, checkpoint=checkpoint, device=device, scheduler=scheduler,
            progress=progress, num_workers=num_workers,
        )
    sink: Sink
    if out.lower().endswith((".tif", ".tiff")):
        sink = TiffSink(out, sink_shape, meta.channels, block)
    else:
        sink = ZarrSink(out, sink_shape, meta.channels, block)
    sink.consume(blocks)
    return out


def _region_tiles(ctx: CodecContext, window: Window, block: int) -> Iterator[tuple[Window, np.ndarray]]:
    """Decode ``window`` one output tile of ``block`` pixels at a time, row-major, in the
    region's own coordinates."""
    from tilestream.geometry import BlockGrid

    tiles = [
        (tile, Window(tile.y.shift(window.y.start), tile.x.shift(window.x.start)))
        for _, tile in BlockGrid(window.shape, (block, block))
    ]
    parts = [part for _, part in tiles]
    for (tile, _), (_, pixels) in zip(tiles, _demand_pixels(ctx, parts)):
        yield tile, pixels


def _demand_pixels(
    ctx: CodecContext, windows: list[Window], stats: dict[str, Any] | None = None
) -> Iterator[tuple[Any, np.ndarray]]:
    """Pixels of each image ``window`` in order, running only the tasks they need."""
    from tilestream.schedule import demand

    hyper = ctx.codec().has_hyperprior
    stages = [s for s in _decode_stages(ctx, hyper) if s.name != "pixels"]
    last = stages[-1].name
    grid = ctx.tiles() if ctx.kind == "autoregressive" else ctx.layout.y_grid

    def pixels(c: CodecContext, n: int, _: int, ys: Any) -> np.ndarray:
        found = {k: (v[0] if isinstance(v, tuple) else v) for k, v in ys.items()}
        return tasks.synthesise(c, windows[n], found)

    def needs(n: int, _: int) -> list[tuple[int, int]]:
        return sorted(grid.touching(ctx.y_window_for_pixels(windows[n])))

    stages.append(Stage("region", pixels, {last: needs}))
    return demand(stages, [("region", (n, 0)) for n in range(len(windows))], ctx, stats)


def _region_window(region: tuple[int, int, int, int], shape: tuple[int, int]) -> Window:
    y0, y1, x0, x1 = region
    h, w = shape
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise TilestreamError(
            f"region {y0}:{y1},{x0}:{x1} is outside the image of {h}x{w} or empty; use "
            f"0 <= Y0 < Y1 <= {h} and 0 <= X0 < X1 <= {w}"
        )
    return Window.from_bounds(y0, y1, x0, x1)


def decode_region(ctx: CodecContext, window: Window, stats: dict[str, Any] | None = None) -> np.ndarray:
    """Pixels of an image ``window``, decoding only the chunks it needs (halos included).

    Follows the dependencies back through every stage -- ``ẑ`` chunks, ``h_s``, each phase
    of a context model, sheared tiles of a serial context -- and runs each needed task once
    in this process. ``stats`` (optional) receives the tasks run (see
    :func:`tilestream.schedule.demand`).
    """
    out = np.empty((*window.shape, ctx.channels), np.uint8)
    lay = ctx.layout
    parts = [lay.image_window(bi, bj).intersect(window) for bi, bj in lay.image_grid.touching(window)]
    for part, (_, pixels) in zip(parts, _demand_pixels(ctx, parts, stats)):
        dst = part.to_slices(window)
        out[dst[0], dst[1]] = pixels
    return out


def decode_latent(ctx: CodecContext, window: Window | None = None) -> np.ndarray:
    """The decoded latent ``ŷ`` ``(M, h, w)`` over a latent ``window`` (default: all of it),
    computing only the chunks, phases and tiles it needs (for checks and benchmarks)."""
    from tilestream.schedule import demand

    lay = ctx.layout
    window = Window.full(lay.y_shape) if window is None else window
    stages = [s for s in _decode_stages(ctx, ctx.codec().has_hyperprior) if s.name != "pixels"]
    last = stages[-1].name
    grid = ctx.tiles() if ctx.kind == "autoregressive" else lay.y_grid
    indices = sorted(grid.touching(window))
    parts = {}
    for (_, index), value in demand(stages, [(last, index) for index in indices], ctx):
        parts[index] = value[0] if isinstance(value, tuple) else value
    return tasks.gather_y(ctx, parts, window)
