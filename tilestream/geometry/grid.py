"""A grid of blocks over a 2-D feature map.

>>> g = BlockGrid((5, 7), (2, 4))
>>> g.grid_shape
(3, 2)
>>> g.window(2, 1)
Window(y=Interval(start=4, stop=5), x=Interval(start=4, stop=7))
>>> sorted(g.touching(Window.from_bounds(1, 3, 3, 5)))
[(0, 0), (0, 1), (1, 0), (1, 1)]
>>> [w.shape for w in split_window(Window.from_bounds(2, 9, 0, 4), 4)]
[(2, 4), (4, 4), (1, 4)]
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tilestream.errors import GeometryError
from tilestream.geometry.axis import ceildiv
from tilestream.geometry.interval import Interval, Window

__all__ = ["BlockGrid", "normalise_block", "split_window"]


def normalise_block(block: int | tuple[int, int]) -> tuple[int, int]:
    """Turn ``block`` (an int or a ``(rows, cols)`` pair) into a validated pair."""
    pair = (block, block) if isinstance(block, int) and not isinstance(block, bool) else block
    if (
        not isinstance(pair, tuple)
        or len(pair) != 2
        or any(isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in pair)
    ):
        raise GeometryError(
            f"block must be a positive int or a pair of positive ints, got {block!r}"
        )
    return pair


@dataclass(frozen=True, slots=True)
class BlockGrid:
    """Blocks of ``block = (rows, cols)`` samples tiling a map of ``shape``; the last
    row and column of blocks may be smaller.
    """

    shape: tuple[int, int]
    block: tuple[int, int]

    def __post_init__(self) -> None:
        if len(self.shape) != 2 or any(
            isinstance(v, bool) or not isinstance(v, int) or v < 1 for v in self.shape
        ):
            raise GeometryError(f"grid shape must be two positive ints, got {self.shape!r}")
        object.__setattr__(self, "block", normalise_block(self.block))

    @property
    def grid_shape(self) -> tuple[int, int]:
        """Number of block rows and block columns."""
        return (ceildiv(self.shape[0], self.block[0]), ceildiv(self.shape[1], self.block[1]))

    def __len__(self) -> int:
        rows, cols = self.grid_shape
        return rows * cols

    def window(self, i: int, j: int) -> Window:
        """Window of block ``(i, j)``."""
        rows, cols = self.grid_shape
        if not (0 <= i < rows and 0 <= j < cols):
            raise GeometryError(f"block ({i}, {j}) is outside a grid of {rows}x{cols} blocks")
        by, bx = self.block
        return Window(
            Interval(i * by, min((i + 1) * by, self.shape[0])),
            Interval(j * bx, min((j + 1) * bx, self.shape[1])),
        )

    def __iter__(self) -> Iterator[tuple[tuple[int, int], Window]]:
        rows, cols = self.grid_shape
        for i in range(rows):
            for j in range(cols):
                yield (i, j), self.window(i, j)

    def touching(self, window: Window) -> Iterator[tuple[int, int]]:
        """Indices of the blocks that share at least one sample with ``window``."""
        clipped = window.clip(self.shape)
        if clipped.empty:
            return
        by, bx = self.block
        for i in range(clipped.y.start // by, ceildiv(clipped.y.stop, by)):
            for j in range(clipped.x.start // bx, ceildiv(clipped.x.stop, bx)):
                yield (i, j)


def split_window(window: Window, tile: int) -> list[Window]:
    """``window`` cut by the global grid of ``tile``-sample squares (lines at multiples of
    ``tile``), row-major: the pieces a transform runs one at a time inside a larger chunk.

    Parameters
    ----------
    window : Window
        A non-empty window.
    tile : int
        Side of the global grid's squares.
    """
    if isinstance(tile, bool) or not isinstance(tile, int) or tile < 1:
        raise GeometryError(f"tile must be a positive int, got {tile!r}")

    def cuts(span: Interval) -> list[Interval]:
        edges = [span.start, *range((span.start // tile + 1) * tile, span.stop, tile), span.stop]
        return [Interval(a, b) for a, b in zip(edges, edges[1:])]

    return [Window(ys, xs) for ys in cuts(window.y) for xs in cuts(window.x)]
