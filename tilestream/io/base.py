"""The contract of an image source: lazy, picklable, read window by window.

The source is where the input is normalised, once: its axis order (``YX``, ``YXS``,
``SYX``) and its :class:`~tilestream.pixels.PixelFormat` (dtype, channels) are decided when
it is opened, and every read returns ``(h, w, channels)`` samples.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError
from tilestream.pixels import PixelFormat, PixelFormatError

__all__ = ["Source", "SourceError", "normalise_layout"]


class SourceError(TilestreamError):
    """An input cannot be read as an image tilestream can code."""


def normalise_layout(shape: tuple[int, ...], axes: str | None, what: str) -> str:
    """Decide the axis order of an array of ``shape``: ``"YX"``, ``"YXS"`` or ``"SYX"``.

    ``axes`` is the order the file declares (tifffile's series axes) or the caller states,
    if any; otherwise the band axis is the first or last one when it is 1 or 3 long or
    clearly shorter than the two others.

    >>> normalise_layout((7, 300, 400), None, "scene"), normalise_layout((300, 400, 4), None, "scene")
    ('SYX', 'YXS')
    """
    if axes is not None:
        axes = axes.upper().replace("C", "S")
        if axes in ("YX", "YXS", "SYX"):
            return axes
        raise SourceError(
            f"{what} has axes {axes!r} (shape {shape}); tilestream reads 2-D images with axes "
            f"YX, YXS or SYX; select one page or plane first"
        )
    if len(shape) == 2:
        return "YX"
    if len(shape) == 3:
        first, h_or_w, last = shape
        if last in (1, 3) or (last < first and last < h_or_w):
            return "YXS"
        if first in (1, 3) or (first < h_or_w and first < last):
            return "SYX"
        raise SourceError(
            f"{what} has shape {shape} and no axis is clearly its bands; pass layout='YXS' "
            f"(bands last) or layout='SYX' (bands first)"
        )
    raise SourceError(
        f"{what} has {len(shape)} dimensions (shape {shape}); expected a 2-D image with "
        f"optional channel axis"
    )


class Source(ABC):
    """A 2-D image read lazily by window, in one of the :class:`PixelFormat` s tilestream codes.

    Implementations keep only what is needed to reopen the data (a path and options), so
    they pickle cheaply and open on the worker that reads them.

    Attributes
    ----------
    shape : tuple of int
        ``(height, width)``.
    pixel_format : PixelFormat
        Sample type and channels, decided when the source is opened.
    layout : str
        Axis order of the stored data: ``"YX"``, ``"YXS"`` or ``"SYX"``.
    """

    shape: tuple[int, int]
    pixel_format: PixelFormat
    layout: str
    #: source metadata carried to decoded outputs as plain data (``{"geotiff": {...}}``)
    metadata: dict[str, Any]
    description: str = "image"

    @property
    def channels(self) -> int:
        """Channels per pixel (from :attr:`pixel_format`)."""
        return self.pixel_format.channels

    @abstractmethod
    def _read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Raw stored data of rows ``y0:y1`` and columns ``x0:x1`` in the stored layout."""

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` as ``(h, w, channels)`` samples of
        :attr:`pixel_format`'s dtype (in-bounds)."""
        try:
            data = np.asarray(self._read(y0, y1, x0, x1))
        except (TilestreamError, MemoryError):
            raise
        except Exception as exc:  # tifffile, zarr, codecs: a damaged or truncated file
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
            raise SourceError(
                f"{self.description} cannot be read at rows {y0}:{y1}, columns {x0}:{x1} "
                f"({type(exc).__name__}: {first}); the file is damaged or truncated: check it or "
                f"write it again"
            ) from exc
        if data.dtype != self.pixel_format.dtype:  # float64 is read as float32
            data = data.astype(self.pixel_format.dtype)
        if self.layout == "YX":
            data = data[:, :, None]
        elif self.layout == "SYX":
            data = np.moveaxis(data, 0, -1)
        return data

    def read_padded(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Like :meth:`read`, for a window that may run past the bottom / right edge.

        Samples past the edge replicate the last row / column (virtual padding: the padded
        image is never materialised).
        """
        h, w = self.shape
        ry0, rx0 = min(y0, h - 1), min(x0, w - 1)
        ry1, rx1 = max(min(y1, h), ry0 + 1), max(min(x1, w), rx0 + 1)
        data = self.read(ry0, ry1, rx0, rx1)
        if (ry0, ry1, rx0, rx1) == (y0, y1, x0, x1):
            return data
        rows = np.clip(np.arange(y0, y1), 0, h - 1) - ry0
        cols = np.clip(np.arange(x0, x1), 0, w - 1) - rx0
        return data[rows][:, cols]

    def _set_geometry(self, shape: tuple[int, ...], dtype: object, layout: str | None, axes: str | None = None) -> None:
        """Decide ``layout``, ``shape`` and ``pixel_format`` from the stored array's shape and
        dtype (the one place where input is normalised)."""
        self.metadata = {}
        self.layout = normalise_layout(tuple(shape), axes or layout, self.description)
        ydim = self.layout.index("Y")
        self.shape = (int(shape[ydim]), int(shape[ydim + 1]))
        if min(self.shape) < 1:
            raise SourceError(f"{self.description} is empty (shape {self.shape})")
        channels = 1 if self.layout == "YX" else int(shape[self.layout.index("S")])
        try:
            self.pixel_format = PixelFormat.for_samples(dtype, channels, self.description)
        except PixelFormatError as exc:
            raise SourceError(str(exc)) from None

    def _read_stored(self, array: object, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` of a stored array in this source's layout."""
        if self.layout == "SYX":
            return array[:, y0:y1, x0:x1]  # type: ignore[index]
        return array[y0:y1, x0:x1]  # type: ignore[index]
