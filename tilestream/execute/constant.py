"""Transforms of constant inputs, without running the transform on them.

A transform is translation invariant away from its edges: an output sample that reads no
zero padding (:meth:`~tilestream.geometry.SpatialGraph.edges_along`) computes the same
function of the same input values wherever it lies, up to its phase (a ×16 upsampling has
16 output phases per input sample). On an input that is constant over everything an
output window reads -- the filled nodata of a scene's empty corners, a slide's blank glass
-- every output sample therefore equals a sample of the same transform run on a small
constant image: the same phase in the interior; the same distance from the same edge near
an edge (the small image has the same remainder modulo the transform's total stride, so
every layer meets the right edge in the same way). :func:`constant_shortcut` finds that
sample for every output of a window, runs the transform once per process on the small
image (cached) and gathers the window from it: the result of full-image inference, at
the cost of indexing.
"""

from __future__ import annotations

import threading
from collections import Counter, OrderedDict
from math import lcm

import torch
from torch import Tensor

from tilestream.errors import GeometryError
from tilestream.geometry import Interval, SpatialGraph, Window

__all__ = ["COUNTS", "ENABLED", "constant_shortcut", "count"]

#: ``(transform name, "constant" | "computed")`` → windows run per process; benchmarks
#: read it to count the model compute that constant inputs skipped
COUNTS: Counter[tuple[str, str]] = Counter()

#: switch the shortcut off (``False``) to compare with computing every window
ENABLED = True

_LOCK = threading.Lock()
_MAPS: dict[tuple[int, int, int, int, int], tuple[int, tuple[int, ...]] | None] = {}
_SIDES: dict[tuple[int, int, int, int, int], list[tuple[bool, bool]]] = {}
_KEEP: dict[int, SpatialGraph] = {}  # keeps the ids of _MAPS' graphs valid
_RESULTS: OrderedDict[tuple[object, ...], Tensor] = OrderedDict()
_MAX_RESULTS = 32


def count(name: str, kind: str) -> None:
    """Count one window of transform ``name`` run the ``kind`` way."""
    with _LOCK:
        COUNTS[(name, kind)] += 1


def _sides(spatial: SpatialGraph, axis: int, sizes: list[int], k: int) -> tuple[bool, bool]:
    return spatial.edges_along(axis, sizes, Interval(k, k + 1))


def _all_sides(spatial: SpatialGraph, axis: int, n: int) -> list[tuple[bool, bool]]:
    """:func:`_sides` of every output sample for an input of ``n`` samples (cached)."""
    key = (id(spatial), axis, n, -1, -1)
    with _LOCK:
        hit = _SIDES.get(key)
    if hit is None:
        sizes = spatial.sizes_along(axis, n)
        hit = [_sides(spatial, axis, sizes, k) for k in range(sizes[spatial.output])]
        with _LOCK:
            _KEEP[id(spatial)] = spatial
            _SIDES[key] = hit
    return hit


def _axis_map(spatial: SpatialGraph, axis: int, in_len: int, out: Interval) -> tuple[int, tuple[int, ...]] | None:
    """``(small input length, index in the small output of every sample of out)``, or
    ``None`` when no small image is shorter than ``in_len`` (or a sample reads both edges)."""
    key = (id(spatial), axis, in_len, out.start, out.stop)
    with _LOCK:
        if key in _MAPS:
            return _MAPS[key]
    result = _find_map(spatial, axis, in_len, out)
    with _LOCK:
        _KEEP[id(spatial)] = spatial
        _MAPS[key] = result
    return result


def _find_map(spatial: SpatialGraph, axis: int, in_len: int, out: Interval) -> tuple[int, tuple[int, ...]] | None:
    scales = spatial.scales(axis)
    q = lcm(*(s.denominator for s in scales))  # input shift that shifts every layer whole
    period = scales[spatial.output] * q  # output shift of an input shift by q
    if period.denominator != 1:  # pragma: no cover - scales of CompressAI models are n or 1/n
        return None
    step = int(period)
    sizes = spatial.sizes_along(axis, in_len)
    out_len = sizes[spatial.output]
    wanted = [(k, _sides(spatial, axis, sizes, k)) for k in range(out.start, out.stop)]
    if any(before and after for _, (before, after) in wanted):
        return None
    small = in_len % q or q
    while small < in_len:
        found = _try_small(spatial, axis, small, out_len, step, wanted)
        if found is not None:
            return small, found
        small += q
    return None


def _try_small(
    spatial: SpatialGraph, axis: int, small: int, out_len: int, step: int,
    wanted: list[tuple[int, tuple[bool, bool]]],
) -> tuple[int, ...] | None:
    try:
        sizes = spatial.sizes_along(axis, small)
    except GeometryError:
        return None
    small_out = sizes[spatial.output]
    sides = _all_sides(spatial, axis, small)
    inner = [k for k, s in enumerate(sides) if s == (False, False)]
    if len(inner) < step or inner[step - 1] - inner[0] != step - 1:
        return None
    phase = {k % step: k for k in inner[:step]}
    found = []
    for k, where in wanted:
        if where == (True, False):
            j = k
        elif where == (False, True):
            j = small_out - (out_len - k)
        else:
            j = phase[k % step]
        if not 0 <= j < small_out or sides[j] != where:
            return None
        found.append(j)
    return tuple(found)


def _small_result(
    graph_key: int, run: object, const: Tensor, shape: tuple[int, int]
) -> Tensor:
    key = (graph_key, tuple(const.flatten().tolist()), str(const.dtype), str(const.device), shape)
    with _LOCK:
        hit = _RESULTS.get(key)
        if hit is not None:
            _RESULTS.move_to_end(key)
            return hit
    x = const.expand(1, const.shape[1], *shape).contiguous()
    value = run(x, shape)  # type: ignore[operator]
    with _LOCK:
        _RESULTS[key] = value
        while len(_RESULTS) > _MAX_RESULTS:
            _RESULTS.popitem(last=False)
    return value


def constant_shortcut(
    spatial: SpatialGraph,
    run_full: object,
    x: Tensor,
    x_window: Window,
    need: Window,
    out: Window,
    input_shape: tuple[int, int],
) -> Tensor | None:
    """``out`` of the transform's output when ``x`` is constant over ``need`` (the input
    window the output reads), else ``None``.

    Parameters
    ----------
    spatial : SpatialGraph
        The transform's geometry.
    run_full : callable
        ``run_full(x, shape)``: full-image inference of the transform on ``x`` of ``shape``.
    x, x_window : Tensor, Window
        The input data and the global window it covers.
    need : Window
        The input window the plan reads for ``out`` (must lie inside ``x_window``).
    out : Window
        The output window to compute.
    input_shape : tuple of int
        ``(H, W)`` of the full input.
    """
    if not ENABLED or x.shape[0] != 1 or need.empty or not x_window.contains(need):
        return None
    rows, cols = need.to_slices(x_window)
    region = x[:, :, rows, cols]
    const = region[:, :, :1, :1]
    if not torch.equal(region, const.expand_as(region)):
        return None
    ymap = _axis_map(spatial, 0, input_shape[0], out.y)
    xmap = _axis_map(spatial, 1, input_shape[1], out.x)
    if ymap is None or xmap is None:
        return None
    small = _small_result(id(spatial), run_full, const, (ymap[0], xmap[0]))
    iy = torch.tensor(ymap[1], device=small.device)
    ix = torch.tensor(xmap[1], device=small.device)
    return small.index_select(2, iy).index_select(3, ix)
