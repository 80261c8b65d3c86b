"""A spatial layer graph and window planning over it (pure integers).

A :class:`SpatialGraph` is the part of a network that matters for block-wise execution:
nodes in topological order, each either the input, a spatial layer (a pair of
:class:`~tilestream.geometry.axis.AxisOp`, rows then columns), or an operation that is
elementwise in space (activations, normalisations over channels, residual adds, gating
products, channel concatenation -- all of these merge operands sample by sample).

Planning goes backwards: :meth:`SpatialGraph.plan` returns, for every node, the window
of its feature map that must be computed so that the output covers a given window. A node
read by several consumers must cover the hull of their needs; an elementwise merge crops
every operand to its own window ("crop before merging").
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from typing import TypeVar

from tilestream.errors import GeometryError
from tilestream.geometry.axis import AxisOp, Pointwise
from tilestream.geometry.interval import Interval, Window

__all__ = ["Node", "SpatialGraph"]

T = TypeVar("T", int, Fraction)

_POINTWISE = Pointwise()


@dataclass(frozen=True, slots=True)
class Node:
    """One node of a :class:`SpatialGraph`.

    Parameters
    ----------
    name : str
        Unique node name.
    path : str
        Module path in the network (``"g_a.3"``), for messages and reports.
    kind : str
        ``"input"``, a layer kind (``"conv"``, ``"conv_transpose"``, ``"pixel_shuffle"``,
        ...) or an elementwise kind (``"pointwise"``, ``"add"``, ``"cat"``, ...).
    inputs : tuple of int
        Indices of the nodes whose outputs this node reads (all earlier in the graph).
    ops : tuple of AxisOp, optional
        Window arithmetic along rows and columns; ``None`` for elementwise nodes.
    """

    name: str
    path: str
    kind: str
    inputs: tuple[int, ...] = ()
    ops: tuple[AxisOp, AxisOp] | None = None

    def axis_op(self, axis: int) -> AxisOp:
        """The :class:`AxisOp` along ``axis`` (0 rows, 1 columns)."""
        return _POINTWISE if self.ops is None else self.ops[axis]


@dataclass(frozen=True)
class SpatialGraph:
    """Nodes in topological order; node 0 is the input; ``output`` indexes the result."""

    nodes: tuple[Node, ...]
    output: int

    def __post_init__(self) -> None:
        if not self.nodes or self.nodes[0].kind != "input":
            raise GeometryError("a spatial graph must start with its input node")
        for index, node in enumerate(self.nodes):
            if index and not node.inputs:
                raise GeometryError(f"node {node.name!r} reads no input")
            for source in node.inputs:
                if not 0 <= source < index:
                    raise GeometryError(
                        f"node {node.name!r} reads node {source}, which is not before it"
                    )
        if not 0 <= self.output < len(self.nodes):
            raise GeometryError(f"output index {self.output} is not a node")

    # -- forward: sizes and scales ------------------------------------------------------
    def _forward(self, first: T, step: Callable[[Node, T], T], what: str, hint: str) -> list[T]:
        """Propagate a per-node value from the input, checking that merges agree."""
        values: list[T] = []
        for node in self.nodes:
            if node.kind == "input":
                values.append(first)
                continue
            operands = {values[i] for i in node.inputs}
            if len(operands) != 1:
                raise GeometryError(
                    f"{node.kind} at {node.path or node.name!r} merges feature maps of "
                    f"different {what} [{', '.join(str(v) for v in sorted(operands))}]{hint}"
                )
            values.append(step(node, operands.pop()))
        return values

    def sizes_along(self, axis: int, n: int) -> list[int]:
        """Length of every node's feature map along ``axis`` for an input of ``n`` samples."""
        return self._forward(
            n, lambda node, size: node.axis_op(axis).out_size(size), "sizes",
            f" for an input of {n} samples; use an input size that the network divides evenly",
        )

    def sizes(self, shape: tuple[int, int]) -> list[tuple[int, int]]:
        """``(height, width)`` of every node's feature map for an input of ``shape``."""
        rows = self.sizes_along(0, shape[0])
        cols = self.sizes_along(1, shape[1])
        return list(zip(rows, cols))

    def scales(self, axis: int = 0) -> list[Fraction]:
        """Samples per input sample of every node along ``axis`` (e.g. 1/16 after ``g_a``)."""
        return self._forward(
            Fraction(1), lambda node, scale: scale * node.axis_op(axis).scale, "scales", ""
        )

    # -- backward: plans ---------------------------------------------------------------
    def plan_along(self, axis: int, sizes: list[int], out: Interval) -> list[Interval | None]:
        """Window of every node along ``axis`` needed to produce ``out`` at the output.

        Windows are clipped to the feature maps; ``None`` marks nodes the output does not
        depend on.
        """
        if not Interval(0, sizes[self.output]).contains(out):
            raise GeometryError(
                f"output window {out.start}:{out.stop} is outside the output of "
                f"{sizes[self.output]} samples"
            )
        windows: list[Interval | None] = [None] * len(self.nodes)
        windows[self.output] = out
        for index in range(len(self.nodes) - 1, 0, -1):
            own = windows[index]
            if own is None:
                continue
            node = self.nodes[index]
            need = node.axis_op(axis).needed(own)
            for source in node.inputs:
                clipped = need.clip(sizes[source])
                previous = windows[source]
                windows[source] = clipped if previous is None else previous.hull(clipped)
        return windows

    def edges_along(self, axis: int, sizes: list[int], out: Interval) -> tuple[bool, bool]:
        """Whether producing ``out`` reads zero padding before / after any feature map.

        An output that reads no padding is computed the same anywhere in the image: on a
        constant input it depends only on its phase (see :mod:`tilestream.execute.constant`).
        """
        windows = self.plan_along(axis, sizes, out)
        before = after = False
        for index in range(len(self.nodes) - 1, 0, -1):
            own = windows[index]
            if own is None:
                continue
            need = self.nodes[index].axis_op(axis).needed(own)
            for source in self.nodes[index].inputs:
                before = before or need.start < 0
                after = after or need.stop > sizes[source]
        return before, after

    def plan(self, shape: tuple[int, int], out: Window) -> list[Window | None]:
        """2-D version of :meth:`plan_along` for an input of ``shape``."""
        rows = self.plan_along(0, self.sizes_along(0, shape[0]), out.y)
        cols = self.plan_along(1, self.sizes_along(1, shape[1]), out.x)
        return [None if r is None or c is None else Window(r, c) for r, c in zip(rows, cols)]
