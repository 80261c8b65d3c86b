"""Encode: a source, block by block, into a container."""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import nn

from tilestream.container import ContainerMeta, ContainerWriter
from tilestream.container.schema import format_version_for
from tilestream.entropy import codec_for
from tilestream.geometry import CodecLayout
from tilestream.io.open import open_source
from tilestream.io.sinks import prepare_output
from tilestream.io.stats import fit_value_range
from tilestream.models.registry import model_channels, transforms
from tilestream.models.spec import spec_for
from tilestream.overlap import transform_overlap
from tilestream.pipeline.runtime import DEFAULT_BLOCK, check_block, progress_bar, resolve_device, runner, wavefront_band
from tilestream.pipeline.stages import encode_stages, group_prefixes, group_streams
from tilestream.schedule import wavefront
from tilestream.tasks import CodecContext

__all__ = ["EncodeResult", "encode"]


@dataclass(frozen=True)
class EncodeResult:
    """Summary of an encode."""

    path: str
    image_shape: tuple[int, int]
    stream_bytes: int
    bpp: float
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
    device: str | torch.device | None = None,
    scheduler: Any = None,
    overwrite: bool = False,
    progress: bool | None = None,
    num_workers: int | None = None,
    nodata: float | None = None,
    transfer: str = "auto",
) -> EncodeResult:
    """Compress an image block by block into a container.

    Parameters
    ----------
    source : path, zarr.Array, numpy.ndarray, dask.array.Array or Source
        A TIFF / BigTIFF (tiled or striped), a zarr array, or an array; uint8, uint16,
        int16, uint32, int32 or float32 (float64 read as float32), grayscale or three
        bands, axes YX, YXS or SYX. Read lazily, one block window at a time.
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
    nodata : float, optional
        Value of pixels without data (all bands); default: the source's GDAL_NODATA tag.
        Their mask is coded losslessly, they are filled with each band's mean before
        encoding, and they decode to exactly this value.
    transfer : {"auto", "linear", "sqrt"}
        Curve of samples wider than 8 bits after the per-band linear map onto the model's
        range: ``"auto"`` takes a square root for bands whose values crowd the bottom of
        their range (:func:`~tilestream.io.stats.fit_value_range`).

    Returns
    -------
    EncodeResult
    """
    src = open_source(source)
    out = os.fspath(output)
    prepare_output(out, overwrite)
    block = check_block(block)
    dev = resolve_device(device)
    spec, loaded = spec_for(model, quality=quality, checkpoint=checkpoint, pretrained=pretrained)
    codec = codec_for(loaded)
    layout = CodecLayout(src.shape, block, align=codec.align)
    fmt = src.pixel_format if nodata is None else src.pixel_format.with_nodata(nodata)
    fmt = fit_value_range(src, fmt, transfer=transfer)  # the per-band mapping into the model's range (wide samples)
    fmt = fmt.with_model_channels(model_channels(loaded))  # bands are coded that many at a time
    plan = CodecContext(spec, layout, dev, src, None, fmt)
    meta = ContainerMeta(
        model={**spec.record(), "family": codec.family},
        stream_grids={p + k: v for p in group_prefixes(plan) for k, v in codec.stream_grids(layout).items()},
        phases=codec.describe(),
        image_shape=src.shape,
        channels=fmt.channels,
        dtype=fmt.dtype,
        pixel_format=fmt.to_attrs(),
        block=block,
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
        format_version=format_version_for(fmt),
    )
    h, w = src.shape
    rows, cols = layout.grid_shape
    with runner(scheduler, num_workers) as run:  # an unreachable scheduler fails before anything is written
        writer = ContainerWriter(out, meta)
        ctx = replace(plan, store_root=writer.tmp)
        stages = encode_stages(ctx)
        update, close = progress_bar(rows * sum(s.cols or cols for s in stages), "encode", progress)
        stats: dict[str, int] = {}
        try:
            run.set_context(ctx)
            for _ in wavefront(stages, rows, cols, run, update, stats, band=wavefront_band(codec, layout, num_workers)):
                pass
            total = stats["bytes"]
            writer.commit({"stream_bytes": total, "bpp": total * 8 / (h * w)})
        except BaseException:
            writer.abort()
            raise
        finally:
            close()
    return EncodeResult(out, src.shape, total, total * 8 / (h * w), rows * cols)
