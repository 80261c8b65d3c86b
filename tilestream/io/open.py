"""Normalise whatever the user passes as input into a :class:`Source`, once, at the edge."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tilestream.io.arrays import ArraySource, ZarrSource
from tilestream.io.base import Source, SourceError
from tilestream.io.tiff import TiffSource
from tilestream.storage import Location

__all__ = ["open_source"]

_TIFF_SUFFIXES = (".tif", ".tiff", ".btf", ".tf8", ".svs", ".ome.tif")


def _open_remote(location: Location) -> Source:
    """A TIFF or zarr array on object storage."""
    if location.is_local:
        return open_source(location.url)
    if not location.exists():
        raise SourceError(f"input {location.url!r} does not exist; check the URL (and --storage-option)")
    if location.isdir() or location.url.rstrip("/").endswith(".zarr"):
        return ZarrSource(location)
    with location.open("rb") as fh:
        magic = fh.read(4)
    if magic[:2] in (b"II", b"MM"):
        return TiffSource(location)
    raise SourceError(
        f"input {location.url!r} is neither a TIFF file nor a zarr array; convert it to TIFF "
        f"(e.g. with tifffile) or pass an array through the Python API"
    )


def open_source(obj: Any, layout: str | None = None, storage_options: dict[str, Any] | None = None) -> Source:
    """Return a :class:`Source` for a path, a zarr array, or a numpy / dask array.

    Parameters
    ----------
    obj : str, os.PathLike, zarr.Array, xarray.DataArray, numpy.ndarray, dask.array.Array or Source
        A TIFF file, a zarr array (path or object; or an xarray-written zarr group holding
        one image variable), a DataArray, or an array.
    layout : str, optional
        Axis order for arrays (``"YX"``, ``"YXS"``, ``"SYX"``); inferred when omitted.
    storage_options : dict, optional
        fsspec options for a URL (``s3://bucket/scene.tif``; see :mod:`tilestream.storage`).
    """
    if isinstance(obj, Source):
        return obj
    if isinstance(obj, (str, os.PathLike)) and not Location.of(obj).is_local or isinstance(obj, Location):
        return _open_remote(Location.of(obj, storage_options))
    if isinstance(obj, (str, os.PathLike)):
        path = os.fspath(obj)
        if not os.path.exists(path):
            raise SourceError(f"input {path!r} does not exist; check the path")
        if os.path.isdir(path) or path.endswith(".zarr"):
            return ZarrSource(path, layout)
        if path.lower().endswith(_TIFF_SUFFIXES):
            return TiffSource(path)
        with open(path, "rb") as fh:
            magic = fh.read(4)
        if magic[:2] in (b"II", b"MM"):
            return TiffSource(path)
        raise SourceError(
            f"input {path!r} is neither a TIFF file nor a zarr array; convert it to TIFF "
            f"(e.g. with tifffile) or pass an array through the Python API"
        )
    if type(obj).__module__.startswith("zarr"):
        return ZarrSource(obj, layout)
    if type(obj).__name__ == "DataArray" and type(obj).__module__.startswith("xarray"):
        from tilestream.io.xarrays import DataArraySource

        return DataArraySource(obj, layout)
    if isinstance(obj, np.ndarray) or hasattr(obj, "dask"):
        return ArraySource(obj, layout)
    raise SourceError(
        f"cannot read an image from {type(obj).__name__}; pass a TIFF path, a zarr array, an "
        f"xarray DataArray or a numpy / dask array"
    )
