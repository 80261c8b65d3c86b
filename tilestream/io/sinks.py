"""Sinks: where decoded blocks go. Blocks arrive in row-major block order.

Every sink writes to a temporary name next to the target and moves it into place only when
the last block is written, so an interrupted decode never leaves an output that looks
complete.
"""

from __future__ import annotations

import os
import shutil
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.geometry import Window
from tilestream.io.geotiff import extratags
from tilestream.pixels import PixelFormat

__all__ = ["Sink", "TiffSink", "ZarrSink", "prepare_output", "sink_for"]


def prepare_output(path: str, overwrite: bool) -> None:
    """Refuse an existing ``path`` unless ``overwrite``; check its folder exists."""
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise TilestreamError(f"output folder {parent!r} does not exist; create it first")
    if os.path.lexists(path) and not overwrite:
        raise TilestreamError(f"output {path!r} already exists; pass --overwrite to replace it")


def _remove(path: str) -> None:
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path, ignore_errors=True)
    elif os.path.lexists(path):
        os.remove(path)


def _replace(tmp: str, path: str) -> None:
    if os.path.lexists(path):
        _remove(path)
    os.replace(tmp, path)


class Sink(ABC):
    """Consumes ``(window, (h, w, C) samples)`` pairs of a ``shape`` image, row-major, then
    commits. Samples and the written image follow the :class:`PixelFormat`."""

    def __init__(self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int):
        self.path = os.fspath(path)
        self.shape = shape
        self.pixel_format = pixel_format
        self.block = block
        self.tmp = f"{self.path}.partial-{os.getpid()}"

    @abstractmethod
    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        """Write all blocks to ``self.tmp``."""

    def consume(self, blocks: Iterable[tuple[Window, np.ndarray]]) -> None:
        """Write every block, then move the result into place (removing it on failure)."""
        try:
            self._write(iter(blocks))
        except BaseException:
            _remove(self.tmp)
            raise
        _replace(self.tmp, self.path)


class TiffSink(Sink):
    """A tiled BigTIFF written tile by tile (tifffile with a tile iterator), with the
    source's GeoTIFF tags (``geotiff``: see :mod:`tilestream.io.geotiff`)."""

    def __init__(self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = geotiff or {}

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import tifffile

        b, fmt = self.block, self.pixel_format

        def tiles() -> Iterator[np.ndarray]:
            for _, data in blocks:
                tile = np.zeros((b, b, fmt.channels), fmt.dtype)
                tile[: data.shape[0], : data.shape[1]] = data
                yield fmt.squeeze(tile)

        with tifffile.TiffWriter(self.tmp, bigtiff=True) as tif:
            tif.write(
                tiles(),
                shape=fmt.image_shape(*self.shape),
                dtype=fmt.dtype,
                tile=(b, b),
                photometric=fmt.photometric,
                planarconfig="contig" if fmt.channels > 1 else None,
                metadata=None,
                extratags=extratags(self.geotiff),
            )


class ZarrSink(Sink):
    """A zarr v3 array chunked by block: ``(H, W, C)`` or, for a source stored band by band
    (``layout="SYX"``), ``(C, H, W)``; ``(H, W)`` for one band."""

    def __init__(self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, layout: str = "YXS"):
        super().__init__(path, shape, pixel_format, block)
        self.bands_first = layout == "SYX" and pixel_format.channels > 1

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import zarr

        fmt = self.pixel_format
        shape, chunks = fmt.image_shape(*self.shape), fmt.image_shape(self.block, self.block)
        if self.bands_first:
            shape, chunks = (shape[2], *shape[:2]), (chunks[2], *chunks[:2])
        dims = ("band", "y", "x") if self.bands_first else ("y", "x", "band")[: len(shape)]
        arr = zarr.create_array(self.tmp, shape=shape, chunks=chunks, dtype=fmt.dtype, zarr_format=3, dimension_names=dims)
        for window, data in blocks:
            ys, xs = window.to_slices()
            if self.bands_first:
                arr[:, ys, xs] = np.moveaxis(data, -1, 0)
            else:
                arr[ys, xs] = fmt.squeeze(data)


def sink_for(
    path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, layout: str = "YXS",
    metadata: dict | None = None,
) -> Sink:
    """A :class:`TiffSink` for ``*.tif`` / ``*.tiff`` (pixel-interleaved, whatever the
    source's layout: a tile iterator writes every band of a tile at once; with the source's
    GeoTIFF tags from ``metadata``), otherwise a :class:`ZarrSink` in the source's axis
    order ``layout``."""
    if path.lower().endswith((".tif", ".tiff")):
        return TiffSink(path, shape, pixel_format, block, (metadata or {}).get("geotiff"))
    return ZarrSink(path, shape, pixel_format, block, layout)
