"""Stitch chunk values into one array over a window (numpy only)."""

from __future__ import annotations

import numpy as np

from tilestream.geometry import BlockGrid, Window
from tilestream.geometry.shear import ShearedGrid

__all__ = ["Chunks", "assemble", "assemble_tiles"]

#: chunk values keyed by (row, col)
Chunks = dict[tuple[int, int], np.ndarray]


def assemble(parts: Chunks, grid: BlockGrid, window: Window) -> np.ndarray:
    """Stitch chunks ``(C, h, w)`` of ``grid`` into one array covering ``window`` (zeros
    outside the grid: the zero padding of full-image inference).

    Raises
    ------
    KeyError
        If a chunk that ``window`` touches is missing from ``parts`` (a scheduling bug).
    """
    first = next(iter(parts.values()))
    out = np.zeros((first.shape[0], *window.shape), dtype=first.dtype)
    for index in grid.touching(window):
        if index not in parts:
            raise KeyError(f"chunk {index} needed for {window} was not provided")
        have = grid.window(*index)
        common = have.intersect(window)
        src = common.to_slices(have)
        dst = common.to_slices(window)
        out[:, dst[0], dst[1]] = parts[index][:, src[0], src[1]]
    return out


def assemble_tiles(parts: Chunks, grid: ShearedGrid, window: Window, channels: int) -> np.ndarray:
    """Sum sheared tiles (each on its bounding box, zero outside the tile) over ``window``.

    Tiles are disjoint, so the sum copies every sample exactly (``x + 0 = x``).
    """
    out = np.zeros((channels, *window.shape), dtype=np.float32)
    for index, values in parts.items():
        have = grid.window(*index)
        common = have.intersect(window)
        if common.empty:
            continue
        src = common.to_slices(have)
        dst = common.to_slices(window)
        out[:, dst[0], dst[1]] += values[:, src[0], src[1]]
    return out
