"""Halos (overlaps) of a whole transform and of each of its layers.

The halo is defined on *aligned* blocks. For a downsampling transform of total factor
``S`` (``g_a``: 16), output block ``[a, b)`` needs input ``[a·S − before, b·S + after)``;
for an upsampling transform of factor ``U`` (``g_s``: 16), output ``[a·U, b·U)`` needs
input ``[a − before, b + after)``. The numbers reported are the smallest that hold for
every aligned block away from the image border (at the border the layers' own zero
padding supplies the rest).

Per layer, ``l_n`` and ``r_n`` are measured the same way on the layer's input feature map:
the layer's input window for the aligned block is ``[a·c − l_n, b·c + r_n)``, where ``c``
is the number of that feature map's samples per coarse sample.

The paper's closed-form recursion for a chain of "same"-padded convolutions is
:func:`paper_conv_chain`; for such chains it agrees with the window arithmetic wherever its
``max(0, ·)`` clamp is inactive.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction

from tilestream.errors import GeometryError
from tilestream.geometry.graph import SpatialGraph
from tilestream.geometry.interval import Interval

__all__ = ["AxisHalo", "LayerHalo", "axis_halo", "paper_conv_chain"]


@dataclass(frozen=True, slots=True)
class LayerHalo:
    """Overlap of one spatial layer's input window, in that feature map's samples."""

    index: int
    before: int
    after: int


@dataclass(frozen=True, slots=True)
class AxisHalo:
    """Halo of a transform along one axis.

    Attributes
    ----------
    direction : str
        ``"down"``, ``"up"`` or ``"same"``.
    factor : int
        Total down- or upsampling factor (1 for ``"same"``).
    before, after : int
        Halo in input samples (see the module docstring for the alignment convention).
    layers : tuple of LayerHalo
        Per spatial layer (nodes with window arithmetic), in graph order.
    """

    direction: str
    factor: int
    before: int
    after: int
    layers: tuple[LayerHalo, ...]


def _coarse_scales(graph: SpatialGraph, axis: int) -> tuple[str, int, list[Fraction], Fraction]:
    scales = graph.scales(axis)
    total = scales[graph.output]
    if total < 1:
        direction, factor = "down", 1 / total
        coarse = [s * factor for s in scales]  # feature-map samples per output sample
    elif total > 1:
        direction, factor = "up", total
        coarse = list(scales)  # feature-map samples per input sample
    else:
        direction, factor = "same", Fraction(1)
        coarse = list(scales)
    if factor.denominator != 1:
        raise GeometryError(f"transform scales by {total}, which is not an integer factor")
    return direction, int(factor), coarse, total


def _measure(
    graph: SpatialGraph, axis: int, direction: str, factor: int, k: int, a: int, b: int
) -> tuple[int, int, list[tuple[int, int] | None]] | None:
    """Plan one aligned block [a, b) in coarse units; None if the plan touched a border."""
    n_in = 3 * k * factor if direction == "down" else 3 * k
    sizes = graph.sizes_along(axis, n_in)
    if direction == "up":
        out = Interval(a * factor, b * factor)
    else:
        out = Interval(a, b)
    windows = graph.plan_along(axis, sizes, out)
    coarse = _coarse_scales(graph, axis)[2]
    per_node: list[tuple[int, int] | None] = []
    for index, node in enumerate(graph.nodes):
        win = windows[index]
        if node.ops is None or win is None:
            per_node.append(None)
            continue
        source = node.inputs[0]
        need = node.axis_op(axis).needed(win)
        c = coarse[source]
        if need.start <= 0 or need.stop >= sizes[source]:
            return None
        per_node.append((int(a * c) - need.start, need.stop - int(b * c)))
    first = windows[0]
    if first is None:
        raise GeometryError("the output does not depend on the input")
    if first.start <= 0 or first.stop >= n_in:
        return None
    c0 = coarse[0]
    return int(a * c0) - first.start, first.stop - int(b * c0), per_node


def axis_halo(graph: SpatialGraph, axis: int = 0) -> AxisHalo:
    """Minimal halo of ``graph`` along ``axis`` and the overlap of each spatial layer.

    Blocks at several positions and of several sizes are planned and the largest
    overlap is kept, so the result holds for every aligned block.

    Parameters
    ----------
    graph : SpatialGraph
        The transform.
    axis : int
        0 for rows, 1 for columns.

    Returns
    -------
    AxisHalo
    """
    direction, factor, coarse, _ = _coarse_scales(graph, axis)
    for value in coarse:
        if value.denominator != 1:
            raise GeometryError(
                f"a feature map has {value} samples per coarse sample; block alignment "
                f"needs whole numbers"
            )
    k = 16
    while True:
        results = []
        for a in range(k, k + 4):
            for length in (1, 2, 3):
                got = _measure(graph, axis, direction, factor, k, a, a + length)
                if got is None:
                    break
                results.append(got)
            else:
                continue
            break
        if len(results) == 12:
            break
        k *= 4
        if k > 1 << 16:
            raise GeometryError("the receptive field of this transform is unbounded")
    before = max(r[0] for r in results)
    after = max(r[1] for r in results)
    layers = []
    for index in range(len(graph.nodes)):
        values = [r[2][index] for r in results]
        if values[0] is None:
            continue
        layers.append(
            LayerHalo(index, max(v[0] for v in values), max(v[1] for v in values))  # type: ignore[index]
        )
    return AxisHalo(direction, factor, before, after, tuple(layers))


def paper_conv_chain(layers: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The paper's recursion for a chain of convolutions with padding ``⌊(k−1)/2⌋``.

    Parameters
    ----------
    layers : list of (kernel, stride)
        Layers from the input to the output.

    Returns
    -------
    list of (l, r)
        Overlap of each layer's input, input layer first; the output's overlap is 0.

    Notes
    -----
    Walking from the output back to the input,
    ``l ← s·l + ⌊(k−1)/2⌋`` and ``r ← s·r + max(0, (k−1−⌊(k−1)/2⌋) − (s−1))``.

    >>> paper_conv_chain([(5, 2)] * 4)   # bmshj2018 g_a
    [(30, 15), (14, 7), (6, 3), (2, 1)]
    """
    out: list[tuple[int, int]] = []
    left = right = 0
    for kernel, stride in reversed(layers):
        half = (kernel - 1) // 2
        left = stride * left + half
        right = stride * right + max(0, (kernel - 1 - half) - (stride - 1))
        out.append((left, right))
    return out[::-1]
