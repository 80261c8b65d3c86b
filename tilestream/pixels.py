"""The pixel format: how stored samples map to a model's input and back, decided once.

A :class:`PixelFormat` is made when a source is opened (from its dtype and channel count),
recorded in the container, and read back by the decoder; every dtype and channel decision
between the source and the sink goes through it. Between the edges everything sees
model-ready ``float32`` arrays ``(3, h, w)`` in ``[0, 1]``.

Today's formats: uint8, one channel (grayscale, coded as three equal channels and restored
as their mean) or three (RGB).

>>> fmt = PixelFormat.for_samples("uint8", 1)
>>> fmt.image_shape(4, 5)
(4, 5)
>>> fmt.to_model(np.full((2, 2, 1), 255, np.uint8)).shape
(3, 2, 2)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from tilestream.errors import TilestreamError

__all__ = ["PixelFormat", "PixelFormatError"]

#: channels of the models' input
MODEL_CHANNELS = 3
_RANGES = {"uint8": (0.0, 255.0)}


class PixelFormatError(TilestreamError):
    """Samples of a type, channel count or value range tilestream cannot code."""


@dataclass(frozen=True)
class PixelFormat:
    """Stored samples and their mapping into the model's input range.

    Attributes
    ----------
    dtype : str
        Sample type of the image (``"uint8"``).
    channels : int
        Channels of the image (1: grayscale, 3: RGB).
    value_range : tuple of float
        Sample values mapped to the model's 0 and 1.
    nodata : float or None
        The value of pixels without data (``None``: every pixel is valid).
    """

    dtype: str = "uint8"
    channels: int = 3
    value_range: tuple[float, float] = (0.0, 255.0)
    nodata: float | None = None

    def __post_init__(self) -> None:
        if self.dtype not in _RANGES:
            raise PixelFormatError(
                f"samples of dtype {self.dtype} cannot be coded; tilestream codes "
                f"{', '.join(_RANGES)} images; convert to 8 bits per sample first (e.g. "
                f"array.astype('uint8') after scaling)"
            )
        if self.channels not in (1, MODEL_CHANNELS):
            raise PixelFormatError(
                f"{self.channels} channels cannot be coded; tilestream codes grayscale or "
                f"RGB (1 or 3); drop extra channels (e.g. alpha) first"
            )
        object.__setattr__(self, "value_range", tuple(float(v) for v in self.value_range))

    @classmethod
    def for_samples(cls, dtype: Any, channels: int, what: str = "the image") -> PixelFormat:
        """The format of an image of ``dtype`` with ``channels``; raises naming ``what``."""
        name = np.dtype(dtype).name
        if name not in _RANGES:
            raise PixelFormatError(
                f"{what} has dtype {name}; tilestream codes {', '.join(_RANGES)} images; convert "
                f"it to 8 bits per sample first (e.g. array.astype('uint8') after scaling)"
            )
        if int(channels) not in (1, MODEL_CHANNELS):
            raise PixelFormatError(
                f"{what} has {channels} samples per pixel; tilestream codes grayscale or RGB "
                f"(1 or 3); drop extra channels (e.g. alpha) first"
            )
        return cls(name, int(channels), _RANGES[name])

    # -- the two directions -----------------------------------------------------------
    def to_model(self, pixels: np.ndarray) -> np.ndarray:
        """``(h, w, channels)`` samples → ``(3, h, w)`` float32 in ``[0, 1]``."""
        lo, hi = self.value_range
        x = np.ascontiguousarray(pixels.transpose(2, 0, 1)).astype(np.float32)
        if lo != 0.0:
            x -= np.float32(lo)
        x /= np.float32(hi - lo)
        if self.channels == 1:
            x = np.repeat(x, MODEL_CHANNELS, axis=0)
        return x

    def from_model(self, x: np.ndarray) -> np.ndarray:
        """``(3, h, w)`` model output → ``(h, w, channels)`` samples of :attr:`dtype`."""
        lo, hi = self.value_range
        x = np.clip(x, 0.0, 1.0)
        if self.channels == 1:
            x = x.mean(axis=0, keepdims=True, dtype=np.float32)
        samples = np.round(x * np.float32(hi - lo))
        if lo != 0.0:
            samples += np.float32(lo)
        return samples.astype(self.dtype).transpose(1, 2, 0)

    # -- shapes for sinks and readers -------------------------------------------------
    def image_shape(self, height: int, width: int) -> tuple[int, ...]:
        """Array shape of a decoded image: ``(H, W)`` for one channel, else ``(H, W, C)``."""
        return (height, width) if self.channels == 1 else (height, width, self.channels)

    def squeeze(self, pixels: np.ndarray) -> np.ndarray:
        """``(h, w, channels)`` → the decoded image's own shape (see :meth:`image_shape`)."""
        return pixels[..., 0] if self.channels == 1 else pixels

    @property
    def photometric(self) -> str:
        """TIFF photometric interpretation of decoded images."""
        return "minisblack" if self.channels == 1 else "rgb"

    # -- the container record ---------------------------------------------------------
    def to_attrs(self) -> dict[str, Any]:
        """JSON-ready record."""
        attrs = asdict(self)
        attrs["value_range"] = list(self.value_range)
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> PixelFormat:
        """Parse a record written by :meth:`to_attrs`."""
        dtype = str(attrs["dtype"])
        lo, hi = attrs.get("value_range", _RANGES.get(dtype, (0.0, 1.0)))
        return cls(dtype, int(attrs["channels"]), (float(lo), float(hi)), attrs.get("nodata"))
