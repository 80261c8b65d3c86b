"""A Cloud-Optimized GeoTIFF with internal overviews, reduced from each block as it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tilestream.geometry import Window
from tilestream.io.sinks.base import Sink, pyramid_of
from tilestream.pixels import PixelFormat

__all__ = ['CogSink', 'geotiff_nodata_text']


class CogSink(Sink):
    """A Cloud-Optimized GeoTIFF (:mod:`tilestream.io.cog`) with internal overviews down to
    one tile, reduced from each block as it arrives (:class:`~tilestream.io.pyramid.Pyramid`),
    tiles compressed with ``compress``, the source's georeferencing kept.
    """

    background = True

    def __init__(
        self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        compress: str = "deflate", resampling: str = "average", quality: int = 90,
    ):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = dict(geotiff or {})
        if pixel_format.nodata is not None and "42113" not in self.geotiff:
            self.geotiff["42113"] = geotiff_nodata_text(pixel_format.nodata)
        self.compress, self.resampling, self.quality = compress, resampling, quality
        from tilestream.io.cog import _encoder

        _encoder(compress, np.dtype(pixel_format.dtype), pixel_format.channels, quality)  # refuse now, not at the end

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        from tilestream.io.cog import CogWriter

        fmt = self.pixel_format
        pyramid = pyramid_of(self, self.resampling)
        writer = CogWriter(
            self.tmp, pyramid.shapes, fmt.channels, fmt.dtype, self.block, fmt.photometric,
            compress=self.compress, geotiff=self.geotiff, quality=self.quality,
        )
        try:
            for window, data in blocks:
                for level, ti, tj, tile in pyramid.add(window.y.start, window.x.start, data):
                    writer.write(level, ti, tj, tile)
            writer.finish()
        except BaseException:
            writer.discard()
            raise


def geotiff_nodata_text(value: float) -> str:
    """GDAL_NODATA's text for a nodata value (``"nan"``, ``"-9999"``, ``"0.5"``)."""
    if value != value:
        return "nan"
    return str(int(value)) if float(value).is_integer() else repr(float(value))
