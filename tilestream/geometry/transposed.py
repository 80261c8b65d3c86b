"""Window arithmetic of a transposed convolution along one axis.

Input sample ``i`` of a transposed convolution with kernel ``k``, stride ``s``, padding
``p`` and dilation ``d`` adds into outputs ``i·s − p + j·d`` for ``j = 0 … k−1``; the
``output_padding`` extra samples at the end receive only the bias.

>>> t = ConvTranspose(kernel=5, stride=2, padding=2, output_padding=1)
>>> t.out_size(8)
16
>>> t.needed(Interval(4, 8))      # outputs 4 … 7 receive inputs 1 … 4
Interval(start=1, stop=5)
>>> t.produced(Interval(1, 5))
Interval(start=0, stop=11)
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tilestream.errors import GeometryError
from tilestream.geometry.axis import AxisOp, ceildiv, check_positive
from tilestream.geometry.interval import Interval

__all__ = ["ConvTranspose"]


@dataclass(frozen=True, slots=True)
class ConvTranspose(AxisOp):
    """A transposed (fractionally strided) convolution along one axis.

    Parameters
    ----------
    kernel : int
        Kernel size ``k >= 1``.
    stride : int
        Stride ``s >= 1`` (the upsampling factor).
    padding : int
        Samples ``p >= 0`` cropped from both ends of the full output.
    output_padding : int
        Extra samples ``0 <= output_padding < max(stride, dilation)`` appended at the end.
    dilation : int
        Dilation ``d >= 1``.
    """

    kernel: int
    stride: int = 1
    padding: int = 0
    output_padding: int = 0
    dilation: int = 1

    kind = "conv_transpose"

    def __post_init__(self) -> None:
        check_positive("kernel", self.kernel)
        check_positive("stride", self.stride)
        check_positive("padding", self.padding, minimum=0)
        check_positive("output_padding", self.output_padding, minimum=0)
        check_positive("dilation", self.dilation)
        if self.output_padding >= max(self.stride, self.dilation):
            raise GeometryError(
                f"output_padding {self.output_padding} must be smaller than stride "
                f"{self.stride} or dilation {self.dilation}"
            )

    @property
    def span(self) -> int:
        """Output samples touched by one input: ``d·(k−1) + 1``."""
        return self.dilation * (self.kernel - 1) + 1

    @property
    def scale(self) -> Fraction:
        return Fraction(self.stride)

    def describe(self) -> dict[str, int]:
        return {"kernel": self.kernel, "stride": self.stride}

    def out_size(self, n: int) -> int:
        check_positive("input size", n)
        size = (n - 1) * self.stride - 2 * self.padding + self.span + self.output_padding
        if size < 1:
            raise GeometryError(
                f"input of {n} samples gives an empty transposed-convolution output "
                f"(padding {self.padding}); use a larger input"
            )
        return size

    def needed(self, out: Interval) -> Interval:
        # output o receives input i through tap j when i*s == o + p - j*d
        lo = hi = None
        for j in range(self.kernel):
            first = ceildiv(out.start + self.padding - j * self.dilation, self.stride)
            last = (out.stop - 1 + self.padding - j * self.dilation) // self.stride
            if first <= last:
                lo = first if lo is None else min(lo, first)
                hi = last if hi is None else max(hi, last)
        if out.empty or lo is None or hi is None:
            start = ceildiv(out.start + self.padding - (self.span - 1), self.stride)
            return Interval(start, start)
        return Interval(lo, hi + 1)

    def feed(self, out: Interval) -> Interval:
        need = self.needed(out)
        if out.empty:
            return need
        # the padding-free output of input [u, v) covers [u*s - p, (v-1)*s - p + span)
        start = min(need.start, (out.start + self.padding) // self.stride)
        stop = max(need.stop, ceildiv(out.stop + self.padding - self.span, self.stride) + 1)
        return Interval(start, stop)

    def produced(self, feed: Interval) -> Interval:
        start = feed.start * self.stride - self.padding
        if feed.empty:
            return Interval(start, start)
        return Interval(start, (feed.stop - 1) * self.stride - self.padding + self.span)
