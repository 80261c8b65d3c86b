"""Factorized prior (bmshj2018-factorized): ``y`` coded with a learned per-channel CDF."""

from __future__ import annotations

from torch import Tensor

from tilestream.entropy.single import SingleStreamCodec

__all__ = ["FactorizedCodec"]


class FactorizedCodec(SingleStreamCodec):
    """``y`` chunks coded by the model's ``EntropyBottleneck`` (no side information)."""

    family = "factorized"
    has_hyperprior = False

    def encode_y(self, y: Tensor, params: Tensor | None) -> tuple[bytes, Tensor]:
        eb = self.model.entropy_bottleneck
        (data,) = eb.compress(y)
        return data, eb.decompress([data], tuple(y.shape[-2:]))

    def decode_y(self, data: bytes, params: Tensor | None, shape: tuple[int, int]) -> Tensor:
        return self.model.entropy_bottleneck.decompress([data], shape)
