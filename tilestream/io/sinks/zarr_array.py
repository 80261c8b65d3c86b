"""A zarr v3 array chunked by block (an xarray-style group when georeferenced): resumable."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np

from tilestream.geometry import Window
from tilestream.io import geotiff
from tilestream.io.sinks.base import StoreSink, fill_attr, remove_path
from tilestream.pixels import PixelFormat

__all__ = ['ZarrSink']


class ZarrSink(StoreSink):
    """A zarr v3 array chunked by block: ``(H, W, C)`` or, for a source stored band by band
    (``layout="SYX"``), ``(C, H, W)``; ``(H, W)`` for one band.

    With georeferencing (``geotiff`` tags with a transform), the output is a zarr group laid
    out as xarray and rioxarray write rasters: the array ``image`` (``grid_mapping``
    ``spatial_ref``; nodata as ``_FillValue``), pixel-centre coordinates ``y`` / ``x``, ``band``
    and a ``spatial_ref`` variable with the CRS (``crs_wkt``) and GDAL's ``GeoTransform``,
    with consolidated metadata: ``xarray.open_zarr(path)`` opens it and ``da.rio.crs`` /
    ``da.rio.transform()`` find the georeferencing.
    """

    #: the data variable of a georeferenced (group) output
    VARIABLE = "image"
    resumable = True

    def __init__(
        self, path: str, shape: tuple[int, int], pixel_format: PixelFormat, block: int, layout: str = "YXS",
        geotiff: dict | None = None,
    ):
        super().__init__(path, shape, pixel_format, block)
        self.bands_first = layout == "SYX" and pixel_format.channels > 1
        self.geotiff = geotiff or {}

    def _dims(self) -> tuple[tuple[int, ...], tuple[int, ...], tuple[str, ...]]:
        fmt = self.pixel_format
        shape, chunks = fmt.image_shape(*self.shape), fmt.image_shape(self.block, self.block)
        if self.bands_first:
            shape, chunks = (shape[2], *shape[:2]), (chunks[2], *chunks[:2])
        dims = ("band", "y", "x") if self.bands_first else ("y", "x", "band")[: len(shape)]
        return shape, chunks, dims

    def _open(self, target: Any) -> Any:
        """The array of a local partial output (resumed)."""
        import zarr

        if geotiff.affine(self.geotiff) is None:
            return zarr.open_array(target, mode="r+", zarr_format=3)
        return zarr.open_group(target, mode="r+", zarr_format=3)[self.VARIABLE]

    def _create(self, target: Any) -> Any:
        """Create the array (and a georeferenced output's group); resuming a remote output,
        over the chunks already there (its metadata was held back, so none is found)."""
        import zarr

        fmt = self.pixel_format
        shape, chunks, dims = self._dims()
        transform = geotiff.affine(self.geotiff)
        if transform is None:
            return zarr.create_array(target, shape=shape, chunks=chunks, dtype=fmt.dtype, zarr_format=3, dimension_names=dims)
        root = zarr.open_group(target, mode="a" if self.resume else "w", zarr_format=3)
        fill = 0 if fmt.nodata is None else fmt.nodata
        arr = root.create_array(self.VARIABLE, shape=shape, chunks=chunks, dtype=fmt.dtype, dimension_names=dims, fill_value=fill)
        attrs: dict[str, Any] = {"grid_mapping": "spatial_ref", "coordinates": "spatial_ref"}
        if fmt.nodata is not None:
            attrs["_FillValue"] = fill_attr(fmt.nodata, fmt.dtype)
        arr.attrs.update(attrs)
        a, b, c, d, e, f = transform
        h, w = self.shape
        coords = {"y": e * (np.arange(h) + 0.5) + f, "x": a * (np.arange(w) + 0.5) + c} if b == 0 and d == 0 else {
            "y": np.arange(h, dtype=np.float64), "x": np.arange(w, dtype=np.float64)}
        if "band" in dims:
            coords["band"] = np.arange(1, fmt.channels + 1)
        for name, values in coords.items():
            coord = root.create_array(name, shape=values.shape, dtype=values.dtype, dimension_names=(name,))
            coord[:] = values
        ref = root.create_array("spatial_ref", shape=(), dtype="int64", dimension_names=())
        ref[...] = 0
        wkt = geotiff.crs_text(self.geotiff)
        ref.attrs.update({
            **({"crs_wkt": wkt, "spatial_ref": wkt} if wkt else {}),
            "GeoTransform": " ".join(repr(float(v)) for v in (c, a, b, f, d, e)),
        })
        return arr

    def _write(self, blocks: Iterator[tuple[Window, np.ndarray]]) -> None:
        import zarr

        fmt = self.pixel_format
        if not self.resume:  # an overwritten output, or a partial one not continued
            if self.location.is_local:
                remove_path(self.tmp)
            else:
                self.location.remove()
        target = self._target()
        arr = self._open(target) if self.resume and self.location.is_local else self._create(target)
        held = [] if self.location.is_local else self._hold_metadata()
        for window, data in blocks:
            ys, xs = window.to_slices()
            if self.bands_first:
                arr[:, ys, xs] = np.moveaxis(data, -1, 0)
            else:
                arr[ys, xs] = fmt.squeeze(data)
        if self.journal is not None:
            self.journal.clear()  # before the output opens as an array
        self._release_metadata(held)
        if geotiff.affine(self.geotiff) is not None:  # what xarray.open_zarr looks for first
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Consolidated metadata is currently not part")
                zarr.consolidate_metadata(self._target() if held else target)
