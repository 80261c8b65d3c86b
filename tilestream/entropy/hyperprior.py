"""Hyperprior families: ``z`` through an entropy bottleneck, ``y`` Gaussian-conditional.

* :class:`ScaleHyperpriorCodec` -- bmshj2018-hyperprior: ``h_a`` reads ``|y|``, ``h_s``
  gives the scales of a zero-mean Gaussian.
* :class:`MeanScaleHyperpriorCodec` -- mbt2018-mean: ``h_s`` gives scales and means.

In a guarded container each ``y`` chunk's bytes start with the checksum of the chunk's CDF
index map (:func:`~tilestream.entropy.base.index_checksum` of ``build_indexes(scales)``),
checked before the rANS decoder runs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tilestream.entropy.base import ChunkGuard
from tilestream.entropy.single import SingleStreamCodec

__all__ = ["ScaleHyperpriorCodec", "MeanScaleHyperpriorCodec"]


class _HyperpriorCodec(SingleStreamCodec):
    index_guard = True

    def _scales_means(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def _require(self, params: Tensor | None) -> Tensor:
        if params is None:  # pragma: no cover - the stages always pass h_s output
            raise ValueError(f"{self.family} codes y with h_s parameters; none were given")
        return params

    def encode_y(self, y: Tensor, params: Tensor | None, guard: ChunkGuard | None = None) -> bytes:
        gc = self.model.gaussian_conditional
        scales, means = self._scales_means(self._require(params))
        indexes = gc.build_indexes(scales)
        (data,) = gc.compress(y, indexes, means=means)
        return data if guard is None else guard.sealed(indexes, data)

    def decode_y(
        self, data: bytes, params: Tensor | None, shape: tuple[int, int], guard: ChunkGuard | None = None
    ) -> Tensor:
        gc = self.model.gaussian_conditional
        scales, means = self._scales_means(self._require(params))
        indexes = gc.build_indexes(scales)
        if guard is not None:
            data = guard.open(data, indexes)  # before the rANS decoder sees a single byte
        return gc.decompress([data], indexes, means=means)


class ScaleHyperpriorCodec(_HyperpriorCodec):
    """bmshj2018-hyperprior: zero-mean Gaussian with scales from ``h_s(ẑ)``."""

    family = "scale-hyperprior"

    def hyper_input(self, y: Tensor) -> Tensor:
        return torch.abs(y)

    def _scales_means(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        return params, None


class MeanScaleHyperpriorCodec(_HyperpriorCodec):
    """mbt2018-mean: Gaussian with ``scales, means = h_s(ẑ).chunk(2, 1)``."""

    family = "mean-scale-hyperprior"

    def _scales_means(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        scales, means = params.chunk(2, 1)
        return scales, means
