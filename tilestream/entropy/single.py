"""The contract of a single-stream codec: each ``y`` chunk is one stream, coded alone.

Factorized prior, scale and mean-scale hyperpriors: a chunk's ``y`` depends on no other
chunk's ``ŷ``; with a hyperprior it reads the ``h_s`` parameters on exactly its window,
computed from the ``ẑ`` chunks that window reaches. One stage codes (or decodes) every
chunk independently.
"""

from __future__ import annotations

from abc import abstractmethod

import numpy as np
import torch
from torch import Tensor, nn

from tilestream.entropy.base import ChunkCodec, ChunkGuard, CodingContext, Phase, chunk_guard, codec_as
from tilestream.execute.tensors import to_numpy, to_tensor
from tilestream.stage import Dep, Index, Names, Part, Stage, values

__all__ = ["SingleStreamCodec"]

Y_STREAM = "y"
_NOTHING = np.zeros(0, np.float32)


class SingleStreamCodec(ChunkCodec):
    """``y`` chunks coded independently, one stream ``y``."""

    def __init__(self, model: nn.Module):
        super().__init__(model)
        reads = "h_s parameters on its own chunk" if self.has_hyperprior else "its own chunk only"
        self.phases = (Phase(Y_STREAM, "all samples", 0, reads),)

    @abstractmethod
    def encode_y(self, y: Tensor, params: Tensor | None, guard: ChunkGuard | None = None) -> bytes:
        """Code one ``y`` chunk given ``h_s`` output on the same window (or ``None``).

        Returns the bytes; with a ``guard`` (and :attr:`index_guard`), they start with the
        checksum of the CDF index map. No chunk's coding reads another chunk's ``ŷ``, so
        the encoder never reconstructs ``ŷ`` (an rANS decode that would cost about as much
        as the encode).
        """

    @abstractmethod
    def decode_y(
        self, data: bytes, params: Tensor | None, shape: tuple[int, int], guard: ChunkGuard | None = None
    ) -> Tensor:
        """Decode one ``y`` chunk of spatial ``shape`` into ``ŷ`` ``(1, M, h, w)``; with a
        ``guard``, check the checksum of the CDF index map before the rANS decoder runs.

        Raises
        ------
        EntropyMismatchError
            If this decoder's CDF indexes differ from the encoder's.
        """

    def y_stages(self, ctx: CodingContext, encoding: bool) -> list[Stage]:
        lay = ctx.layout
        deps: list[Dep] = [Dep.own(Names.Y)] if encoding else []
        if self.has_hyperprior:
            z_for = lambda i, j: ctx.z_window_for(lay.y_window(i, j))  # noqa: E731
            deps.append(Dep.through(self.hyper_stage(encoding), z_for, lay.z_grid, lay.grid_shape))
        if encoding:
            return [Stage(Names.YHAT, _encode_chunk, tuple(deps), writes=True)]
        return [Stage(Names.YHAT, _decode_chunk, tuple(deps))]



def _params(ctx: CodingContext, i: int, j: int, zs: dict[Index, Part] | None) -> Tensor | None:
    if zs is None:
        return None
    return ctx.side_params(ctx.layout.y_window(i, j), values(zs))


@torch.no_grad()
def _encode_chunk(ctx: CodingContext, i: int, j: int, ys: dict[Index, Part], zs: dict[Index, Part] | None = None) -> Part:
    """Code ``y`` chunk ``(i, j)`` and write its bytes (no value is passed on)."""
    codec = codec_as(ctx, SingleStreamCodec)
    guard = chunk_guard(ctx, Y_STREAM, i, j)
    data = codec.encode_y(to_tensor(ys[(i, j)].value, ctx.device), _params(ctx, i, j, zs), guard)
    return Part(_NOTHING, ctx.store().write(Y_STREAM, i, j, data))


@torch.no_grad()
def _decode_chunk(ctx: CodingContext, i: int, j: int, zs: dict[Index, Part] | None = None) -> Part:
    """``ŷ`` of chunk ``(i, j)`` from its bytes (and the ``ẑ`` chunks around it)."""
    data = ctx.store().read(Y_STREAM, i, j)
    shape = ctx.layout.y_window(i, j).shape
    guard = chunk_guard(ctx, Y_STREAM, i, j)
    return Part(to_numpy(codec_as(ctx, SingleStreamCodec).decode_y(data, _params(ctx, i, j, zs), shape, guard)))
