"""A pyramidal OME-TIFF: level 0 tiled, the reduced levels in its SubIFDs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from tilestream.geometry import Window
from tilestream.io.geotiff import extratags
from tilestream.io.sinks.base import Sink, pyramid_of
from tilestream.pixels import PixelFormat

__all__ = ['OmeTiffSink', 'tiff_compression']


class OmeTiffSink(Sink):
    """A pyramidal OME-TIFF (BigTIFF): level 0 tiled, the reduced levels in its SubIFDs, as
    whole-slide viewers and ``tifffile`` read multiscale series.

    Level 0 is written tile by tile as blocks arrive; the reduced levels
    (:class:`~tilestream.io.pyramid.Pyramid`) go to temporary files next to the output
    (a third of level 0's size in all, uncompressed) and are appended after it.
    ``compress`` applies to every level (``none``, ``deflate``, ``zstd``, ``lzw``, ``jpeg``).
    """

    background = True

    def __init__(
        self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        compress: str = "deflate", resampling: str = "average",
    ):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = dict(geotiff or {})
        self.compress, self.resampling = compress, resampling
        tiff_compression(compress, pixel_format)  # refuse now, not at the end

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import tifffile

        fmt, b = self.pixel_format, self.block
        pyramid = pyramid_of(self, self.resampling)
        names = [f"{self.tmp}.level-{k}" for k in range(1, pyramid.levels + 1)]
        levels = [
            np.lib.format.open_memmap(name, mode="w+", dtype=fmt.dtype, shape=(h, w, fmt.channels))
            for name, (h, w) in zip(names, pyramid.shapes[1:])
        ]

        def level0() -> Iterator[np.ndarray]:
            for window, data in blocks:
                # the reduced tiles first: the writer stops pulling after the last level-0 tile
                tiles = list(pyramid.add(window.y.start, window.x.start, data))
                for level, ti, tj, tile in tiles[1:]:
                    levels[level - 1][ti * b : ti * b + tile.shape[0], tj * b : tj * b + tile.shape[1]] = tile
                out = np.zeros((b, b, fmt.channels), fmt.dtype)
                out[: data.shape[0], : data.shape[1]] = data
                yield fmt.squeeze(out)

        def tiles(level: np.ndarray) -> Iterator[np.ndarray]:
            h, w = level.shape[:2]
            for y in range(0, h, b):
                for x in range(0, w, b):
                    out = np.zeros((b, b, fmt.channels), fmt.dtype)
                    part = level[y : y + b, x : x + b]
                    out[: part.shape[0], : part.shape[1]] = part
                    yield fmt.squeeze(out)

        compression = tiff_compression(self.compress, fmt)
        common = dict(
            dtype=fmt.dtype, tile=(b, b), photometric=fmt.photometric, compression=compression,
            planarconfig="contig" if fmt.channels > 1 else None,
        )
        try:
            with tifffile.TiffWriter(self.tmp, bigtiff=True, ome=True) as tif:
                tif.write(
                    level0(), shape=fmt.image_shape(*self.shape), subifds=pyramid.levels,
                    metadata={"axes": "YXS" if fmt.channels > 1 else "YX"}, extratags=extratags(self.geotiff), **common,
                )
                for level in levels:
                    tif.write(tiles(level), shape=fmt.image_shape(*level.shape[:2]), subfiletype=1, metadata=None, **common)
        finally:
            levels.clear()  # release the memory maps before their files go
            for name in names:
                if os.path.exists(name):
                    os.remove(name)


def tiff_compression(compress: str, fmt: PixelFormat) -> Any:
    """tifffile's compression for a ``--compress`` name (checked against the samples)."""
    from tilestream.io.cog import _encoder

    _encoder(compress, np.dtype(fmt.dtype), fmt.channels, 90)  # the same refusals as a COG's
    return None if compress == "none" else compress
