"""Encode: a source, block by block, into a container."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

import sys

from tilestream.container import ContainerMeta, ContainerWriter
from tilestream.container.schema import format_version_for
from tilestream.entropy import codec_for
from tilestream.entropy.base import EntropyGuard
from tilestream.geometry import CodecLayout
from tilestream.io.open import open_source
from tilestream.io.sinks import prepare_output
from tilestream.io.stats import fit_value_range
from tilestream.models.registry import model_channels, transforms
from tilestream.models.spec import spec_for
from tilestream.overlap import transform_overlap
from tilestream.pipeline.runtime import DEFAULT_BLOCK, check_block, check_chunk, progress_bar, resolve_batch, resolve_device, runner, wavefront_band
from tilestream.errors import TilestreamError
from tilestream.pipeline.resume import fingerprint, pack_state, resume_point, stream_bytes, unpack_state
from tilestream.pipeline.stages import encode_stages, group_prefixes, group_streams
from tilestream.storage import Location
from tilestream.schedule import wavefront
from tilestream.tasks import CodecContext

__all__ = ["EncodeResult", "encode"]


def _restored_state(writer: ContainerWriter, stages: list, start: int, cols: int) -> dict | None:
    """The saved held results of serial-context stages for a restart at ``start``, if the
    last recorded step saved them and the restart is right after it."""
    if not writer.progress or start != int(writer.progress["step"]) + 1:
        return None
    data = writer.read_state()
    if data is None:
        return None
    return unpack_state(data, start - 1, {s.name: s.cols or cols for s in stages})


@dataclass(frozen=True)
class EncodeResult:
    """Summary of an encode."""

    path: str
    image_shape: tuple[int, int]
    stream_bytes: int
    bpp: float
    #: entropy chunks (the container's grid)
    blocks: int


def _version() -> str:
    from tilestream import __version__

    return __version__


def encode(
    source: Any,
    output: str | os.PathLike[str],
    *,
    model: nn.Module | str | None = None,
    quality: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    pretrained: bool = False,
    block: int = DEFAULT_BLOCK,
    chunk: int | None = None,
    device: str | torch.device | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    num_workers: int | None = None,
    nodata: float | None = None,
    transfer: str = "auto",
    resume: bool = False,
    storage_options: dict[str, Any] | None = None,
    batch: int | None = None,
) -> EncodeResult:
    """Compress an image block by block into a container.

    Parameters
    ----------
    source : path, zarr.Array, numpy.ndarray, dask.array.Array or Source
        A TIFF / BigTIFF (tiled or striped), a zarr array, or an array; uint8, uint16,
        int16, uint32, int32 or float32 (float64 read as float32), grayscale or three
        bands, axes YX, YXS or SYX. Read lazily, one block window at a time.
    output : path or URL
        Container to write: a folder (zarr v3 group), a ``.zip`` file, or a folder on any
        fsspec storage (``s3://bucket/scene.tsz``).
    model : nn.Module, str or None
        A CompressAI model object, a registry name (then give ``checkpoint`` or
        ``pretrained``), or ``None`` for the bundled default model at ``quality`` (1-3).
    quality, checkpoint, pretrained
        How to get the weights for a model name (see :func:`~tilestream.models.spec.spec_for`).
    block : int
        Transform block side in pixels, a multiple of 64 (default 512): ``g_a`` runs one
        block (and its halo) at a time, which bounds the activation memory.
    chunk : int, optional
        Entropy chunk side in pixels, a multiple of ``block`` (default: 1024, or the block
        when it is larger): each chunk's latents are their own rANS streams, the unit of
        random access of region decodes. Larger chunks cost fewer bytes of stream flush
        and framing (under 0.1 % at 1024 px, about 0.3-1 % at 512-256 px for the default
        model at its lowest rate); smaller ones make region reads cheaper.
    device : str, optional
        Torch device of the transforms (default CPU).
    scheduler : str or distributed.Client, optional
        A dask scheduler address or client, or ``"processes"`` for a local cluster of
        ``num_workers`` single-threaded worker processes; default: local threads.
    overwrite : bool
        Replace an existing output.
    progress : bool, optional
        Show a progress bar (default: when stderr is a terminal).
    num_workers : int, optional
        Threads of the local scheduler (worker processes with ``"processes"``).
    nodata : float, optional
        Value of pixels without data (all bands); default: the source's GDAL_NODATA tag.
        Their mask is coded losslessly, they are filled with each band's mean before
        encoding, and they decode to exactly this value.
    transfer : {"auto", "linear", "sqrt"}
        Curve of samples wider than 8 bits after the per-band linear map onto the model's
        range: ``"auto"`` takes a square root for bands whose values crowd the bottom of
        their range (:func:`~tilestream.io.stats.fit_value_range`).
    resume : bool
        Continue an interrupted encode to ``output`` from the chunks it wrote and verified
        (see :mod:`tilestream.pipeline.resume`); the source, weights and settings must be
        the same. The result is byte for byte what an uninterrupted encode writes.
    storage_options : dict, optional
        fsspec options for URLs of the source and the output (e.g. ``{"endpoint_url":
        ...}``), over ``TILESTREAM_STORAGE_OPTIONS`` and the filesystem's own environment.
    batch : int, optional
        Blocks of a row that ``g_a`` runs as one forward pass (default 1 on the CPU, 4 on
        a GPU); the container is byte for byte the same whatever the batch.

    Returns
    -------
    EncodeResult
    """
    resolve_batch(batch, "cpu")  # a malformed batch fails before anything is written
    block = check_block(block)
    chunk = check_chunk(chunk, block)
    src = open_source(source, storage_options=storage_options)
    location = Location.of(output, storage_options)
    out = location.url
    if not resume:
        prepare_output(location, overwrite)
    elif location.is_local and not os.path.isdir(os.path.dirname(os.path.abspath(out))):
        raise TilestreamError(f"nothing to resume: folder {os.path.dirname(os.path.abspath(out))!r} does not exist; run without --resume")
    dev = resolve_device(device)
    batch = resolve_batch(batch, dev)
    spec, loaded = spec_for(model, quality=quality, checkpoint=checkpoint, pretrained=pretrained)
    codec = codec_for(loaded)
    layout = CodecLayout(src.shape, chunk, align=codec.align)
    fmt = src.pixel_format if nodata is None else src.pixel_format.with_nodata(nodata)
    fmt = fit_value_range(src, fmt, transfer=transfer)  # the per-band mapping into the model's range (wide samples)
    fmt = fmt.with_model_channels(model_channels(loaded))  # bands are coded that many at a time
    guard = EntropyGuard.here(dev) if codec.index_guard else None  # the cross-device guard (1.4)
    order = codec.sample_order  # "wavefront" for serial contexts (container 1.5), else "raster"
    plan = CodecContext(spec, layout, dev, src, None, fmt, guard=guard, block=block, sample_order=order)
    meta = ContainerMeta(
        model={**spec.record(), "family": codec.family},
        stream_grids={p + k: v for p in group_prefixes(plan) for k, v in codec.stream_grids(layout).items()},
        phases=codec.describe(),
        image_shape=src.shape,
        channels=fmt.channels,
        dtype=fmt.dtype,
        pixel_format=fmt.to_attrs(),
        block=chunk,
        align=layout.align,
        padded_shape=layout.padded_shape,
        y_shape=layout.y_shape,
        z_shape=layout.z_shape,
        grid_shape=layout.grid_shape,
        streams=group_streams(plan, codec.streams),
        halos={name: transform_overlap(module, name)["halo"] for name, module in transforms(loaded).items()},
        source_layout=src.layout,
        source_metadata=dict(src.metadata),
        tilestream_version=_version(),
        format_version=format_version_for(fmt, guarded=guard is not None, sample_order=order),
        entropy_guard=guard.to_attrs() if guard is not None else {},
        sample_order=order,
    )
    h, w = src.shape
    rows, cols = layout.grid_shape
    print_ = progress is not False
    with runner(scheduler, num_workers, batch) as run:  # an unreachable scheduler fails before anything is written
        fp = fingerprint(meta, src, block)
        band = wavefront_band(codec, layout, num_workers)
        start, start_bytes = 0, 0
        preload = None
        stages = encode_stages(plan)
        if resume:
            writer = ContainerWriter.resume(location, meta, fp)
            if writer.progress:
                band = int(writer.progress.get("band", band))
            start, bad = resume_point(writer.store, meta, stages, writer.progress, band)
            preload = _restored_state(writer, stages, start, cols)
            if print_:
                print(f"tilestream: resuming {out} at wavefront step {start}"
                      + (f" ({len(bad)} damaged chunk(s) rewritten: {', '.join(bad[:3])})" if bad else ""), file=sys.stderr)
        else:
            writer = ContainerWriter(location, meta, fp)
        ctx = replace(plan, store_root=writer.tmp_location)
        stages = encode_stages(ctx)
        update, close = progress_bar(rows * sum(s.cols or cols for s in stages), "encode", progress)
        stats: dict[str, int] = {}
        try:
            run.set_context(ctx)
            on_step = lambda t, nbytes: writer.record_progress(t, nbytes, band)  # noqa: E731
            on_state = lambda t, parts: writer.record_state(t, pack_state(t, parts))  # noqa: E731
            for _ in wavefront(
                stages, rows, cols, run, update, stats, band=band, start=start, start_bytes=start_bytes,
                on_step=on_step, preload=preload, on_state=on_state,
            ):
                pass
            total = stream_bytes(writer.store, meta) if resume else stats["bytes"]
            writer.commit({"stream_bytes": total, "bpp": total * 8 / (h * w)})
        except KeyboardInterrupt:  # keep what is written: 'encode --resume' continues from it
            raise
        except BaseException:
            writer.abort()
            raise
        finally:
            close()
    return EncodeResult(out, src.shape, total, total * 8 / (h * w), rows * cols)
