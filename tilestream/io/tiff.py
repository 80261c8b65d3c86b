"""TIFF / BigTIFF sources (tiled or striped) read through ``tifffile``'s zarr view."""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from tilestream.io.base import Source, SourceError
from tilestream.io.geotiff import gdal_nodata, read_tags
from tilestream.storage import Location

__all__ = ["TiffSource"]

_OPEN: dict[tuple[int, str, int], Any] = {}
_LOCK = threading.Lock()


class TiffSource(Source):
    """A TIFF file read lazily, window by window, via ``tifffile.imread(aszarr=True)``.

    Parameters
    ----------
    path : str, os.PathLike or Location
        The file (a local path, or a file on any fsspec storage: read through a file
        object, range by range).
    series : int
        Image series (0: the main image).
    """

    def __init__(self, path: str | os.PathLike[str] | Location, series: int = 0):
        import tifffile

        self.location = Location.of(path)
        self.path = self.location.url
        self.series = series
        self.description = f"TIFF {self.path!r}"
        if not self.location.isfile():
            raise SourceError(f"input {self.path!r} does not exist; pass an existing TIFF file")
        try:
            with self._open() as tif:
                s = tif.series[series]
                shape, axes, dtype = tuple(s.shape), s.axes, s.dtype
                geotiff = read_tags(s.pages[0] if s.pages else tif.pages[0])
        except (tifffile.TiffFileError, IndexError, ValueError, OSError) as exc:
            raise SourceError(
                f"input {self.path!r} is not a readable TIFF image ({exc}); pass a TIFF, a zarr "
                f"array or an array"
            ) from exc
        self._set_geometry(shape, dtype, None, axes)
        if geotiff:
            self.metadata = {"geotiff": geotiff}
            nodata = gdal_nodata(geotiff)
            if nodata is not None:
                try:
                    self.pixel_format = self.pixel_format.with_nodata(nodata)
                except ValueError:  # a GDAL_NODATA the samples cannot hold marks no pixel
                    pass

    def _open(self) -> Any:
        import tifffile

        if self.location.is_local:
            return tifffile.TiffFile(self.path)
        return tifffile.TiffFile(self.location.open("rb"), name=self.location.name())

    def _array(self) -> Any:
        import zarr

        key = (os.getpid(), self.path, self.series)
        with _LOCK:
            arr = _OPEN.get(key)
            if arr is None:
                tif = self._open()  # kept open with the array (closed at process exit)
                store = tif.aszarr(series=self.series, level=0, read_only=True)
                arr = zarr.open(store, mode="r")
                _OPEN[key] = arr
        return arr

    def _read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return self._read_stored(self._array(), y0, y1, x0, x1)
