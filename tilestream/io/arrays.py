"""Sources over in-memory or lazy arrays: numpy, dask and zarr."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.io.base import Source, SourceError
from tilestream.storage import Location

__all__ = ["ArraySource", "ZarrSource"]


class ArraySource(Source):
    """A numpy or dask array (``(H, W)``, ``(H, W, 1|3)`` or ``(1|3, H, W)``).

    Parameters
    ----------
    array : numpy.ndarray or dask.array.Array
        The image. A dask array stays lazy: only the windows asked for are computed.
    layout : str, optional
        ``"YX"``, ``"YXS"`` or ``"SYX"``; inferred from the shape when omitted.
    """

    def __init__(self, array: Any, layout: str | None = None):
        self.array = array
        self.description = f"{type(array).__name__} of shape {tuple(array.shape)}"
        self._set_geometry(tuple(array.shape), array.dtype, layout)

    def _read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        part = self._read_stored(self.array, y0, y1, x0, x1)
        if hasattr(part, "compute"):
            part = part.compute(scheduler="synchronous")
        return np.asarray(part)


class ZarrSource(Source):
    """A zarr array, given as a path (opened lazily on each worker) or a ``zarr.Array``.

    Parameters
    ----------
    target : str, os.PathLike or zarr.Array
        Path of a zarr array (``path/to/store`` or ``store.zarr/array``) or an open array.
    layout : str, optional
        ``"YX"``, ``"YXS"`` or ``"SYX"``; inferred from the shape when omitted.
    """

    def __init__(self, target: Any, layout: str | None = None):
        import zarr

        self._array_obj = None
        self.location = None
        if isinstance(target, Location) and target.is_local:
            target = target.url
        if isinstance(target, Location):  # a zarr array on object storage
            self.location = target
            self.path = None
            try:
                arr = zarr.open_array(target.zarr_store(read_only=True), mode="r")
            except TilestreamError:
                raise
            except Exception as exc:  # zarr raises several types for "not an array"
                raise SourceError(
                    f"input {target.url!r} is not a zarr array ({type(exc).__name__}); pass the URL "
                    f"of a zarr array"
                ) from exc
            self._array_obj = arr
        elif isinstance(target, (str, os.PathLike)):
            self.path: str | None = os.fspath(target)
            if not os.path.exists(self.path):
                raise SourceError(f"input {self.path!r} does not exist; pass an existing zarr array")
            try:
                arr = zarr.open_array(self.path, mode="r")
            except Exception as exc:  # zarr raises several types for "not an array"
                arr = _image_in_group(self.path, exc)
                self.path = os.path.join(self.path, arr.basename)
        else:
            self.path = None
            arr = target
            self._array_obj = target
        self.description = f"zarr array {self.path or (self.location.url if self.location else '')} of shape {tuple(arr.shape)}".replace("  ", " ")
        self._set_geometry(tuple(arr.shape), arr.dtype, layout or axes_from_names(arr))
        self._read_conventions(arr)

    def _read_conventions(self, arr: Any) -> None:
        """Nodata (``_FillValue`` / ``nodata`` attribute) and, for an xarray-written group,
        the georeferencing of its ``grid_mapping`` variable."""
        from tilestream.io import geotiff
        from tilestream.io.xarrays import (
            epsg_of,
            nodata_of,
            transform_from_geotransform,
        )

        attrs = dict(arr.attrs)
        nodata = nodata_of(attrs)
        if nodata is not None:
            try:
                self.pixel_format = self.pixel_format.with_nodata(nodata)
            except ValueError:  # a fill value the samples cannot hold marks no pixel
                nodata = None
        if self.path is None or "grid_mapping" not in attrs:
            return
        import zarr

        try:
            ref = dict(zarr.open_array(os.path.join(os.path.dirname(self.path), str(attrs["grid_mapping"])), mode="r").attrs)
        except Exception:  # noqa: BLE001 - no such variable: no georeferencing
            return
        transform = transform_from_geotransform(ref.get("GeoTransform", ""))
        if transform is not None:
            code = epsg_of(ref.get("crs_wkt") or ref.get("spatial_ref"))
            self.metadata = {"geotiff": geotiff.tags_from(transform, code, nodata)}

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.path is not None or self.location is not None:
            state["_array_obj"] = None  # reopen on the worker
        return state

    def _array(self) -> Any:
        if self._array_obj is None:
            import zarr

            target = self.location.zarr_store(read_only=True) if self.location is not None else self.path
            self._array_obj = zarr.open_array(target, mode="r")
        return self._array_obj

    def _read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return self._read_stored(self._array(), y0, y1, x0, x1)


def _image_in_group(path: str, cause: Exception) -> Any:
    """The one image variable (an array of 2 or 3 dims) of a zarr group, as xarray writes
    rasters (coordinates and ``spatial_ref`` beside it)."""
    import zarr

    try:
        group = zarr.open_group(path, mode="r")
    except Exception:  # noqa: BLE001 - neither an array nor a group
        raise SourceError(
            f"input {path!r} is not a zarr array ({type(cause).__name__}); pass the path of a "
            f"zarr array"
        ) from cause
    images = [a for _, a in group.arrays() if a.ndim in (2, 3)]
    if len(images) != 1:
        names = ", ".join(sorted(a.basename for a in images)) or "none"
        raise SourceError(
            f"zarr group {path!r} holds {len(images)} image arrays ({names}); pass the path of "
            f"one, e.g. {os.path.join(path, images[0].basename if images else 'NAME')!r}"
        )
    return images[0]


_AXIS_NAMES = {"y": "Y", "lat": "Y", "latitude": "Y", "row": "Y", "x": "X", "lon": "X", "longitude": "X",
               "col": "X", "band": "S", "bands": "S", "c": "S", "channel": "S", "s": "S", "sample": "S"}


def axes_from_names(arr: Any) -> str | None:
    """The axis order a zarr array declares (zarr v3 ``dimension_names`` or the
    ``_ARRAY_DIMENSIONS`` attribute of xarray's zarr v2 convention), if it names them all."""
    names = getattr(getattr(arr, "metadata", None), "dimension_names", None)
    if not names:
        names = dict(getattr(arr, "attrs", {})).get("_ARRAY_DIMENSIONS")
    if not names or any(n is None for n in names):
        return None
    axes = "".join(_AXIS_NAMES.get(str(n).lower(), "?") for n in names)
    return axes if "?" not in axes else None
