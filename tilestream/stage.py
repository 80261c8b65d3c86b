"""Stages: the vocabulary in which codecs describe their work and the scheduler runs it.

A codec is a few *stages* over a grid of chunks (``g_a`` blocks → ``z`` chunks → ``y``
phases → pixels). A stage names the function that computes one chunk, and for each stage it
reads, a :class:`Dep`: which chunks of that stage one task reads and how many rows above or
below its own they lie (the *row reach*, which the row wavefront needs to know how long to
keep results). Every task returns a :class:`Part`: the value it passes on and the number of
coded bytes it wrote. Nothing here imports torch or dask.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from tilestream.geometry import Window

__all__ = ["Dep", "Grid", "Index", "Names", "Part", "Reads", "Stage", "values"]

Index = tuple[int, int]
#: ``(i, j)`` of a consuming task → the chunk indices of a producer stage it reads
Reads = Callable[[int, int], list[Index]]


class Grid(Protocol):
    """What a stage's grid offers (a :class:`~tilestream.geometry.BlockGrid` or a
    :class:`~tilestream.geometry.shear.ShearedGrid`)."""

    @property
    def grid_shape(self) -> tuple[int, int]: ...  # pragma: no cover

    def window(self, i: int, j: int) -> Window: ...  # pragma: no cover

    def touching(self, window: Window) -> Iterable[Index]: ...  # pragma: no cover


class Names:
    """Stage names shared by the pipeline and the codecs (never spelled out elsewhere)."""

    #: ``g_a`` output: ``y`` chunks (encode)
    Y = "y"
    #: ``h_a`` + coding of ``z``: ``ẑ`` chunks (encode)
    Z = "z"
    #: ``ẑ`` decoded from its stream (decode)
    ZHAT = "zhat"
    #: ``h_s`` output on a ``y`` chunk (context models: computed once for all phases)
    PARAMS = "params"
    #: a single-stream ``y`` chunk coded (encode) or decoded into ``ŷ`` (decode)
    YHAT = "yhat"
    #: sheared tiles of a serial context
    TILES = "tiles"
    #: ``g_s`` output: decoded pixels of one block
    PIXELS = "pixels"
    #: ``g_s`` output on an arbitrary region window
    REGION = "region"
    #: the nodata mask of an image block, coded losslessly (encode)
    MASK = "mask"

    @staticmethod
    def phase(k: int) -> str:
        """Stage of coding phase ``k`` of a phased context model."""
        return f"phase-{k}"


@dataclass(frozen=True)
class Part:
    """What one task returns: the value later stages read and the coded bytes it wrote."""

    value: np.ndarray
    nbytes: int = 0


def values(parts: dict[Index, Part]) -> dict[Index, np.ndarray]:
    """The values of a dict of parts (what transforms and codecs consume)."""
    return {index: part.value for index, part in parts.items()}


@dataclass(frozen=True)
class Dep:
    """A dependency of a stage on chunks of another stage (or of itself).

    Attributes
    ----------
    stage : str
        The producing stage.
    chunks : callable
        ``(i, j)`` → the producer's chunk indices that task ``(i, j)`` reads.
    rows : tuple of int
        ``(lo, hi)``: the smallest and largest ``producer row − consumer row`` over all
        tasks; use :meth:`through` to derive it from windows.
    """

    stage: str
    chunks: Reads
    rows: tuple[int, int]

    @classmethod
    def own(cls, stage: str) -> Dep:
        """Read the producer's chunk at the consumer's own index."""
        return cls(stage, _own, (0, 0))

    @classmethod
    def through(
        cls, stage: str, window: Callable[[int, int], Window], grid: Grid, shape: tuple[int, int]
    ) -> Dep:
        """Read every chunk of ``grid`` that ``window(i, j)`` touches.

        The row reach is derived from the windows of every task of the consumer's grid of
        ``shape`` (rows, cols): exact, whatever the windows look like.
        """

        def chunks(i: int, j: int) -> list[Index]:
            return sorted(grid.touching(window(i, j)))

        def reach() -> tuple[int, int]:
            offsets = {pi - i for i in range(shape[0]) for j in range(shape[1]) for pi, _ in chunks(i, j)}
            return (min(offsets, default=0), max(offsets, default=0))

        return cls(stage, chunks, _Reach(reach))  # type: ignore[arg-type]


def _own(i: int, j: int) -> list[Index]:
    return [(i, j)]


class _Reach:
    """A row reach computed on first use: it visits the window of every task of the grid
    (4,096 plans for a 32768² image in 512-px chunks, about a second), which the row
    wavefront needs once per run and a region read never does."""

    def __init__(self, compute: Callable[[], tuple[int, int]]):
        self._compute = compute
        self._value: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def value(self) -> tuple[int, int]:
        with self._lock:
            if self._value is None:
                self._value = self._compute()
            return self._value

    def __getitem__(self, k: int) -> int:
        return self.value()[k]

    def __iter__(self) -> Iterator[int]:
        return iter(self.value())

    def __len__(self) -> int:
        return 2

    def __eq__(self, other: object) -> bool:
        return tuple(self) == (tuple(other) if isinstance(other, (tuple, _Reach)) else other)

    def __hash__(self) -> int:
        return hash(self.value())

    def __repr__(self) -> str:
        return repr(self.value())


@dataclass(frozen=True)
class Stage:
    """One stage over a ``rows × cols`` grid.

    Parameters
    ----------
    name : str
        Unique name (see :class:`Names`).
    fn : callable
        ``fn(ctx, i, j, *deps) → Part``; each positional dep is a dict mapping the chunk
        indices of that :class:`Dep`'s producer to its :class:`Part`.
    deps : tuple of Dep
        What one task reads, in the order ``fn`` receives it.
    emit : bool
        Results are yielded to the caller (row by row, in order) instead of kept.
    writes : bool
        Its tasks write coded bytes (their parts' ``nbytes`` are added up).
    cols : int, optional
        Columns of this stage's grid when it differs from the others' (sheared tiles);
        its rows are the same.
    batch : callable, optional
        ``batch(ctx, indices, args) → list of Part``: the tasks of several chunks of one
        row at once (``args[n]``: the dep dicts of ``indices[n]``), with exactly the
        results of ``fn``; a runner with a batch size above one uses it (a GPU runs
        same-shape blocks as one forward pass).

    A stage may read itself (a :class:`Dep` naming its own stage) in rows above or on its
    row to the left: a serial context coded as a wavefront.
    """

    name: str
    fn: Callable[..., Part]
    deps: tuple[Dep, ...] = field(default_factory=tuple)
    emit: bool = False
    writes: bool = False
    cols: int | None = None
    batch: Callable[..., list[Part]] | None = None

