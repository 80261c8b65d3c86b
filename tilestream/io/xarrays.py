"""xarray inputs: a ``DataArray`` (numpy- or dask-backed), and the georeferencing and nodata
that xarray / rioxarray attach to rasters (also read from xarray-written zarr groups).

The conventions read are rioxarray's and CF's: a ``grid_mapping`` variable (``spatial_ref``)
with ``crs_wkt`` / ``spatial_ref`` and GDAL's ``GeoTransform``; else regularly spaced ``y`` /
``x`` pixel-centre coordinates and a CRS from ``da.rio.crs``; nodata from ``_FillValue``
(attribute or encoding) or ``nodata``. They become the same GeoTIFF tags a GeoTIFF source
carries (:mod:`tilestream.io.geotiff`), so every output gets them back.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Any

import numpy as np

from tilestream.io import geotiff
from tilestream.io.arrays import ArraySource
from tilestream.io.base import SourceError

__all__ = ["DataArraySource", "epsg_of", "nodata_of", "transform_from_geotransform"]

_DIMS = {"y": "Y", "lat": "Y", "latitude": "Y", "row": "Y", "x": "X", "lon": "X", "longitude": "X",
         "col": "X", "band": "S", "bands": "S", "channel": "S", "c": "S", "s": "S", "sample": "S"}


def transform_from_geotransform(text: str) -> tuple[float, float, float, float, float, float] | None:
    """GDAL's ``GeoTransform`` ``"c a b f d e"`` as ``(a, b, c, d, e, f)``."""
    try:
        c, a, b, f, d, e = (float(v) for v in str(text).split())
    except ValueError:
        return None
    return (a, b, c, d, e, f)


def epsg_of(crs_text: Any) -> int | None:
    """The EPSG code of a CRS given as WKT / ``"EPSG:n"`` / an object with ``to_epsg()``."""
    if crs_text is None:
        return None
    to_epsg = getattr(crs_text, "to_epsg", None)
    if callable(to_epsg):
        code = to_epsg()
        return int(code) if code else None
    text = str(crs_text).strip()
    if text.upper().startswith("EPSG:") and text[5:].isdigit():
        return int(text[5:])
    try:
        from pyproj import CRS

        code = CRS.from_user_input(text).to_epsg()
        return int(code) if code else None
    except Exception:  # noqa: BLE001 - pyproj missing or an unparsable CRS: no code
        return None


def _decode_fill(text: str) -> float | str:
    """A float ``_FillValue`` as xarray stores it in zarr v3 attributes (base64 of a
    little-endian float64), else the text itself."""
    try:
        raw = base64.standard_b64decode(text, validate=True)
    except (ValueError, binascii.Error):
        return text
    return struct.unpack("<d", raw)[0] if len(raw) == 8 else text


def nodata_of(attrs: dict[str, Any], encoding: dict[str, Any] | None = None) -> float | None:
    """Nodata from ``_FillValue`` (attributes or encoding), ``nodata`` or ``missing_value``
    (NaN included: float rasters mark missing pixels with it)."""
    for source in (attrs, encoding or {}):
        for key in ("_FillValue", "nodata", "missing_value"):
            value = source.get(key)
            if isinstance(value, str) and key == "_FillValue":
                value = _decode_fill(value)
            if value is not None:
                try:
                    number = float(np.asarray(value).ravel()[0])
                except (TypeError, ValueError, IndexError):
                    continue
                return number  # NaN too: it marks NaN pixels of float data
    return None


def _regular(values: np.ndarray) -> float | None:
    if values.size < 2:
        return None
    steps = np.diff(values.astype(np.float64))
    return float(steps[0]) if np.allclose(steps, steps[0], rtol=1e-9, atol=0) else None


def _transform_from_coords(da: Any) -> tuple[float, float, float, float, float, float] | None:
    names = {_DIMS.get(str(d).lower()): d for d in da.dims}
    ydim, xdim = names.get("Y"), names.get("X")
    if ydim is None or xdim is None or ydim not in da.coords or xdim not in da.coords:
        return None
    ys, xs = np.asarray(da.coords[ydim].values), np.asarray(da.coords[xdim].values)
    dy, dx = _regular(ys), _regular(xs)
    if dy is None or dx is None:
        return None
    return (dx, 0.0, float(xs[0]) - dx / 2, 0.0, dy, float(ys[0]) - dy / 2)


def _georeference(da: Any) -> tuple[tuple[float, ...] | None, int | None]:
    """``(transform, EPSG code)`` of a DataArray, as rioxarray would find them."""
    try:
        import rioxarray  # noqa: F401  (registers .rio)

        transform = tuple(da.rio.transform())[:6] if da.rio.crs is not None or "spatial_ref" in da.coords else None
        return transform, epsg_of(da.rio.crs)
    except Exception:  # noqa: BLE001 - no rioxarray, or dims it cannot read: CF attributes
        pass
    mapping = da.attrs.get("grid_mapping", "spatial_ref")
    ref = dict(da.coords[mapping].attrs) if mapping in da.coords else {}
    transform = transform_from_geotransform(ref["GeoTransform"]) if "GeoTransform" in ref else _transform_from_coords(da)
    return transform, epsg_of(ref.get("crs_wkt") or ref.get("spatial_ref") or da.attrs.get("crs"))


class DataArraySource(ArraySource):
    """An ``xarray.DataArray``: its dims give the axis order (``band`` / ``y`` / ``x`` and
    their usual aliases), its georeferencing and nodata are carried to the outputs.

    Parameters
    ----------
    da : xarray.DataArray
        2-D or 3-D; numpy- or dask-backed (a dask array stays lazy).
    layout : str, optional
        Overrides the axis order read from the dims.
    """

    def __init__(self, da: Any, layout: str | None = None):
        dims = "".join(_DIMS.get(str(d).lower(), "?") for d in da.dims)
        if layout is None and "?" in dims:
            raise SourceError(
                f"DataArray with dims {tuple(da.dims)} does not name its axes as (band, y, x); "
                f"rename them (da.rename(...)) or pass layout='YXS' / 'SYX'"
            )
        data = da.data
        super().__init__(data, layout or dims)
        self.description = f"DataArray {da.name or ''} of shape {tuple(da.shape)}".replace("  ", " ")
        transform, code = _georeference(da)
        nodata = nodata_of(dict(da.attrs), dict(da.encoding))
        if nodata is None:
            try:
                import rioxarray  # noqa: F401

                nodata = da.rio.nodata if da.rio.nodata is not None else da.rio.encoded_nodata
                nodata = None if nodata is None else float(nodata)
            except Exception:  # noqa: BLE001
                nodata = None
        if transform is not None:
            self.metadata = {"geotiff": geotiff.tags_from(transform, code, nodata)}
        if nodata is not None:
            try:
                self.pixel_format = self.pixel_format.with_nodata(nodata)
            except ValueError:  # a nodata the samples cannot hold marks no pixel
                pass
