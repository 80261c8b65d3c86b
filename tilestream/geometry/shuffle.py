"""Window arithmetic of pixel shuffle (depth to space) and pixel unshuffle.

>>> PixelShuffle(2).needed(Interval(3, 8))
Interval(start=1, stop=4)
>>> PixelShuffle(2).produced(Interval(1, 4))
Interval(start=2, stop=8)
>>> PixelUnshuffle(2).needed(Interval(1, 3))
Interval(start=2, stop=6)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tilestream.errors import GeometryError
from tilestream.geometry.axis import AxisOp, ceildiv, check_positive, require_divisible
from tilestream.geometry.interval import Interval

__all__ = ["PixelShuffle", "PixelUnshuffle"]


@dataclass(frozen=True, slots=True)
class PixelShuffle(AxisOp):
    """Upsampling by ``factor``: input sample ``i`` becomes outputs ``i·r … i·r + r − 1``."""

    factor: int

    kind = "pixel_shuffle"

    def __post_init__(self) -> None:
        check_positive("factor", self.factor)

    @property
    def scale(self) -> Fraction:
        return Fraction(self.factor)

    def describe(self) -> dict[str, int]:
        return {"kernel": 1, "stride": self.factor}

    def out_size(self, n: int) -> int:
        return check_positive("input size", n) * self.factor

    def needed(self, out: Interval) -> Interval:
        start = out.start // self.factor
        if out.empty:
            return Interval(start, start)
        return Interval(start, ceildiv(out.stop, self.factor))

    def produced(self, feed: Interval) -> Interval:
        return Interval(feed.start * self.factor, feed.stop * self.factor)


@dataclass(frozen=True, slots=True)
class PixelUnshuffle(AxisOp):
    """Downsampling by ``factor``: output ``o`` gathers inputs ``o·r … o·r + r − 1``."""

    factor: int

    kind = "pixel_unshuffle"

    def __post_init__(self) -> None:
        check_positive("factor", self.factor)

    @property
    def scale(self) -> Fraction:
        return Fraction(1, self.factor)

    def describe(self) -> dict[str, int]:
        return {"kernel": self.factor, "stride": self.factor}

    def out_size(self, n: int) -> int:
        check_positive("input size", n)
        if n % self.factor:
            raise GeometryError(
                f"pixel unshuffle needs a size divisible by {self.factor}, got {n}; pad the input"
            )
        return n // self.factor

    def needed(self, out: Interval) -> Interval:
        return Interval(out.start * self.factor, out.stop * self.factor)

    def produced(self, feed: Interval) -> Interval:
        start = require_divisible("pixel unshuffle input start", feed.start, self.factor)
        return Interval(start, start + feed.size // self.factor)
