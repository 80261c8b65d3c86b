"""Factorized prior (bmshj2018-factorized): ``y`` coded with a learned per-channel CDF."""

from __future__ import annotations

from torch import Tensor

from tilestream.entropy.base import ChunkGuard
from tilestream.entropy.single import SingleStreamCodec

__all__ = ["FactorizedCodec"]


class FactorizedCodec(SingleStreamCodec):
    """``y`` chunks coded by the model's ``EntropyBottleneck`` (no side information).

    Its CDF indexes are the channel numbers, not computed from floating-point parameters:
    nothing for another device's arithmetic to change, so no index guard.
    """

    family = "factorized"
    has_hyperprior = False

    def encode_y(self, y: Tensor, params: Tensor | None, guard: ChunkGuard | None = None) -> bytes:
        (data,) = self.model.entropy_bottleneck.compress(y)
        return data

    def decode_y(
        self, data: bytes, params: Tensor | None, shape: tuple[int, int], guard: ChunkGuard | None = None
    ) -> Tensor:
        return self.model.entropy_bottleneck.decompress([data], shape)
