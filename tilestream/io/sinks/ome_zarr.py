"""An OME-Zarr (NGFF 0.5) multiscale image, reduced from each block as it arrives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np

from tilestream.geometry import Window
from tilestream.io import geotiff
from tilestream.io.sinks.base import StoreSink, fill_attr, pyramid_of
from tilestream.pixels import PixelFormat

__all__ = ['OmeZarrSink']


class OmeZarrSink(StoreSink):
    """An OME-Zarr (NGFF 0.5, zarr v3) multiscale image: a group with arrays ``0 … n`` of
    axes ``(c, y, x)``, each half the one before, reduced from each block as it arrives
    (:class:`~tilestream.io.pyramid.Pyramid`); ``multiscales`` metadata with the axes and
    each level's scale; for a georeferenced source, the CRS and each level's affine
    transform under ``geospatial``. Written like :class:`ZarrSink` (locally under a
    temporary name; on object storage with its ``zarr.json`` documents written last).
    """

    background = True

    def __init__(
        self, path: Any, shape: tuple[int, int], pixel_format: PixelFormat, block: int, geotiff: dict | None = None,
        resampling: str = "average", name: str = "image",
    ):
        super().__init__(path, shape, pixel_format, block)
        self.geotiff = dict(geotiff or {})
        self.resampling, self.name = resampling, name

    def _attrs(self, shapes: list[tuple[int, int]]) -> dict[str, Any]:
        fmt = self.pixel_format
        datasets = [
            {"path": str(k), "coordinateTransformations": [{"type": "scale", "scale": [1.0, float(2**k), float(2**k)]}]}
            for k in range(len(shapes))
        ]
        attrs: dict[str, Any] = {"ome": {"version": "0.5", "multiscales": [{
            "name": self.name,
            "axes": [{"name": "c", "type": "channel"}, {"name": "y", "type": "space"}, {"name": "x", "type": "space"}],
            "datasets": datasets,
            "type": self.resampling,
            "metadata": {"method": "tilestream.io.pyramid.reduce2", "resampling": self.resampling},
        }]}}
        if fmt.nodata is not None:
            attrs["nodata"] = fill_attr(fmt.nodata, fmt.dtype) if fmt.nodata == fmt.nodata else "nan"
        transform = geotiff.affine(self.geotiff)
        if transform is not None:
            a, b, c, d, e, f = transform
            attrs["geospatial"] = {
                "crs_wkt": geotiff.crs_text(self.geotiff),
                "epsg": geotiff.epsg(self.geotiff),
                # GDAL order (c, a, b, f, d, e) of each level: pixels twice as large each time
                "geotransform": [[c, a * 2**k, b * 2**k, f, d * 2**k, e * 2**k] for k in range(len(shapes))],
            }
        return attrs

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import zarr

        fmt = self.pixel_format
        pyramid = pyramid_of(self, self.resampling)
        if not self.location.is_local:
            self.location.remove()
        root = zarr.open_group(self._target(), mode="w", zarr_format=3)
        fill = 0 if fmt.nodata is None else fmt.nodata
        arrays = [
            root.create_array(
                str(k), shape=(fmt.channels, h, w), chunks=(1, self.block, self.block), dtype=fmt.dtype,
                dimension_names=("c", "y", "x"), fill_value=fill,
            )
            for k, (h, w) in enumerate(pyramid.shapes)
        ]
        root.attrs.update(self._attrs(pyramid.shapes))
        held = [] if self.location.is_local else self._hold_metadata()
        t = self.block
        for window, data in blocks:
            for level, ti, tj, tile in pyramid.add(window.y.start, window.x.start, data):
                y, x = ti * t, tj * t
                arrays[level][:, y : y + tile.shape[0], x : x + tile.shape[1]] = np.moveaxis(tile, -1, 0)
        self._release_metadata(held)
