"""The contract of a chunk codec: how one CompressAI model family codes its latent block-wise.

A chunk codec adapts one model family to block-wise coding. It never runs a transform
itself: ``g_a`` / ``h_a`` / ``h_s`` / ``g_s`` run in the pipeline's tasks, and the codec's
tasks receive the tensors of one chunk (``y`` values, ``ẑ`` values, or the entropy
parameters that ``h_s`` produced for exactly that chunk's window, through
:meth:`CodingContext.side_params`). Encoder and decoder call the same codec functions on the
same windows, so the entropy parameters -- and hence the CDF indexes the rANS coder sees --
are computed identically on both sides.

Every codec, whatever its family, answers the same questions:

* :attr:`ChunkCodec.streams` -- the byte streams it writes (``z`` first when there is side
  information), and :attr:`ChunkCodec.phases` -- what each ``y`` stream's coding reads
  around a chunk (for ``tilestream info`` and ``tilestream overlap``);
* :meth:`ChunkCodec.y_stages` -- the stages that code ``y`` (encode) or decode ``ŷ``
  (decode), as :class:`~tilestream.stage.Stage` objects with their dependencies; the
  pipeline puts ``g_a`` / ``h_a`` before them and ``g_s`` after them and never asks which
  family it runs;
* :meth:`ChunkCodec.latent_grid` / :meth:`ChunkCodec.gather` -- the grid of the last ``y``
  stage's results and how to stitch them into ``ŷ`` on any window;
* :meth:`ChunkCodec.stream_grids` and :meth:`ChunkCodec.min_band` -- a stream whose chunks
  are not the block grid's, and how many block rows a wavefront step needs at least.

A new family is one file in this package defining a subclass, plus
:func:`~tilestream.entropy.register_codec`.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import numpy as np
from torch import Tensor, nn

from tilestream.assemble import assemble
from tilestream.geometry import CodecLayout, Window
from tilestream.stage import Grid, Index, Names, Stage

__all__ = ["Z_STREAM", "ChunkCodec", "CodingContext", "Phase", "Store", "codec_as"]

#: the stream of the side information ``z``
Z_STREAM = "z"


class Store(Protocol):
    """Chunk bytes of a container (see :class:`~tilestream.container.ChunkStore`)."""

    def read(self, stream: str, i: int, j: int) -> bytes: ...  # pragma: no cover

    def write(self, stream: str, i: int, j: int, data: bytes) -> int: ...  # pragma: no cover


class CodingContext(Protocol):
    """What a codec's tasks use of the pipeline's task context
    (:class:`~tilestream.tasks.CodecContext`)."""

    @property
    def layout(self) -> CodecLayout: ...  # pragma: no cover

    @property
    def device(self) -> str: ...  # pragma: no cover

    def codec(self) -> ChunkCodec: ...  # pragma: no cover

    def store(self) -> Store: ...  # pragma: no cover

    def z_window_for(self, window: Window) -> Window: ...  # pragma: no cover

    def side_params(self, window: Window, z_parts: dict[Index, np.ndarray]) -> Tensor: ...  # pragma: no cover


@dataclass(frozen=True)
class Phase:
    """One coded ``y`` stream: its name, a readable phase name, the ``ŷ`` halo it reads
    around its chunk (latent samples; 0: its own chunk only) and what it reads, in words."""

    stream: str
    name: str
    halo: int
    reads: str

    def describe(self) -> dict[str, Any]:
        """The entry recorded in containers and shown by ``info`` / ``overlap``."""
        return {"stream": self.stream, "phase": self.name, "halo": self.halo, "reads": self.reads}


class ChunkCodec(ABC):
    """Entropy coding of latent chunks for one model family.

    Attributes
    ----------
    family : str
        Short name recorded in containers (``"factorized"``, ``"scale-hyperprior"``, ...).
    phases : tuple of Phase
        The coded ``y`` streams in coding order.
    """

    family: str = ""
    phases: tuple[Phase, ...] = ()
    #: whether a ``z`` stream carries side information for ``y``
    has_hyperprior: bool = True

    def __init__(self, model: nn.Module):
        self.model = model

    # -- the description -------------------------------------------------------------
    @property
    def streams(self) -> tuple[str, ...]:
        """Names of the coded streams, in coding order (``("z", "y")``)."""
        return ((Z_STREAM,) if self.has_hyperprior else ()) + tuple(p.stream for p in self.phases)

    @property
    def align(self) -> int:
        """Image sizes are padded to a multiple of this (64 with a hyperprior, else 16)."""
        return 64 if self.has_hyperprior else 16

    @property
    def has_context(self) -> bool:
        """True when coding a chunk reads decoded ``ŷ`` of other chunks (a context model)."""
        return any(p.halo > 0 for p in self.phases)

    def describe(self) -> list[dict[str, Any]]:
        """The coding phases, recorded in containers, for ``info`` and ``overlap``."""
        return [p.describe() for p in self.phases]

    @abstractmethod
    def y_stages(self, ctx: CodingContext, encoding: bool) -> list[Stage]:
        """The stages that code ``y`` (``encoding``) or decode ``ŷ``.

        They read ``g_a`` output from stage :attr:`Names.Y` (encode) and ``ẑ`` from
        :meth:`hyper_stage`; the last stage's results (decode) are ``ŷ`` parts on
        :meth:`latent_grid`, which ``g_s`` reads.
        """

    @staticmethod
    def hyper_stage(encoding: bool) -> str:
        """The stage whose results are ``ẑ`` chunks."""
        return Names.Z if encoding else Names.ZHAT

    def latent_grid(self, layout: CodecLayout) -> Grid:
        """Grid of the decoded ``ŷ`` parts (the block grid of ``y`` by default)."""
        return layout.y_grid

    def gather(self, layout: CodecLayout, parts: dict[Index, np.ndarray], window: Window) -> np.ndarray:
        """``ŷ`` on ``window`` from decoded parts of :meth:`latent_grid` (zero outside)."""
        return assemble(parts, layout.y_grid, window)

    def stream_grids(self, layout: CodecLayout) -> dict[str, list[int]]:
        """Streams whose chunk grid is not the block grid (recorded in containers)."""
        return {}

    def min_band(self, workers: int) -> int:
        """Block rows a wavefront step runs at least (1; more for serial contexts)."""
        return 1

    # -- z (side information), the same for every family with a hyperprior -----------
    def hyper_input(self, y: Tensor) -> Tensor:
        """What ``h_a`` reads, computed sample by sample from ``y`` (identity by default)."""
        return y

    def _bottleneck(self) -> Any:
        """The entropy bottleneck of ``z``: on the model, or in ``latent_codec["hyper"]``."""
        if not self.has_hyperprior:
            raise NotImplementedError(f"{self.family} has no z stream")
        eb = getattr(self.model, "entropy_bottleneck", None)
        return eb if eb is not None else self.model.latent_codec["hyper"].entropy_bottleneck

    def encode_z(self, z: Tensor) -> tuple[bytes, Tensor]:
        """Code one ``z`` chunk; return its bytes and the decoded ``ẑ`` (bit-exact)."""
        eb = self._bottleneck()
        (data,) = eb.compress(z)
        return data, eb.decompress([data], tuple(z.shape[-2:]))

    def decode_z(self, data: bytes, shape: tuple[int, int]) -> Tensor:
        """Decode one ``z`` chunk of spatial ``shape`` into ``ẑ`` ``(1, C, h, w)``."""
        return self._bottleneck().decompress([data], shape)


C = TypeVar("C", bound=ChunkCodec)


def codec_as(ctx: CodingContext, kind: type[C]) -> C:
    """The context's codec, which a codec's own tasks know to be of ``kind``."""
    codec = ctx.codec()
    if not isinstance(codec, kind):  # pragma: no cover - stages come from the codec itself
        raise TypeError(f"{type(codec).__name__} is not a {kind.__name__}")
    return codec
