"""Sheared tiles: chunks of a latent coded with a serial (raster-order) causal context.

A serial autoregressive context (mbt2018, cheng2020) gives sample ``(r, c)`` parameters
computed from already decoded samples ``(r + dy, c + dx)``: rows above (``dy < 0``, ``dx``
up to ``+p``) and to the left on the same row. Cutting the latent into *rectangular* chunks
cannot decode exactly like the full-image raster scan: the last columns of a chunk read the
row above in the chunk to their right, which itself reads the chunk on its left -- a cycle.

Shearing the chunks by ``p`` columns per row removes the cycle. In a strip of chunk rows
starting at row ``r0``, tile ``j`` holds on row ``r`` the columns

    c ∈ [j·S − p·(r − r0), (j+1)·S − p·(r − r0))  ∩  [0, W)

Every context offset then points into the same tile earlier in raster order, into the tile
on the left, or into the strip above -- so tiles form a DAG, decoded as a wavefront: a tile
after its left neighbour and the tiles above and above-right of it.

>>> g = ShearedGrid((8, 12), (4, 4), [(-1, -2, 2), (0, -2, -1)])
>>> g.slope, g.grid_shape
(2, (2, 5))
>>> g.segment(0, 1, 1)
Interval(start=2, stop=6)
>>> sorted(g.deps(1, 1))
[(0, 2), (0, 3), (1, 0)]
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

from tilestream.errors import GeometryError
from tilestream.geometry.axis import ceildiv
from tilestream.geometry.interval import Interval, Window

__all__ = ["RASTER", "SAMPLE_ORDERS", "WAVEFRONT", "ShearedGrid", "context_slope", "step_slope", "wavefront_steps"]

#: the orders of the samples of a sheared tile in its stream: raster (one sample at a time,
#: CompressAI's order; containers before 1.5) and wavefront steps (:func:`wavefront_steps`;
#: container 1.5). Containers record the order by these names, and omit it when it is raster.
RASTER, WAVEFRONT = "raster", "wavefront"
SAMPLE_ORDERS = (RASTER, WAVEFRONT)

#: one row of a causal context: ``(dy, dx_lo, dx_hi)`` (inclusive)
ContextRow = tuple[int, int, int]


def context_slope(context: Sequence[ContextRow]) -> int:
    """Smallest shear ``p`` (columns per row) that makes ``context`` point backwards.

    Raises
    ------
    GeometryError
        If a context row is not causal (below the sample, or at or right of it on its row).

    >>> context_slope([(-2, -2, 2), (-1, -2, 2), (0, -2, -1)])
    2
    """
    slope = 0
    for dy, lo, hi in context:
        if lo > hi or dy > 0 or (dy == 0 and hi >= 0):
            raise GeometryError(f"context row {(dy, lo, hi)} is not causal")
        if dy < 0:
            slope = max(slope, ceildiv(max(hi, 0), -dy))
    return slope


def step_slope(context: Sequence[ContextRow]) -> int:
    """Smallest ``s`` such that every sample ``context`` reads lies on an earlier
    anti-diagonal ``t = s·r + c`` (samples of one ``t`` are independent of each other).

    Raises
    ------
    GeometryError
        If a context row is not causal.

    >>> step_slope([(-2, -2, 2), (-1, -2, 2), (0, -2, -1)])
    3
    """
    context_slope(context)  # checks causality
    slope = 0
    for dy, _, hi in context:
        if dy < 0 and hi >= 0:
            slope = max(slope, hi // -dy + 1)
    return slope


def wavefront_steps(positions: Sequence[tuple[int, int]], context: Sequence[ContextRow]) -> list[list[tuple[int, int]]]:
    """Group ``positions`` into wavefront steps for a serial ``context``.

    A step holds the samples of one anti-diagonal ``t = s·r + c`` (``s`` =
    :func:`step_slope`), rows top to bottom; steps come in increasing ``t``. No sample
    reads another of its step, and every sample it reads among ``positions`` is in an
    earlier step, so a step's samples can be coded together (one batched context
    computation, one call of the rANS decoder) in this order on both sides.

    >>> wavefront_steps([(0, 0), (0, 1), (0, 2), (0, 3), (1, 0), (1, 1)], [(-1, -1, 1), (0, -1, -1)])
    [[(0, 0)], [(0, 1)], [(0, 2), (1, 0)], [(0, 3), (1, 1)]]
    """
    s = step_slope(context)
    steps: dict[int, list[tuple[int, int]]] = {}
    for r, c in sorted(positions):
        steps.setdefault(s * r + c, []).append((r, c))
    return [steps[t] for t in sorted(steps)]


@dataclass(frozen=True)
class ShearedGrid:
    """Tiles of a ``shape = (H, W)`` latent, ``tile = (S_h, S_w)``, sheared for ``context``.

    Parameters
    ----------
    shape : tuple of int
        Latent ``(H, W)``.
    tile : tuple of int
        Rows per strip and columns per tile (the block grid's latent chunk).
    context : sequence of (dy, dx_lo, dx_hi)
        The causal context, row by row (see :func:`context_slope`).
    """

    shape: tuple[int, int]
    tile: tuple[int, int]
    context: tuple[ContextRow, ...]
    slope: int = field(init=False)

    def __post_init__(self) -> None:
        for name, pair in (("shape", self.shape), ("tile", self.tile)):
            if len(pair) != 2 or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair):
                raise GeometryError(f"sheared grid {name} must be two positive ints, got {pair!r}")
        object.__setattr__(self, "context", tuple(tuple(row) for row in self.context))
        object.__setattr__(self, "slope", context_slope(self.context))
        reach = max([-dy for dy, _, _ in self.context] + [0])
        if reach > self.tile[0] and self.shape[0] > self.tile[0]:
            raise GeometryError(
                f"a causal context {reach} rows high needs strips of at least {reach} rows, "
                f"not {self.tile[0]}; use a larger block"
            )

    @property
    def grid_shape(self) -> tuple[int, int]:
        """Strips and tile columns (some tiles at the ends of a strip may be empty)."""
        sh, sw = self.tile
        return ceildiv(self.shape[0], sh), ceildiv(self.shape[1] + self.slope * (sh - 1), sw)

    def rows(self, i: int) -> Interval:
        """Latent rows of strip ``i``."""
        sh = self.tile[0]
        return Interval(i * sh, min((i + 1) * sh, self.shape[0]))

    def segment(self, i: int, j: int, r: int) -> Interval:
        """Columns of tile ``(i, j)`` on latent row ``r`` (may be empty)."""
        shift = self.slope * (r - i * self.tile[0])
        sw = self.tile[1]
        start = min(max(j * sw - shift, 0), self.shape[1])
        stop = min(max((j + 1) * sw - shift, start), self.shape[1])
        return Interval(start, stop)

    def positions(self, i: int, j: int) -> Iterator[tuple[int, int]]:
        """Samples of tile ``(i, j)`` in coding order (raster)."""
        for r in range(self.rows(i).start, self.rows(i).stop):
            seg = self.segment(i, j, r)
            for c in range(seg.start, seg.stop):
                yield r, c

    def window(self, i: int, j: int) -> Window:
        """Bounding box of tile ``(i, j)`` (empty for an empty tile)."""
        rows = self.rows(i)
        filled = [r for r in range(rows.start, rows.stop) if not self.segment(i, j, r).empty]
        if not filled:
            return Window(Interval(rows.start, rows.start), Interval(0, 0))
        first, last = filled[0], filled[-1]
        # segments move left row by row: the bottom row starts, the top row ends the box
        cols = Interval(self.segment(i, j, last).start, self.segment(i, j, first).stop)
        return Window(Interval(first, last + 1), cols)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        """Indices of the non-empty tiles, row-major."""
        rows, cols = self.grid_shape
        for i in range(rows):
            for j in range(cols):
                if not self.window(i, j).empty:
                    yield i, j

    def touching(self, window: Window) -> Iterator[tuple[int, int]]:
        """Indices of the tiles holding at least one sample of ``window``."""
        clipped = window.clip(self.shape)
        if clipped.empty:
            return
        sh, sw = self.tile
        seen: set[tuple[int, int]] = set()
        for r in range(clipped.y.start, clipped.y.stop):
            i = r // sh
            shift = self.slope * (r - i * sh)
            for j in range((clipped.x.start + shift) // sw, (clipped.x.stop - 1 + shift) // sw + 1):
                if (i, j) not in seen:
                    seen.add((i, j))
                    yield i, j

    def context_window(self, i: int, j: int) -> Window:
        """Window of the tile's bounding box grown by the context's reach on every side."""
        box = self.window(i, j)
        dy = max([-d for d, _, _ in self.context] + [0])
        dx = max([max(-lo, hi) for _, lo, hi in self.context] + [0])
        return Window(
            Interval(box.y.start - dy, box.y.stop + dy), Interval(box.x.start - dx, box.x.stop + dx)
        )

    def deps(self, i: int, j: int) -> list[tuple[int, int]]:
        """Tiles (other than ``(i, j)``) holding context samples of tile ``(i, j)``."""
        return list(_deps(self, i, j))


@lru_cache(maxsize=65536)
def _deps(grid: ShearedGrid, i: int, j: int) -> tuple[tuple[int, int], ...]:
    found: set[tuple[int, int]] = set()
    rows = grid.rows(i)
    for r in range(rows.start, rows.stop):
        seg = grid.segment(i, j, r)
        if seg.empty:
            continue
        for dy, lo, hi in grid.context:
            row = r + dy
            if not 0 <= row < grid.shape[0]:
                continue
            reach = Window(Interval(row, row + 1), Interval(seg.start + lo, seg.stop + hi))
            found.update(grid.touching(reach))
    found.discard((i, j))
    return tuple(sorted(found))
