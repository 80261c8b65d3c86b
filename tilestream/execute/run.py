"""Exact execution of a traced module on one window.

Execution goes forwards through the plan of :meth:`SpatialGraph.plan`: every node computes
exactly its planned window from operands cropped to what it needs, zero-padded on the
sides where its input window runs past the feature map's edge -- the per-layer zero
padding of full-image inference, reproduced at every layer.
"""

from __future__ import annotations

from typing import Any

from torch import Tensor

from tilestream.execute.constant import constant_shortcut, count
from tilestream.execute.crop import crop, take
from tilestream.geometry import Window
from tilestream.models.graph import LayerGraph

__all__ = ["run_window"]


def _last_use(graph: LayerGraph) -> list[int]:
    last = list(range(len(graph.spatial.nodes)))
    for index, node in enumerate(graph.spatial.nodes):
        for source in node.inputs:
            last[source] = max(last[source], index)
    return last


def run_window(
    graph: LayerGraph,
    x: Tensor,
    x_window: Window,
    out: Window,
    input_shape: tuple[int, int],
    *,
    shortcut: bool = True,
) -> Tensor:
    """Compute ``out`` of the module's output from input data ``x`` covering ``x_window``.

    When ``x`` is constant over everything ``out`` reads, the result is gathered from the
    transform run once on a small constant image (:mod:`tilestream.execute.constant`):
    the same values, without computing the window.

    Parameters
    ----------
    graph : LayerGraph
        The traced module (see :func:`tilestream.models.graph.analyse`).
    x : Tensor
        ``(N, C, h, w)`` input data covering ``x_window`` of the full input.
    x_window : Window
        Global window of the input that ``x`` covers. It should contain the window that
        the plan needs (:meth:`SpatialGraph.plan`, node 0); input samples that are needed
        but not covered are taken as zeros (used to show what a too-small halo breaks).
    out : Window
        Output window to compute.
    input_shape : tuple of int
        ``(H, W)`` of the full input feature map (the transform's input, not its output).
    shortcut : bool
        Allow the constant-input shortcut (default).

    Returns
    -------
    Tensor
        The output over ``out``, equal (up to float summation order) to the same window
        of ``module(full_input)``.
    """
    spatial = graph.spatial
    sizes = spatial.sizes(input_shape)
    windows = spatial.plan(input_shape, out)
    if shortcut and windows[0] is not None:
        def full(data: Tensor, shape: tuple[int, int]) -> Tensor:
            whole = Window.full(shape)
            out_shape = spatial.sizes(shape)[spatial.output]
            return run_window(graph, data, whole, Window.full(out_shape), shape, shortcut=False)

        found = constant_shortcut(spatial, full, x, x_window, windows[0], out, input_shape)
        if found is not None:
            count(graph.name, "constant")
            return found
    count(graph.name, "computed")
    last = _last_use(graph)
    values: list[Any] = [None] * len(spatial.nodes)
    have: list[Window | None] = [None] * len(spatial.nodes)
    values[0], have[0] = x, x_window
    for index in range(1, len(spatial.nodes)):
        own = windows[index]
        if own is None:
            continue
        node = spatial.nodes[index]
        oy, ox = node.axis_op(0), node.axis_op(1)
        feed = Window(oy.feed(own.y), ox.feed(own.x))
        need = Window(oy.needed(own.y), ox.needed(own.x))
        operands = []
        for source in node.inputs:
            src_have = have[source]
            assert src_have is not None  # the plan computes every source of a planned node
            operands.append(take(values[source], src_have, need.clip(sizes[source]), feed))
        result = graph.steps[index].run(operands)
        produced = Window(oy.produced(feed.y), ox.produced(feed.x))
        values[index] = crop(result, produced, own)
        have[index] = own
        for source in node.inputs:
            if last[source] == index and source != spatial.output:
                values[source] = None
    result = values[spatial.output]
    if spatial.output == 0:
        result = take(x, x_window, out, out)
    return result

