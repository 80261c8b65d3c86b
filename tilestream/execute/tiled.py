"""One transform over a large window, one tile at a time.

The unit of random access (an entropy chunk of the container) can be larger than the unit
of memory (the transform block): a task that owns a 1024² chunk runs ``g_a`` or ``g_s`` over
it in 256² or 512² tiles, each computed on its own minimal window exactly as
:func:`~tilestream.execute.run_window` computes any window, and stitches the outputs. Peak
activation memory is that of one tile (times the batch); the result is the chunk's output
(full-image inference on it, up to floating-point summation order).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from tilestream.execute.batch import Item, run_windows
from tilestream.execute.crop import crop
from tilestream.geometry import Window, split_window
from tilestream.models.graph import LayerGraph

__all__ = ["run_tiled", "stitch", "tile_items"]


def tile_items(
    graph: LayerGraph, x: Tensor, x_window: Window, out: Window, input_shape: tuple[int, int], tile: int | None
) -> tuple[list[Item], list[Window]]:
    """The ``(x, x_window, out)`` items of ``out`` cut into ``tile``-sample squares of the
    output (global grid), each with the part of ``x`` its plan reads; and the tiles.

    ``tile=None`` (or a tile covering ``out``) gives the one item of the whole window.
    """
    tiles = [out] if tile is None else split_window(out, tile)
    if len(tiles) == 1:
        return [(x, x_window, out)], [out]
    items: list[Item] = []
    for piece in tiles:
        need = graph.spatial.plan(input_shape, piece)[0]
        if need is None:  # pragma: no cover - transforms always read their input
            raise ValueError(f"{graph.name} reads no input for {piece}")
        items.append((crop(x, x_window, need), need, piece))
    return items, tiles


def stitch(outs: Sequence[Tensor], tiles: Sequence[Window], out: Window) -> Tensor:
    """The output over ``out`` from the outputs of its ``tiles``."""
    if len(outs) == 1:
        return outs[0]
    first = outs[0]
    value = torch.empty((*first.shape[:-2], *out.shape), dtype=first.dtype, device=first.device)
    for piece, part in zip(tiles, outs):
        ys, xs = piece.to_slices(out)
        value[..., ys, xs] = part
    return value


def run_tiled(
    graph: LayerGraph,
    x: Tensor,
    x_window: Window,
    out: Window,
    input_shape: tuple[int, int],
    tile: int | None,
    *,
    max_batch: int = 1,
) -> Tensor:
    """:func:`~tilestream.execute.run_window` of ``out``, computed ``tile`` samples (of the
    output) at a time, at most ``max_batch`` same-shape tiles per forward pass.

    Parameters
    ----------
    graph : LayerGraph
        The traced transform.
    x : Tensor
        Input covering ``x_window`` (the plan of ``out``).
    x_window, out : Window
        As for :func:`~tilestream.execute.run_window`.
    input_shape : tuple of int
        ``(H, W)`` of the whole input feature map.
    tile : int or None
        Side of the output tiles (``None``: the whole window in one piece).
    max_batch : int
        Tiles per forward pass.
    """
    items, tiles = tile_items(graph, x, x_window, out, input_shape, tile)
    return stitch(run_windows(graph, items, input_shape, max_batch=max_batch), tiles, out)
