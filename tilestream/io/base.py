"""The contract of an image source: lazy, picklable, read window by window."""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from tilestream.errors import TilestreamError

__all__ = ["Source", "SourceError", "normalise_layout"]


class SourceError(TilestreamError):
    """An input cannot be read as an image tilestream can code."""


def normalise_layout(shape: tuple[int, ...], axes: str | None, what: str) -> str:
    """Decide the axis order of an array of ``shape``: ``"YX"``, ``"YXS"`` or ``"SYX"``.

    ``axes`` is the order the file declares (tifffile's series axes), if any.
    """
    if axes is not None:
        axes = axes.upper().replace("C", "S")
        if axes in ("YX", "YXS", "SYX"):
            if axes != "YX":
                samples = shape[axes.index("S")]
                if samples not in (1, 3):
                    raise SourceError(
                        f"{what} has {samples} samples per pixel; tilestream codes grayscale "
                        f"or RGB (1 or 3); drop extra channels (e.g. alpha) first"
                    )
            return axes
        raise SourceError(
            f"{what} has axes {axes!r} (shape {shape}); tilestream reads 2-D images with axes "
            f"YX, YXS or SYX; select one page or plane first"
        )
    if len(shape) == 2:
        return "YX"
    if len(shape) == 3:
        if shape[-1] in (1, 3):
            return "YXS"
        if shape[0] in (1, 3):
            return "SYX"
        raise SourceError(
            f"{what} has shape {shape}; expected (H, W), (H, W, 1|3) or (1|3, H, W); drop "
            f"extra channels (e.g. alpha) first"
        )
    raise SourceError(
        f"{what} has {len(shape)} dimensions (shape {shape}); expected a 2-D image with "
        f"optional channel axis"
    )


class Source(ABC):
    """A 2-D uint8 image, grayscale or RGB, read lazily by window.

    Implementations keep only what is needed to reopen the data (a path and options), so
    they pickle cheaply and open on the worker that reads them.

    Attributes
    ----------
    shape : tuple of int
        ``(height, width)``.
    channels : int
        1 (grayscale) or 3 (RGB).
    layout : str
        Axis order of the stored data: ``"YX"``, ``"YXS"`` or ``"SYX"``.
    """

    shape: tuple[int, int]
    channels: int
    layout: str
    description: str = "image"

    @abstractmethod
    def _read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Raw stored data of rows ``y0:y1`` and columns ``x0:x1`` in the stored layout."""

    def read(self, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` as ``(h, w, channels)`` uint8 (in-bounds)."""
        data = np.asarray(self._read(y0, y1, x0, x1))
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

    def _set_geometry(self, shape: tuple[int, ...], layout: str | None, axes: str | None = None) -> None:
        """Set ``layout``, ``shape`` and ``channels`` from the stored array's shape, then check."""
        self.layout = normalise_layout(tuple(shape), axes or layout, self.description)
        ydim = self.layout.index("Y")
        self.shape = (int(shape[ydim]), int(shape[ydim + 1]))
        self.channels = 1 if self.layout == "YX" else int(shape[self.layout.index("S")])
        self.check()

    def _read_stored(self, array: object, y0: int, y1: int, x0: int, x1: int) -> np.ndarray:
        """Rows ``y0:y1``, columns ``x0:x1`` of a stored array in this source's layout."""
        if self.layout == "SYX":
            return array[:, y0:y1, x0:x1]  # type: ignore[index]
        return array[y0:y1, x0:x1]  # type: ignore[index]

    def check(self) -> None:
        """Validate shape and channels (called by implementations after opening)."""
        if self.channels not in (1, 3):
            raise SourceError(f"{self.description} has {self.channels} channels; use 1 or 3")
        if min(self.shape) < 1:
            raise SourceError(f"{self.description} is empty (shape {self.shape})")
