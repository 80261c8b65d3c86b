"""Many windows of one transform as few batched forward passes.

Two windows whose plans slice, pad and crop their data at the same relative positions
(the same :func:`~tilestream.execute.run.signature`; every interior block of a grid, for
instance) run exactly the same operations on different data: stacked along the batch
axis they run as one forward pass, which keeps a GPU busy where one block would leave it
mostly idle. Each item's result is the same as when it runs alone (the constant-input
shortcut is tried per item first, as :func:`~tilestream.execute.run_window` does).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor

from tilestream.execute.constant import count
from tilestream.execute.run import compute_window, shortcut_window, signature
from tilestream.geometry import Window
from tilestream.models.graph import LayerGraph

__all__ = ["run_windows"]

Item = tuple[Tensor, Window, Window]


def run_windows(
    graph: LayerGraph,
    items: Sequence[Item],
    input_shape: tuple[int, int],
    *,
    max_batch: int = 8,
    shortcut: bool = True,
) -> list[Tensor]:
    """:func:`~tilestream.execute.run_window` of every ``(x, x_window, out)`` item, items
    of the same signature batched, at most ``max_batch`` per forward pass.

    Parameters
    ----------
    graph : LayerGraph
        The traced module.
    items : sequence of (Tensor, Window, Window)
        ``(x, x_window, out)`` as for :func:`~tilestream.execute.run_window`; each ``x``
        holds one image (batch axis of size 1).
    input_shape : tuple of int
        ``(H, W)`` of the full input feature map.
    max_batch : int
        Most items per forward pass (bounds the activation memory, ``max_batch`` times
        that of one window).
    shortcut : bool
        Allow the constant-input shortcut.

    Returns
    -------
    list of Tensor
        The output of each item, in order, each with a batch axis of size 1.
    """
    if max_batch < 1:
        raise ValueError(f"max_batch must be at least 1, got {max_batch}")
    results: list[Tensor | None] = [None] * len(items)
    groups: dict[tuple[object, ...], list[tuple[int, list[Window | None]]]] = {}
    for n, (x, x_window, out) in enumerate(items):
        windows = graph.spatial.plan(input_shape, out)
        if shortcut:
            results[n] = shortcut_window(graph, x, x_window, out, input_shape, windows)
            if results[n] is not None:
                continue
        key = signature(graph, tuple(x.shape), x_window, out, input_shape, windows)
        groups.setdefault(key, []).append((n, windows))
    for members in groups.values():
        for start in range(0, len(members), max_batch):
            chunk = members[start : start + max_batch]
            first, windows = chunk[0]
            _, x_window, out = items[first]
            x = torch.cat([items[n][0] for n, _ in chunk]) if len(chunk) > 1 else items[first][0]
            value = compute_window(graph, x, x_window, out, input_shape, windows)
            for k, (n, _) in enumerate(chunk):
                count(graph.name, "computed")
                results[n] = value[k : k + 1]
    assert all(r is not None for r in results)
    return results  # type: ignore[return-value]
