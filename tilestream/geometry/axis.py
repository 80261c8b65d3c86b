"""The contract of a spatial operation along one axis.

A 2-D layer is separable into two :class:`AxisOp` s, one per axis. An ``AxisOp`` answers
four questions about windows, all in global coordinates of the input and output feature
maps:

* :meth:`AxisOp.out_size` -- how long is the output for an input of ``n`` samples?
* :meth:`AxisOp.needed` -- which input samples can influence output window ``out``
  (*planning*, backwards)? Positions outside ``[0, n)`` are the layer's zero padding.
* :meth:`AxisOp.feed` -- which input window must be handed to the *padding-free* version
  of the operation so that it produces at least ``out``? It contains :meth:`needed`;
  samples of the feed that are not needed, or lie outside the feature map, are zeros.
* :meth:`AxisOp.produced` -- which output window does the padding-free operation yield
  from an input window (*execution*, forwards)?

Implementations: :class:`Pointwise` (here), :class:`~tilestream.geometry.conv.Conv`,
:class:`~tilestream.geometry.transposed.ConvTranspose`,
:class:`~tilestream.geometry.shuffle.PixelShuffle` and
:class:`~tilestream.geometry.shuffle.PixelUnshuffle`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from fractions import Fraction

from tilestream.errors import GeometryError
from tilestream.geometry.interval import Interval

__all__ = ["AxisOp", "Pointwise", "check_positive"]


def check_positive(name: str, value: object, *, minimum: int = 1) -> int:
    """Return ``value`` if it is an int ``>= minimum``, else raise :class:`GeometryError`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise GeometryError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return value


class AxisOp(ABC):
    """Window arithmetic of one layer along one axis (see the module docstring)."""

    #: short name of the operation kind, e.g. ``"conv"``
    kind: str = "op"

    @abstractmethod
    def out_size(self, n: int) -> int:
        """Output length for an input of ``n`` samples (raises if ``n`` is too small)."""

    @abstractmethod
    def needed(self, out: Interval) -> Interval:
        """Hull of the input positions that influence ``out`` (not clipped)."""

    def feed(self, out: Interval) -> Interval:
        """Input window for the padding-free operation to produce ``out``; ⊇ :meth:`needed`."""
        return self.needed(out)

    @abstractmethod
    def produced(self, feed: Interval) -> Interval:
        """Output window of the padding-free operation applied to input window ``feed``."""

    @property
    def scale(self) -> Fraction:
        """Output samples per input sample (``1/stride`` for a strided convolution)."""
        return Fraction(1)

    def describe(self) -> dict[str, int]:
        """Parameters worth showing in a report, e.g. ``{"kernel": 5, "stride": 2}``."""
        return {}


@dataclass(frozen=True, slots=True)
class Pointwise(AxisOp):
    """An operation where output sample ``i`` depends on input sample ``i`` only.

    >>> Pointwise().needed(Interval(3, 5))
    Interval(start=3, stop=5)
    """

    kind = "pointwise"

    def out_size(self, n: int) -> int:
        return n

    def needed(self, out: Interval) -> Interval:
        return out

    def produced(self, feed: Interval) -> Interval:
        return feed


def floordiv(a: int, b: int) -> int:
    """Floor division (Python's ``//``), named for clarity in formulas."""
    return a // b


def ceildiv(a: int, b: int) -> int:
    """Ceiling division for integers."""
    return -((-a) // b)


def require_divisible(what: str, value: int, divisor: int) -> int:
    """``value // divisor``, raising :class:`GeometryError` if it does not divide evenly."""
    if value % divisor:
        raise GeometryError(
            f"{what} {value} is not a multiple of {divisor}; windows of this layer must be "
            f"aligned to its stride"
        )
    return value // divisor
