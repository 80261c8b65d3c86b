"""Hyperprior families: ``z`` through an entropy bottleneck, ``y`` Gaussian-conditional.

* :class:`ScaleHyperpriorCodec` -- bmshj2018-hyperprior: ``h_a`` reads ``|y|``, ``h_s``
  gives the scales of a zero-mean Gaussian.
* :class:`MeanScaleHyperpriorCodec` -- mbt2018-mean: ``h_s`` gives scales and means.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tilestream.entropy.base import ChunkCodec

__all__ = ["ScaleHyperpriorCodec", "MeanScaleHyperpriorCodec"]


class _HyperpriorCodec(ChunkCodec):
    streams = ("z", "y")

    def _scales_means(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def encode_y(self, y: Tensor, params: Tensor | None) -> tuple[bytes, Tensor]:
        assert params is not None  # the pipeline always passes h_s output here
        gc = self.model.gaussian_conditional
        scales, means = self._scales_means(params)
        indexes = gc.build_indexes(scales)
        (data,) = gc.compress(y, indexes, means=means)
        return data, gc.decompress([data], indexes, means=means)

    def decode_y(self, data: bytes, params: Tensor | None, shape: tuple[int, int]) -> Tensor:
        assert params is not None
        gc = self.model.gaussian_conditional
        scales, means = self._scales_means(params)
        return gc.decompress([data], gc.build_indexes(scales), means=means)

    def symbols_y(self, y: Tensor, params: Tensor | None) -> Tensor:
        assert params is not None
        _, means = self._scales_means(params)
        return self.model.gaussian_conditional.quantize(y, "symbols", means)


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
