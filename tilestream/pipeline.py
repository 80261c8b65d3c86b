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


def _encode_stages(ctx: CodecContext, hyper: bool) -> list[Stage]:
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
    meta = ContainerMeta(
        model={**spec.record(), "family": codec.family},
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
    update, close = _progress(rows * cols * len(stages), "encode", progress)
    total = 0
    try:
        runner = Runner(client, num_workers)
        runner.set_context(ctx)
        for name, _, row in wavefront(stages, rows, cols, runner, update):
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
    update, close = _progress(rows * cols * len(stages), "decode", progress)
    client = open_client(scheduler)
    runner = Runner(client, num_workers)
    runner.set_context(ctx)
    try:
        for name, r, row in wavefront(stages, rows, cols, runner, update):
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

    y_cache: dict[tuple[int, int], np.ndarray] = {}
    z_cache: dict[tuple[int, int], np.ndarray] = {}
    current_row = -1
    for (i, _), tile in BlockGrid(window.shape, (block, block)):
        part = Window(tile.y.shift(window.y.start), tile.x.shift(window.x.start))
        if i != current_row:  # a new row of tiles: forget chunks above what it needs
            current_row = i
            first = min(r for r, _ in ctx.layout.y_grid.touching(ctx.y_window_for_pixels(part)))
            for key in [k for k in y_cache if k[0] < first]:
                del y_cache[key]
            z_first = min(r for r, _ in ctx.layout.z_grid.touching(ctx.z_window_for_y(first, 0)))
            for key in [k for k in z_cache if k[0] < z_first]:
                del z_cache[key]
        yield tile, decode_region(ctx, part, y_cache, z_cache)


def _region_window(region: tuple[int, int, int, int], shape: tuple[int, int]) -> Window:
    y0, y1, x0, x1 = region
    h, w = shape
    if not (0 <= y0 < y1 <= h and 0 <= x0 < x1 <= w):
        raise TilestreamError(
            f"region {y0}:{y1},{x0}:{x1} is outside the image of {h}x{w} or empty; use "
            f"0 <= Y0 < Y1 <= {h} and 0 <= X0 < X1 <= {w}"
        )
    return Window.from_bounds(y0, y1, x0, x1)


def decode_region(
    ctx: CodecContext,
    window: Window,
    y_cache: dict[tuple[int, int], np.ndarray] | None = None,
    z_cache: dict[tuple[int, int], np.ndarray] | None = None,
) -> np.ndarray:
    """Pixels of an image ``window``, decoding only the chunks it needs (halos included).

    Runs in this process, block by block over the part of the grid the window touches.
    ``y_cache`` / ``z_cache`` may carry decoded chunks between calls.
    """
    lay = ctx.layout
    out = np.empty((*window.shape, ctx.channels), np.uint8)
    hyper = ctx.codec().has_hyperprior
    z_cache = {} if z_cache is None else z_cache
    y_cache = {} if y_cache is None else y_cache
    for bi, bj in lay.image_grid.touching(window):
        part = lay.image_window(bi, bj).intersect(window)
        need = ctx.y_window_for_pixels(part)
        for yi in lay.y_grid.touching(need):
            if yi not in y_cache:
                z_parts = None
                if hyper:
                    z_need = lay.z_grid.touching(ctx.z_window_for_y(*yi))
                    for zi in z_need:
                        if zi not in z_cache:
                            z_cache[zi] = tasks.decode_hyper(ctx, *zi)
                    z_parts = {zi: z_cache[zi] for zi in lay.z_grid.touching(ctx.z_window_for_y(*yi))}
                y_cache[yi] = tasks.decode_latent(ctx, *yi, z_parts)
        y_parts = {yi: y_cache[yi] for yi in lay.y_grid.touching(need)}
        pixels = tasks.synthesise(ctx, part, y_parts)
        dst = part.to_slices(window)
        out[dst[0], dst[1]] = pixels
    return out
