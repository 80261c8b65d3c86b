"""Window arithmetic of a convolution along one axis.

Output sample ``o`` of a convolution with kernel ``k``, stride ``s``, padding ``p`` and
dilation ``d`` reads input samples ``o·s − p + j·d`` for ``j = 0 … k−1``.

>>> c = Conv(kernel=5, stride=2, padding=2)
>>> c.out_size(64)
32
>>> c.needed(Interval(4, 6))      # outputs 4, 5 read inputs 6 … 12
Interval(start=6, stop=13)
>>> c.produced(Interval(6, 13))
Interval(start=4, stop=6)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tilestream.errors import GeometryError
from tilestream.geometry.axis import AxisOp, check_positive, require_divisible
from tilestream.geometry.interval import Interval

__all__ = ["Conv"]


@dataclass(frozen=True, slots=True)
class Conv(AxisOp):
    """A (strided, dilated, zero-padded) convolution along one axis.

    Parameters
    ----------
    kernel : int
        Kernel size ``k >= 1``.
    stride : int
        Stride ``s >= 1``.
    padding : int
        Zero padding ``p >= 0`` added on *both* sides of the input.
    dilation : int
        Dilation ``d >= 1``.
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    dilation: int = 1

    kind = "conv"

    def __post_init__(self) -> None:
        check_positive("kernel", self.kernel)
        check_positive("stride", self.stride)
        check_positive("padding", self.padding, minimum=0)
        check_positive("dilation", self.dilation)

    @property
    def span(self) -> int:
        """Input samples spanned by one output: ``d·(k−1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def scale(self) -> Fraction:
        return Fraction(1, self.stride)

    def describe(self) -> dict[str, int]:
        return {"kernel": self.kernel, "stride": self.stride}

    def out_size(self, n: int) -> int:
        check_positive("input size", n)
        padded = n + 2 * self.padding
        if padded < self.span:
            raise GeometryError(
                f"input of {n} samples is too small for a convolution spanning {self.span} "
                f"samples with padding {self.padding}; use a larger input"
            )
        return (padded - self.span) // self.stride + 1

    def needed(self, out: Interval) -> Interval:
        start = out.start * self.stride - self.padding
        if out.empty:
            return Interval(start, start)
        return Interval(start, (out.stop - 1) * self.stride - self.padding + self.span)

    def produced(self, feed: Interval) -> Interval:
        first = require_divisible(
            "convolution input start + padding", feed.start + self.padding, self.stride
        )
        if feed.size < self.span:
            return Interval(first, first)
        return Interval(first, first + (feed.size - self.span) // self.stride + 1)
