"""The pixel format: how stored samples map to a model's input and back, decided once.

A :class:`PixelFormat` is made when a source is opened (from its dtype and channel count),
completed by the encoder's statistics pass (:func:`~tilestream.io.stats.fit_value_range`:
the value range of each band, for samples wider than 8 bits), recorded in the container,
and read back by the decoder; every dtype and channel decision between the source and the
sink goes through it. Between the edges everything sees model-ready ``float32`` arrays
``(C, h, w)`` in ``[0, 1]``, ``C`` the model's input channels (3 for every stock model).

Bands: any number, coded ``C`` at a time (:meth:`PixelFormat.band_groups`); a group of
fewer than ``C`` repeats its last band (restored as the mean of its copies). Samples: uint8
(mapped from 0-255), uint16, int16, uint32, int32 and float32 (each band mapped linearly
from its value range ``[lo, hi]`` onto ``[0, 1]``; values outside clip to it); float64 is
read as float32.

>>> fmt = PixelFormat.for_samples("uint8", 1)
>>> fmt.image_shape(4, 5)
(4, 5)
>>> fmt.to_model(np.full((2, 2, 1), 255, np.uint8)).shape
(3, 2, 2)
>>> PixelFormat("uint16", 1, ((100.0, 1100.0),)).from_model(np.full((3, 1, 1), 0.5, np.float32))[0, 0]
array([600], dtype=uint16)
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

import warnings

import numpy as np

from tilestream.errors import TilestreamError

__all__ = ["PixelFormat", "PixelFormatError"]

#: per-band curves after the linear map onto [0, 1] (see ``PixelFormat.transfer``)
TRANSFERS = ("linear", "sqrt")
#: channels of the stock models' input (the default group size)
MODEL_CHANNELS = 3
#: sample types coded, and the value range assumed before the statistics pass
_RANGES: dict[str, tuple[float, float]] = {
    "uint8": (0.0, 255.0),
    "uint16": (0.0, 65535.0),
    "int16": (-32768.0, 32767.0),
    "uint32": (0.0, 4294967295.0),
    "int32": (-2147483648.0, 2147483647.0),
    "float32": (0.0, 1.0),
}
#: read as another type, with a warning
_WIDENED = {"float64": "float32"}


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
    value_range : tuple of (float, float)
        Per channel, the sample values mapped to the model's 0 and 1.
    nodata : float or None
        The value of pixels without data (``None``: every pixel is valid). A pixel is
        without data when every band holds this value; NaN (float samples) marks NaN pixels.
    fill : tuple of float or None
        Per band, the value nodata pixels are replaced by before encoding (the band's mean:
        cheap to code, and the same wherever a window is read, so block-wise coding stays
        exact).
    model_channels : int
        Input channels of the model that codes the image (3 for every stock model): bands
        are coded that many at a time (:meth:`band_groups`).
    transfer : tuple of str or None
        Per band, the curve after the linear map onto ``[0, 1]``: ``"linear"`` or ``"sqrt"``
        (a band whose values crowd the bottom of their range: the square root spreads them
        over more of the model's input); ``None``: all linear. Chosen by the statistics pass
        (:func:`~tilestream.io.stats.fit_value_range`); never for uint8.
    """

    dtype: str = "uint8"
    channels: int = 3
    value_range: tuple[tuple[float, float], ...] = ((0.0, 255.0),) * 3
    nodata: float | None = None
    fill: tuple[float, ...] | None = None
    model_channels: int = MODEL_CHANNELS
    transfer: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        if self.dtype not in _RANGES:
            raise PixelFormatError(
                f"samples of dtype {self.dtype} cannot be coded; tilestream codes "
                f"{', '.join(_RANGES)} images; convert to 8 bits per sample first (e.g. "
                f"array.astype('uint8') after scaling)"
            )
        if self.channels < 1:
            raise PixelFormatError(f"{self.channels} channels cannot be coded; an image has at least one band")
        if isinstance(self.model_channels, bool) or not isinstance(self.model_channels, int) or self.model_channels < 1:
            raise PixelFormatError(
                f"model channels {self.model_channels!r} must be an integer >= 1; pass a model whose g_a "
                f"reads at least one channel"
            )
        ranges = tuple((float(lo), float(hi)) for lo, hi in self.value_range)
        if len(ranges) != self.channels or any(not lo < hi for lo, hi in ranges):
            raise PixelFormatError(
                f"value range {ranges} does not give one increasing (lo, hi) pair per channel "
                f"for {self.channels} channel(s)"
            )
        object.__setattr__(self, "value_range", ranges)
        if self.nodata is not None:
            value = np.asarray(self.nodata, np.float64)
            if np.isnan(value) and not self.is_integer:
                pass  # NaN marks nodata in float rasters (GDAL_NODATA "nan")
            elif not np.isfinite(value) or np.asarray(value.astype(self.dtype), np.float64) != value:
                raise PixelFormatError(
                    f"nodata {self.nodata!r} is not a value of {self.dtype} samples; pass --nodata "
                    f"with a value the image's type can hold"
                )
            object.__setattr__(self, "nodata", float(value))
        if self.fill is not None:
            object.__setattr__(self, "fill", tuple(float(v) for v in self.fill))
            if len(self.fill) != self.channels:
                raise PixelFormatError(f"fill {self.fill} does not give one value per channel")
        if self.transfer is not None:
            curves = tuple(str(t) for t in self.transfer)
            if len(curves) != self.channels or any(t not in TRANSFERS for t in curves):
                raise PixelFormatError(
                    f"transfer {curves} does not give one of {', '.join(TRANSFERS)} per channel; "
                    f"re-encode with this tilestream"
                )
            object.__setattr__(self, "transfer", None if all(t == "linear" for t in curves) else curves)

    @classmethod
    def for_samples(cls, dtype: Any, channels: int, what: str = "the image") -> PixelFormat:
        """The format of an image of ``dtype`` with ``channels``; raises naming ``what``."""
        name = np.dtype(dtype).name
        if name in _WIDENED:
            warnings.warn(f"{what} has dtype {name}; it is read and decoded as {_WIDENED[name]}", stacklevel=2)
            name = _WIDENED[name]
        if name not in _RANGES:
            raise PixelFormatError(
                f"{what} has dtype {name}; tilestream codes {', '.join(_RANGES)} images; convert "
                f"it to one of them first (e.g. array.astype('float32'))"
            )
        return cls(name, int(channels), (_RANGES[name],) * int(channels))

    @property
    def is_integer(self) -> bool:
        """True for integer samples (decoded values are rounded and clipped to the type)."""
        return np.issubdtype(np.dtype(self.dtype), np.integer)

    def with_ranges(self, ranges: list[tuple[float, float]], fill: list[float] | None = None) -> PixelFormat:
        """This format with per-channel value ranges (and nodata fill) from a statistics pass."""
        return replace(self, value_range=tuple(ranges), fill=None if fill is None else tuple(fill))

    def with_transfer(self, transfer: list[str] | tuple[str, ...] | None) -> PixelFormat:
        """This format with per-band transfer curves (see :attr:`transfer`)."""
        return replace(self, transfer=None if transfer is None else tuple(transfer))

    def _curved(self) -> np.ndarray | None:
        """Channel indices whose transfer is ``sqrt`` (``None`` when none is)."""
        if self.transfer is None:
            return None
        picked = np.array([n for n, t in enumerate(self.transfer) if t == "sqrt"], int)
        return picked if picked.size else None

    def with_nodata(self, nodata: float | None) -> PixelFormat:
        """This format with another nodata value."""
        return replace(self, nodata=nodata, fill=None)

    def with_model_channels(self, channels: int) -> PixelFormat:
        """This format for a model of ``channels`` input channels (the band group size).

        >>> PixelFormat.for_samples("uint8", 4).with_model_channels(4).band_groups()
        [(0, 1, 2, 3)]
        """
        return replace(self, model_channels=int(channels))

    def mask(self, pixels: np.ndarray) -> np.ndarray:
        """``(h, w)`` True where ``(h, w, channels)`` samples are nodata (all bands)."""
        if self.nodata is None:
            return np.zeros(pixels.shape[:2], bool)
        if np.isnan(self.nodata):
            return np.isnan(pixels).all(axis=-1)
        return (pixels == np.asarray(self.nodata).astype(pixels.dtype)).all(axis=-1)

    def restore(self, samples: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """Decoded samples with nodata pixels put back exactly, and no valid pixel left
        equal to the nodata value (moved by one step towards the value range)."""
        if self.nodata is None:
            return samples
        nodata = np.asarray(self.nodata).astype(samples.dtype)
        clash = (samples == nodata).all(axis=-1) & ~mask
        if clash.any():
            lo = self.value_range[0][0]
            step = np.asarray(1 if self.is_integer else np.spacing(np.float32(abs(float(nodata)) or 1)), samples.dtype)
            moved = nodata + step if float(nodata) <= lo else nodata - step
            samples[clash, 0] = moved
        samples[mask] = nodata
        return samples

    def band_groups(self) -> list[tuple[int, ...]]:
        """The bands coded together, :attr:`model_channels` at a time; the last group may
        hold fewer, its last band repeated to fill the model's input.

        >>> PixelFormat.for_samples("uint16", 7).band_groups()
        [(0, 1, 2), (3, 4, 5), (6,)]
        >>> PixelFormat.for_samples("uint16", 7).with_model_channels(4).band_groups()
        [(0, 1, 2, 3), (4, 5, 6)]
        """
        n = self.model_channels
        return [tuple(range(g, min(g + n, self.channels))) for g in range(0, self.channels, n)]

    def group(self, bands: tuple[int, ...]) -> PixelFormat:
        """The format of the image made of ``bands`` (one of :meth:`band_groups`)."""
        fill = None if self.fill is None else tuple(self.fill[b] for b in bands)
        transfer = None if self.transfer is None else tuple(self.transfer[b] for b in bands)
        return replace(
            self, channels=len(bands), value_range=tuple(self.value_range[b] for b in bands), fill=fill, transfer=transfer,
        )

    def _affine(self, dtype: type = np.float32) -> tuple[np.ndarray, np.ndarray]:
        lo = np.array([r[0] for r in self.value_range], np.float64)
        span = np.array([r[1] - r[0] for r in self.value_range], np.float64)
        return lo.astype(dtype)[:, None, None], span.astype(dtype)[:, None, None]

    # -- the two directions -----------------------------------------------------------
    def to_model(self, pixels: np.ndarray) -> np.ndarray:
        """``(h, w, channels)`` samples → ``(model_channels, h, w)`` float32 in ``[0, 1]``;
        fewer channels are filled up by repeating the last one."""
        self._check_model_channels()
        lo, span = self._affine()
        if self.fill is not None:
            holes = self.mask(pixels)
            if holes.any():
                pixels = pixels.copy()
                pixels[holes] = np.asarray(self.fill).astype(pixels.dtype)
        x = np.ascontiguousarray(pixels.transpose(2, 0, 1))
        if self.dtype == "uint8":  # x / 255 in float32, exactly as CompressAI's own encoders
            x = x.astype(np.float32)
            x /= span
        else:  # in float64 (a large offset over a small span loses nothing), clipped to the range
            lo64, span64 = self._affine(np.float64)
            t = np.clip((x.astype(np.float64) - lo64) / span64, 0.0, 1.0)
            curved = self._curved()
            if curved is not None:
                t[curved] = np.sqrt(t[curved])
            x = t.astype(np.float32)
        if self.channels < self.model_channels:
            x = np.concatenate([x, np.repeat(x[-1:], self.model_channels - self.channels, axis=0)])
        return x

    def from_model(self, x: np.ndarray) -> np.ndarray:
        """``(model_channels, h, w)`` model output → ``(h, w, channels)`` samples of
        :attr:`dtype` (a repeated last channel is restored as the mean of its copies)."""
        self._check_model_channels()
        if x.shape[0] != self.model_channels:
            raise PixelFormatError(
                f"model output has {x.shape[0]} channels, but this pixel format expects "
                f"{self.model_channels}; decode with the model the image was encoded with"
            )
        lo, span = self._affine()
        x = np.clip(x, 0.0, 1.0, dtype=np.result_type(x, span))  # a copy: the steps below work in place
        n = self.channels
        if n < self.model_channels:
            last = x[n - 1 :].mean(axis=0, keepdims=True, dtype=np.float32)
            x = last if n == 1 else np.concatenate([x[: n - 1], last])
        if self.dtype == "uint8":  # x·255 in float32, exactly as CompressAI's own decoders
            np.multiply(x, span, out=x)  # in place: two fewer 12 MiB temporaries per 1024² chunk
            np.round(x, out=x)
            return x.astype(np.uint8).transpose(1, 2, 0)
        lo, span = self._affine(np.float64)
        t = x.astype(np.float64)
        curved = self._curved()
        if curved is not None:
            t[curved] = np.square(t[curved])
        samples = t * span + lo  # float64: exact for 32-bit integers
        if self.is_integer:
            info = np.iinfo(np.dtype(self.dtype))
            samples = np.clip(np.round(samples), info.min, info.max)
        return samples.astype(self.dtype).transpose(1, 2, 0)

    def _check_model_channels(self) -> None:
        if self.channels > self.model_channels:
            raise PixelFormatError(
                f"{self.channels} bands are coded in groups of {self.model_channels}; map each of "
                f"band_groups() separately"
            )

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
        return "rgb" if self.channels == 3 else "minisblack"

    # -- the container record ---------------------------------------------------------
    def to_attrs(self) -> dict[str, Any]:
        """JSON-ready record."""
        attrs = asdict(self)
        attrs["value_range"] = [list(r) for r in self.value_range]
        attrs["fill"] = None if self.fill is None else list(self.fill)
        attrs["transfer"] = None if self.transfer is None else list(self.transfer)
        if self.nodata is not None and np.isnan(self.nodata):
            attrs["nodata"] = "NaN"  # JSON has no NaN
        return attrs

    @classmethod
    def from_attrs(cls, attrs: dict[str, Any]) -> PixelFormat:
        """Parse a record written by :meth:`to_attrs` (``model_channels``: 3 when absent,
        as in records written before models of other channel counts)."""
        dtype, channels = str(attrs["dtype"]), int(attrs["channels"])
        ranges = attrs.get("value_range") or [_RANGES.get(dtype, (0.0, 1.0))] * channels
        fill = attrs.get("fill")
        return cls(
            dtype, channels, tuple((float(lo), float(hi)) for lo, hi in ranges),
            None if attrs.get("nodata") is None else float(attrs["nodata"]),
            None if fill is None else tuple(fill), int(attrs.get("model_channels", MODEL_CHANNELS)),
            None if attrs.get("transfer") is None else tuple(attrs["transfer"]),
        )
