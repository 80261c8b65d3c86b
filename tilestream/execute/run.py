"""Exact execution of a traced module on one window.

Execution goes forwards through the plan of :meth:`SpatialGraph.plan`: every node computes
exactly its planned window from operands cropped to what it needs, zero-padded on the
sides where its input window runs past the feature map's edge -- the per-layer zero
padding of full-image inference, reproduced at every layer.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from torch import Tensor

from tilestream.execute.constant import constant_shortcut, count
from tilestream.execute.crop import crop, take
from tilestream.geometry import Window
from tilestream.models.graph import LayerGraph

__all__ = ["compute_window", "run_window", "shortcut_window", "signature"]


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
    windows = graph.spatial.plan(input_shape, out)
    if shortcut:
        found = shortcut_window(graph, x, x_window, out, input_shape, windows)
        if found is not None:
            return found
    count(graph.name, "computed")
    return compute_window(graph, x, x_window, out, input_shape, windows)


def shortcut_window(
    graph: LayerGraph, x: Tensor, x_window: Window, out: Window, input_shape: tuple[int, int], windows: list[Window | None]
) -> Tensor | None:
    """``out`` from the constant-input shortcut when ``x`` is constant over what it reads
    (counted), else ``None``; ``windows`` is the plan of ``out``."""
    spatial = graph.spatial
    if windows[0] is None:
        return None

    def full(data: Tensor, shape: tuple[int, int]) -> Tensor:
        whole = Window.full(shape)
        out_shape = spatial.sizes(shape)[spatial.output]
        return run_window(graph, data, whole, Window.full(out_shape), shape, shortcut=False)

    found = constant_shortcut(spatial, full, x, x_window, windows[0], out, input_shape)
    if found is not None:
        count(graph.name, "constant")
    return found


def _steps(graph: LayerGraph, x_window: Window, input_shape: tuple[int, int], windows: list[Window | None]) -> Iterator[tuple[int, Window, Window, list[tuple[int, Window, Window]]]]:
    """For every planned node: ``(index, feed, own, [(source, have, want), ...])`` -- what
    :func:`compute_window` slices and pads, in order."""
    spatial = graph.spatial
    sizes = spatial.sizes(input_shape)
    have: list[Window | None] = [None] * len(spatial.nodes)
    have[0] = x_window
    for index in range(1, len(spatial.nodes)):
        own = windows[index]
        if own is None:
            continue
        node = spatial.nodes[index]
        oy, ox = node.axis_op(0), node.axis_op(1)
        feed = Window(oy.feed(own.y), ox.feed(own.x))
        need = Window(oy.needed(own.y), ox.needed(own.x))
        reads = []
        for source in node.inputs:
            src_have = have[source]
            assert src_have is not None  # the plan computes every source of a planned node
            reads.append((source, src_have, need.clip(sizes[source])))
        yield index, feed, own, reads
        have[index] = own


def compute_window(
    graph: LayerGraph, x: Tensor, x_window: Window, out: Window, input_shape: tuple[int, int], windows: list[Window | None]
) -> Tensor:
    """``out`` computed layer by layer along its plan ``windows`` (no shortcut). ``x`` may
    hold a batch: every item is computed the same way."""
    spatial = graph.spatial
    last = _last_use(graph)
    values: list[Any] = [None] * len(spatial.nodes)
    values[0] = x
    for index, feed, own, reads in _steps(graph, x_window, input_shape, windows):
        operands = [take(values[source], have, want, feed) for source, have, want in reads]
        result = graph.steps[index].run(operands)
        node = spatial.nodes[index]
        produced = Window(node.axis_op(0).produced(feed.y), node.axis_op(1).produced(feed.x))
        values[index] = crop(result, produced, own)
        for source, _, _ in reads:
            if last[source] == index and source != spatial.output:
                values[source] = None
    result = values[spatial.output]
    if spatial.output == 0:
        result = take(x, x_window, out, out)
    return result


def signature(
    graph: LayerGraph, x_shape: tuple[int, ...], x_window: Window, out: Window, input_shape: tuple[int, int], windows: list[Window | None]
) -> tuple[Any, ...]:
    """Every slice and pad :func:`compute_window` makes, relative to the windows it cuts
    from: two windows with the same signature run exactly the same operations on their
    data, so they can run as one batch (:mod:`tilestream.execute.batch`)."""

    def rel(inner: Window, outer: Window) -> tuple[int, int, int, int]:
        return (inner.y.start - outer.y.start, inner.x.start - outer.x.start, *inner.shape)

    spatial = graph.spatial
    sig: list[Any] = [tuple(x_shape[1:]), x_window.shape]
    for index, feed, own, reads in _steps(graph, x_window, input_shape, windows):
        node = spatial.nodes[index]
        produced = Window(node.axis_op(0).produced(feed.y), node.axis_op(1).produced(feed.x))
        parts: list[Any] = [index, feed.shape, rel(own, produced)]
        for source, have, want in reads:
            region = want.intersect(have).intersect(feed)
            parts.append((source, have.shape) + (("empty",) if region.empty else rel(region, have) + rel(region, feed)))
        sig.append(tuple(parts))
    if spatial.output == 0:
        sig.append(rel(out.intersect(x_window), x_window) + rel(out.intersect(x_window), out))
    return tuple(sig)
