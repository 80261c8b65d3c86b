"""xarray: a coded image as a lazily decoded ``DataArray``, and an xarray backend.

``tilestream.open(path).to_xarray()`` and ``xarray.open_dataset(path, engine="tilestream",
chunks={})`` (weights as for ``tilestream.open``: ``model=`` / ``checkpoint=``) give dims ``(band, y, x)`` with pixel-centre coordinates from the source's
georeferencing (pixel indices without it) and, where rioxarray is installed, its CRS and
transform (``da.rio.crs``, ``da.rio.transform()``). Reading a slice decodes only the chunks
it needs.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tilestream.io import geotiff

__all__ = ["TilestreamBackend", "to_xarray"]


def _coords(image: Any) -> dict[str, Any]:
    h, w = image.meta.image_shape
    tags = image.meta.source_metadata.get("geotiff", {})
    t = geotiff.affine(tags)
    cols, rows = np.arange(w) + 0.5, np.arange(h) + 0.5
    if t is None or t[1] != 0 or t[3] != 0:  # no (or a rotated) georeference: pixel indices
        return {"y": np.arange(h), "x": np.arange(w)}
    return {"y": t[4] * rows + t[5], "x": t[0] * cols + t[2]}


def _georeference(da: Any, image: Any) -> Any:
    tags = image.meta.source_metadata.get("geotiff", {})
    t, epsg = geotiff.affine(tags), geotiff.epsg(tags)
    try:
        import rioxarray  # noqa: F401  (registers the .rio accessor)
        from affine import Affine
    except ImportError:
        return da.assign_attrs(transform=t, crs=f"EPSG:{epsg}" if epsg else None)
    if epsg:
        da = da.rio.write_crs(f"EPSG:{epsg}")
    if t is not None:
        da = da.rio.write_transform(Affine(*t))
    return da


def to_xarray(image: Any) -> Any:
    """``image`` (a :class:`~tilestream.image.CodedImage`) as a dask-backed DataArray."""
    import xarray as xr

    data = image.to_dask()
    data = data[None] if data.ndim == 2 else data.transpose(2, 0, 1)
    da = xr.DataArray(data, dims=("band", "y", "x"), coords={"band": np.arange(1, data.shape[0] + 1), **_coords(image)},
                      name="image", attrs={"model": image.model["name"], "bpp": image.bpp})
    return _georeference(da, image)


try:
    from xarray.backends import BackendArray, BackendEntrypoint
except ImportError:  # pragma: no cover - xarray is optional
    BackendArray = BackendEntrypoint = object  # type: ignore[assignment,misc]


class _Array(BackendArray):  # type: ignore[misc]
    """Lazily indexed ``(band, y, x)`` view that decodes only what an index needs."""

    def __init__(self, image: Any):
        self.image = image
        h, w = image.meta.image_shape
        self.shape = (image.pixel_format.channels, h, w)
        self.dtype = image.dtype

    def __getitem__(self, key: Any) -> np.ndarray:
        from xarray.core import indexing

        return indexing.explicit_indexing_adapter(key, self.shape, indexing.IndexingSupport.BASIC, self._read)

    def _read(self, key: tuple) -> np.ndarray:
        band, ys, xs = key
        spans, picks = [], []
        for k, size in zip((ys, xs), self.shape[1:]):
            if isinstance(k, (int, np.integer)):
                spans.append(slice(int(k), int(k) + 1))
                picks.append(0)
            else:
                start, stop, step = k.indices(size)
                spans.append(slice(start, max(start + 1, stop)))
                picks.append(slice(None, None if stop > start else 0, step))
        pixels = np.asarray(self.image[spans[0], spans[1]])
        cube = np.moveaxis(pixels.reshape(*pixels.shape[:2], -1), -1, 0)[band]
        return cube[(..., picks[0], picks[1])]


class TilestreamBackend(BackendEntrypoint):  # type: ignore[misc]
    """``xarray.open_dataset(path, engine="tilestream")``: one variable ``image``."""

    description = "Open tilestream containers (learned block-wise compression) lazily"
    open_dataset_parameters = ("filename_or_obj", "drop_variables", "model", "checkpoint", "device")

    def open_dataset(
        self, filename_or_obj: Any, *, drop_variables: Any = None, model: Any = None, checkpoint: Any = None,
        device: Any = None,
    ) -> Any:
        """Open a container; ``model`` / ``checkpoint`` / ``device`` as for :func:`tilestream.open`
        (not needed for the bundled default model or a recorded checkpoint given again)."""
        import xarray as xr
        from xarray.core import indexing

        from tilestream.image import open_image

        image = open_image(os.fspath(filename_or_obj), model=model, checkpoint=checkpoint, device=device)
        data = indexing.LazilyIndexedArray(_Array(image))
        h, w = image.meta.image_shape
        coords = {"band": np.arange(1, image.pixel_format.channels + 1), **_coords(image)}
        var = xr.Variable(("band", "y", "x"), data, encoding={"preferred_chunks": {"y": image.meta.block, "x": image.meta.block}})
        ds = xr.Dataset({"image": var}, coords=coords)
        ds["image"] = _georeference(ds["image"], image)
        ds.set_close(image.close)
        return ds

    def guess_can_open(self, filename_or_obj: Any) -> bool:
        try:
            return str(os.fspath(filename_or_obj)).endswith((".tsz", ".tsz.zip"))
        except TypeError:
            return False
