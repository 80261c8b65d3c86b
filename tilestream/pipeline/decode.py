"""Decode: open a container with its weights, and stream it block by block into a sink."""

from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
from torch import nn

from tilestream.container import ContainerReader
from tilestream.container.schema import ContainerError
from tilestream.entropy.base import EntropyGuard
from tilestream.geometry import CodecLayout, Window
from tilestream.io import geotiff
from tilestream.io.sinks import output_format, prepare_output, sink_for
from tilestream.models.spec import ModelSpec, WeightsError, spec_for
from tilestream.errors import TilestreamError
from tilestream.pipeline.journal import Journal
from tilestream.pipeline.resume import pack_state, unpack_state
from tilestream.pipeline.runtime import DEFAULT_BLOCK, check_block, progress_bar, resolve_batch, resolve_device, runner, wavefront_band
from tilestream.pipeline.stages import decode_stages
from tilestream.schedule import wavefront
from tilestream.storage import Location
from tilestream.tasks import CodecContext

__all__ = ["coded_context", "decode", "decode_blocks"]


def _spec(reader: ContainerReader, model: nn.Module | str | None, checkpoint: Any) -> ModelSpec:
    record = reader.meta.model
    if model is None and record.get("bundled") and checkpoint is None:
        spec, _ = spec_for(None, quality=record.get("quality"))
    elif model is None or isinstance(model, str):
        name = record["name"] if model is None else model
        if name != record["name"]:
            raise WeightsError(f"{reader.path!r} was encoded with {record['name']}, not {name}; omit --model")
        spec, _ = spec_for(
            name, quality=record.get("quality"), checkpoint=checkpoint,
            pretrained=bool(record.get("pretrained")) and checkpoint is None,
        )
    else:
        spec, _ = spec_for(model)
    if spec.sha256 != record["sha256"]:
        raise WeightsError(
            f"{reader.path!r} was encoded with weights {record['sha256'][:12]}… "
            f"({record['name']}, checkpoint {record.get('checkpoint')}), but the given weights "
            f"{'(checkpoint ' + repr(spec.checkpoint) + ') ' if spec.checkpoint else ''}"
            f"are {spec.sha256[:12]}…; pass the same weights to decode"
        )
    return spec


def coded_context(
    reader: ContainerReader, model: nn.Module | str | None = None, checkpoint: Any = None, device: Any = None,
    block: int | None = None,
) -> CodecContext:
    """The task context for decoding ``reader``'s container: its weights (checked against
    the SHA-256 it records), layout, pixel format and device.

    Parameters
    ----------
    reader : ContainerReader
        The open container.
    model, checkpoint
        The weights, when they are not the bundled ones or the recorded checkpoint (a
        model object, or a checkpoint for the recorded model name).
    device : str, optional
        Torch device for decoding (default CPU).
    block : int, optional
        Transform block in pixels: ``g_s`` runs over a chunk this many pixels at a time
        (default 512; any multiple of 64, whatever block the encoder used).

    Raises
    ------
    WeightsError
        If the weights differ from the container's.
    """
    block = check_block(DEFAULT_BLOCK if block is None else block)
    meta = reader.meta
    spec = _spec(reader, model, checkpoint)
    layout = CodecLayout(meta.image_shape, meta.block, align=meta.align)
    if layout.padded_shape != meta.padded_shape or layout.grid_shape != meta.grid_shape:
        raise ContainerError(f"{reader.path!r} has an inconsistent layout; re-encode it")
    guard = EntropyGuard.from_attrs(meta.entropy_guard)  # None for containers before 1.4
    return CodecContext(
        spec, layout, resolve_device(device), None, reader.location, reader.pixel_format, guard=guard,
        block=block if block < meta.block else None, sample_order=meta.sample_order,
    )


def decode_blocks(
    ctx: CodecContext,
    *,
    scheduler: Any = None,
    progress: bool | None = None,
    num_workers: int | None = None,
    stages: list[Any] | None = None,
    journal: Journal | None = None,
    resume_from: dict[str, Any] | None = None,
    batch: int | None = None,
) -> Iterator[tuple[Window, np.ndarray]]:
    """Decoded blocks ``(window in image pixels, (h, w, C) samples)`` in row-major order
    (of ``stages``, default :func:`~tilestream.pipeline.stages.decode_stages`).

    With a ``journal``, every finished wavefront step is recorded in it (the blocks it
    yielded are written by then: a step ends only when its consumer asks for more);
    ``resume_from`` (a record of that journal) starts after its step and yields only the
    later blocks. ``batch``: image blocks of a row per forward pass of ``g_s``
    (:func:`~tilestream.pipeline.runtime.resolve_batch`)."""
    batch = resolve_batch(batch, ctx.device)
    rows, cols = ctx.layout.grid_shape
    stages = decode_stages(ctx) if stages is None else stages
    update, close = progress_bar(rows * sum(s.cols or cols for s in stages), "decode", progress)
    band = wavefront_band(ctx.codec(), ctx.layout, num_workers)
    start, preload = 0, None
    if resume_from is not None and journal is not None:
        band, start = int(resume_from["band"]), int(resume_from["step"]) + 1
        data = journal.read_state(resume_from)
        if data is not None:
            preload = unpack_state(data, start - 1, {s.name: s.cols or cols for s in stages})
    hooks: dict[str, Any] = {}
    if journal is not None:
        hooks = {
            "on_step": lambda t, _bytes: journal.record(t, band),
            "on_state": lambda t, parts: journal.record_state(t, pack_state(t, parts)),
        }
    try:
        with runner(scheduler, num_workers, batch) as run:
            run.set_context(ctx)
            for _, r, row in wavefront(stages, rows, cols, run, update, band=band, start=start, preload=preload, **hooks):
                for j, part in enumerate(row):
                    yield ctx.layout.image_window(r, j).clip(ctx.layout.image_shape), part.value
                row = part = None  # a row of pixels is held by the sink alone while the next step runs
    finally:
        close()


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
    storage_options: dict[str, Any] | None = None,
    on_damage: str = "fail",
    damage_report: str | os.PathLike[str] | None = None,
    resume: bool = False,
    format: str = "auto",  # noqa: A002 - the CLI's --format
    overviews: bool = False,
    compress: str = "deflate",
    resampling: str = "average",
    batch: int | None = None,
    block: int | None = None,
) -> str:
    """Decode a container into a tiled BigTIFF (``.tif``/``.tiff``) or a zarr array.

    Parameters
    ----------
    container : path or URL
        A container written by :func:`~tilestream.encode` (local, or on any fsspec storage).
    output : path or URL
        ``*.tif`` / ``*.tiff`` for a tiled BigTIFF, anything else for a zarr v3 array.
    model, checkpoint
        The weights, when the container was not made with a named model's checkpoint that
        is given again (they must hash to the container's SHA-256).
    device : str, optional
        Torch device (default CPU).
    scheduler : str or distributed.Client, optional
        A dask scheduler address or client, or ``"processes"`` for a local cluster of
        ``num_workers`` single-threaded worker processes; default: local threads.
    overwrite : bool
        Replace an existing output.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    region : tuple of int, optional
        ``(y0, y1, x0, x1)``: decode only this region (only the chunks it needs).
    num_workers : int, optional
        Threads of the local scheduler (worker processes with ``"processes"``).
    storage_options : dict, optional
        fsspec options for URLs of the container and the output.

    on_damage : {"fail", "fill"}
        ``"fail"`` (default): a damaged chunk stops the decode with a
        :class:`~tilestream.container.ContainerError` naming it. ``"fill"``: verify every
        checksum first, decode everything else and fill the pixels that depend on damaged
        chunks with the nodata value (or 0); see :mod:`tilestream.pipeline.damage`.
    damage_report : path, optional
        With ``on_damage="fill"``, where the JSON report goes when anything was damaged
        (default ``OUTPUT.damage.json``).
    resume : bool
        Continue an interrupted whole-image decode to a zarr output from the block rows it
        wrote (same container, weights, device and settings; recorded in a journal inside
        the partial output), or to a local TIFF. A TIFF on object storage is uploaded whole
        and cannot be continued; region decodes, Cloud-Optimized GeoTIFFs and
        ``on_damage="fill"`` are not resumable.
    format : {"auto", "tiff", "cog", "ome-tiff", "zarr", "ome-zarr"}
        Output format; ``"auto"``: a tiled BigTIFF for ``*.tif`` (with ``overviews`` a
        Cloud-Optimized GeoTIFF, or a pyramidal OME-TIFF for ``*.ome.tif``), otherwise a
        zarr array (an OME-Zarr multiscale image with ``overviews``).
    overviews : bool
        Reduce the decoded image into a pyramid down to one tile while decoding (a COG's
        internal overviews; implied by ``format="cog"``).
    compress : {"deflate", "zstd", "lzw", "jpeg", "none"}
        Compression of a COG's or OME-TIFF's tiles (default deflate, lossless; jpeg: 8-bit, 1 or 3 bands).
    resampling : {"average", "nearest", "mode"}
        How overviews are reduced: area mean (default), or nearest / mode for categorical
        rasters and masks; nodata respected.
    batch : int, optional
        Image blocks of a row that ``g_s`` runs as one forward pass (default 1 on the
        CPU, 4 on a GPU); the pixels are the same whatever the batch.
    block : int, optional
        Transform block in pixels, a multiple of 64 (default 512): ``g_s`` runs one block
        and its halo at a time, which bounds its memory; the pixels are the same whatever
        the block (up to ties of rounding).

    Returns
    -------
    str
        The output path (with ``on_damage="fill"`` a :class:`~tilestream.pipeline.damage.Decoded`,
        whose ``damage`` is the report, or ``None`` when nothing was damaged).
    """
    from tilestream.pipeline.damage import check_on_damage, decode_filling
    from tilestream.pipeline.region import region_tiles, region_window

    resolve_batch(batch, "cpu")  # a malformed batch fails before anything is written
    check_block(DEFAULT_BLOCK if block is None else block)
    kind = output_format(output, format, overviews)
    sink_options = dict(fmt=kind, compress=compress, resampling=resampling)
    if check_on_damage(on_damage) == "fill":
        if resume:
            raise TilestreamError("--resume cannot be combined with --on-damage fill; run the fill decode again without --resume")
        return decode_filling(
            container, output, damage_report=damage_report, model=model, checkpoint=checkpoint, device=device,
            scheduler=scheduler, overwrite=overwrite, progress=progress, region=region,
            num_workers=num_workers, storage_options=storage_options, sink_options=sink_options, block=block,
        )

    if resume:
        _check_resumable(output, region, storage_options)
        if kind in ("cog", "ome-tiff", "ome-zarr"):
            raise TilestreamError(f"a {kind} output (with overviews) cannot be resumed; run again without --resume")
    location = prepare_output(output, overwrite or resume, storage_options)  # resume: checked above
    out = location.url
    with ContainerReader(container, storage_options) as reader:
        ctx = coded_context(reader, model, checkpoint, device, block)
        block = reader.meta.block
        metadata = dict(reader.meta.source_metadata)
        if region is not None:
            window = region_window(region, reader.meta.image_shape)
            if "geotiff" in metadata:
                metadata["geotiff"] = geotiff.for_region(metadata["geotiff"], window.y.start, window.x.start)
            tile = ctx.block or block  # a region is synthesised one transform block at a time
            blocks = region_tiles(
                ctx, window, tile, scheduler=scheduler, progress=progress, num_workers=num_workers
            )
            shape = window.shape
            sink_for(location, shape, ctx.pixel_format, tile, reader.meta.source_layout, metadata, **sink_options).consume(blocks)
            return out
        shape = reader.meta.image_shape
        sink = sink_for(location, shape, ctx.pixel_format, block, reader.meta.source_layout, metadata, **sink_options)
        journal, record = None, None
        if sink.resumable:
            journal = sink.journal = Journal(sink.journal_location, _fingerprint(reader, ctx, sink))
            if resume:
                record = journal.load()
                if record is None:
                    raise TilestreamError(
                        f"nothing to resume: no partial decode at {sink.journal_location.url!r}; run without --resume"
                    )
                sink.resume = True
                if progress is not False:
                    print(f"tilestream: resuming {out} at wavefront step {int(record['step']) + 1}", file=sys.stderr)
        blocks = decode_blocks(
            ctx, scheduler=scheduler, progress=progress, num_workers=num_workers, journal=journal, resume_from=record,
            batch=batch,
        )
        sink.consume(blocks)
    return out


def _check_resumable(output: Any, region: Any, storage_options: dict[str, Any] | None) -> None:
    """Refuse ``resume`` where it cannot work, and a finished output, in one line."""
    location = Location.of(output, storage_options)
    if region is not None:
        raise TilestreamError("--resume applies to whole-image decodes; run the region decode again without --resume")
    if location.url.lower().endswith((".tif", ".tiff")) and not location.is_local:
        raise TilestreamError(
            f"output {location.url!r}: a TIFF on object storage is assembled on local disk and uploaded "
            f"whole, so it cannot be resumed; run again without --resume, or decode to a zarr output "
            f"(a name without .tif) to be able to resume"
        )
    # a local output appears by a rename when complete; a remote zarr output is written in
    # place and gets its root zarr.json last
    complete = location.exists() if location.is_local else location.join("zarr.json").exists()
    if complete:
        raise TilestreamError(f"nothing to resume: {location.url!r} is complete already; use it, or pass --overwrite instead of --resume")


def _fingerprint(reader: ContainerReader, ctx: CodecContext, sink: Any) -> str:
    """What a decode's output depends on: the container's metadata (weights' hash
    included), the device and the output's kind and layout."""
    attrs = reader.meta.to_attrs()
    attrs.pop("tilestream_version", None)
    record = [attrs, str(ctx.device), type(sink).__name__, reader.meta.source_layout]
    return hashlib.sha256(json.dumps(record, sort_keys=True, default=str).encode()).hexdigest()
