"""A tiled (Geo)TIFF laid out first and filled tile by tile: resumable."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from tilestream.geometry import Window
from tilestream.io.geotiff import extratags
from tilestream.io.sinks.base import Sink, remove_path
from tilestream.pixels import PixelFormat
from tilestream.storage import Location

__all__ = ['TiffSink']


class TiffSink(Sink):
    """A tiled BigTIFF, pixel-interleaved, or band-interleaved (``PlanarConfiguration``
    separate) for a source stored band by band (``layout="SYX"``), with the source's
    GeoTIFF tags (``geotiff``: see :mod:`tilestream.io.geotiff`).

    The file is laid out first, uncompressed, with the place of every tile fixed (the data
    area is left sparse); each block's tile (one per band when band-interleaved) is then
    written into its place as the blocks arrive. A local TIFF can therefore be continued
    (``decode --resume``); a remote one is assembled on local disk and uploaded whole, and
    cannot.
    """

    def __init__(
        self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        layout: str = "YXS",
    ):
        self.resumable = Location.of(path).is_local
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = geotiff or {}
        self.planar = layout == "SYX" and pixel_format.channels > 1
        self._fh: Any = None

    @property
    def journal_location(self) -> Location:
        """The folder of a resumable TIFF's journal (next to the partial file)."""
        return Location.of(f"{self.tmp}.journal")

    def _lay_out(self) -> None:
        import tifffile

        b, fmt = self.block, self.pixel_format
        h, w = self.shape
        shape = (fmt.channels, h, w) if self.planar else fmt.image_shape(h, w)
        planar = "separate" if self.planar else ("contig" if fmt.channels > 1 else None)
        with tifffile.TiffWriter(self.tmp, bigtiff=True) as tif:
            tif.write(
                None, shape=shape, dtype=fmt.dtype, tile=(b, b), photometric=fmt.photometric,
                planarconfig=planar, metadata=None, extratags=extratags(self.geotiff),
            )

    def _flush(self) -> None:
        """Push the tiles written so far to the file (before the journal records them)."""
        if self._fh is not None:
            self._fh.flush()

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import tifffile

        if not (self.resume and os.path.isfile(self.tmp)):
            remove_path(self.tmp)
            self._lay_out()
        b, fmt = self.block, self.pixel_format
        h, w = self.shape
        with tifffile.TiffFile(self.tmp) as tif:
            page = tif.pages[0]
            offsets, order = page.dataoffsets, tif.byteorder
        across = -(-w // b)
        per_band = -(-h // b) * across
        dtype = np.dtype(fmt.dtype).newbyteorder(order)
        if self.journal is not None:
            self.journal.flush = self._flush
        with open(self.tmp, "r+b") as fh:
            self._fh = fh
            try:
                for window, data in blocks:
                    index = (window.y.start // b) * across + window.x.start // b
                    if self.planar:
                        for band in range(fmt.channels):
                            tile = np.zeros((b, b), dtype)
                            tile[: data.shape[0], : data.shape[1]] = data[..., band]
                            fh.seek(offsets[band * per_band + index])
                            fh.write(tile.tobytes())
                    else:
                        tile = np.zeros((b, b, fmt.channels), dtype)
                        tile[: data.shape[0], : data.shape[1]] = data
                        fh.seek(offsets[index])
                        fh.write(tile.tobytes())
            finally:
                self._fh = None
        if self.journal is not None:
            self.journal.clear()

    def _discard(self) -> None:
        super()._discard()
        if self.resumable:
            self.journal_location.remove()
