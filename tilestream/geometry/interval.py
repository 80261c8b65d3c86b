"""Half-open integer intervals and 2-D windows.

Every feature map in a block-wise computation carries the *global window* it covers:
per axis a half-open interval ``[start, stop)`` in that feature map's own coordinates.

>>> a = Interval(2, 7)
>>> a.size
5
>>> a.hull(Interval(9, 12))
Interval(start=2, stop=12)
>>> a.intersect(Interval(5, 20))
Interval(start=5, stop=7)
>>> a.clip(4)
Interval(start=2, stop=4)
"""

from __future__ import annotations

from dataclasses import dataclass

from tilestream.errors import GeometryError

__all__ = ["Interval", "Window"]


def _check_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise GeometryError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    return value


@dataclass(frozen=True, slots=True)
class Interval:
    """A half-open interval ``[start, stop)`` of integer sample positions.

    Parameters
    ----------
    start, stop : int
        Bounds; ``stop >= start``. Negative values are allowed: they denote positions
        outside a feature map (zero padding) before it is clipped.
    """

    start: int
    stop: int

    def __post_init__(self) -> None:
        _check_int("start", self.start)
        _check_int("stop", self.stop)
        if self.stop < self.start:
            raise GeometryError(
                f"interval stop {self.stop} is before start {self.start}; pass stop >= start"
            )

    @property
    def size(self) -> int:
        """Number of samples in the interval."""
        return self.stop - self.start

    @property
    def empty(self) -> bool:
        """True when the interval holds no sample."""
        return self.stop == self.start

    def hull(self, other: Interval) -> Interval:
        """Smallest interval containing both (an empty operand is ignored)."""
        if self.empty:
            return other
        if other.empty:
            return self
        return Interval(min(self.start, other.start), max(self.stop, other.stop))

    def intersect(self, other: Interval) -> Interval:
        """Common part of both intervals (empty, anchored at ``max(start)``, if disjoint)."""
        start = max(self.start, other.start)
        return Interval(start, max(start, min(self.stop, other.stop)))

    def clip(self, size: int) -> Interval:
        """Intersection with ``[0, size)``, the extent of a feature map of ``size`` samples."""
        return self.intersect(Interval(0, size))

    def contains(self, other: Interval) -> bool:
        """True when every sample of ``other`` lies in this interval."""
        return other.empty or (self.start <= other.start and other.stop <= self.stop)

    def shift(self, offset: int) -> Interval:
        """The interval moved by ``offset`` samples."""
        return Interval(self.start + offset, self.stop + offset)

    def to_slice(self, origin: int = 0) -> slice:
        """A slice selecting this interval in an array whose first sample is ``origin``."""
        return slice(self.start - origin, self.stop - origin)


@dataclass(frozen=True, slots=True)
class Window:
    """A 2-D window: one :class:`Interval` for rows (``y``) and one for columns (``x``).

    >>> w = Window(Interval(0, 4), Interval(2, 5))
    >>> w.shape
    (4, 3)
    """

    y: Interval
    x: Interval

    @classmethod
    def from_bounds(cls, y0: int, y1: int, x0: int, x1: int) -> Window:
        """Build a window from ``y0:y1, x0:x1``."""
        return cls(Interval(y0, y1), Interval(x0, x1))

    @classmethod
    def full(cls, shape: tuple[int, int]) -> Window:
        """The window covering a whole feature map of ``shape = (height, width)``."""
        return cls(Interval(0, shape[0]), Interval(0, shape[1]))

    @property
    def axes(self) -> tuple[Interval, Interval]:
        """The two intervals, rows first."""
        return (self.y, self.x)

    @property
    def shape(self) -> tuple[int, int]:
        """``(height, width)`` of the window."""
        return (self.y.size, self.x.size)

    @property
    def empty(self) -> bool:
        """True when the window holds no sample."""
        return self.y.empty or self.x.empty

    def hull(self, other: Window) -> Window:
        """Smallest window containing both."""
        if self.empty:
            return other
        if other.empty:
            return self
        return Window(self.y.hull(other.y), self.x.hull(other.x))

    def intersect(self, other: Window) -> Window:
        """Common part of both windows."""
        return Window(self.y.intersect(other.y), self.x.intersect(other.x))

    def clip(self, shape: tuple[int, int]) -> Window:
        """Intersection with a feature map of ``shape``."""
        return Window(self.y.clip(shape[0]), self.x.clip(shape[1]))

    def contains(self, other: Window) -> bool:
        """True when ``other`` lies inside this window."""
        return other.empty or (self.y.contains(other.y) and self.x.contains(other.x))

    def to_slices(self, origin: Window | None = None) -> tuple[slice, slice]:
        """Slices selecting this window in an array that covers ``origin``."""
        oy = origin.y.start if origin is not None else 0
        ox = origin.x.start if origin is not None else 0
        return (self.y.to_slice(oy), self.x.to_slice(ox))
