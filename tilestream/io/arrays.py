"""Sources over in-memory or lazy arrays: numpy, dask and zarr."""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from tilestream.io.base import Source, SourceError

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
        if isinstance(target, (str, os.PathLike)):
            self.path: str | None = os.fspath(target)
            if not os.path.exists(self.path):
                raise SourceError(f"input {self.path!r} does not exist; pass an existing zarr array")
            try:
                arr = zarr.open_array(self.path, mode="r")
            except Exception as exc:  # zarr raises several types for "not an array"
                raise SourceError(
                    f"input {self.path!r} is not a zarr array ({type(exc).__name__}); pass the "
                    f"path of an array, not of a group"
                ) from exc
        else:
            self.path = None
            arr = target
            self._array_obj = target
        self.description = f"zarr array {self.path or ''} of shape {tuple(arr.shape)}".replace("  ", " ")
        self._set_geometry(tuple(arr.shape), arr.dtype, layout or axes_from_names(arr))

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        if self.path is not None:
            state["_array_obj"] = None  # reopen on the worker
        return state

    def _array(self) -> Any:
        if self._array_obj is None:
            import zarr

            self._array_obj = zarr.open_array(self.path, mode="r")
        return self._array_obj

    def _read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        return self._read_stored(self._array(), y0, y1, x0, x1)


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
