"""Hyperprior families: ``z`` through an entropy bottleneck, ``y`` Gaussian-conditional.

* :class:`ScaleHyperpriorCodec` -- bmshj2018-hyperprior: ``h_a`` reads ``|y|``, ``h_s``
  gives the scales of a zero-mean Gaussian.
* :class:`MeanScaleHyperpriorCodec` -- mbt2018-mean: ``h_s`` gives scales and means.
"""

from __future__ import annotations

import torch
from torch import Tensor

from tilestream.entropy.single import SingleStreamCodec

__all__ = ["ScaleHyperpriorCodec", "MeanScaleHyperpriorCodec"]


class _HyperpriorCodec(SingleStreamCodec):
    def _scales_means(self, params: Tensor) -> tuple[Tensor, Tensor | None]:
        raise NotImplementedError

    def _require(self, params: Tensor | None) -> Tensor:
        if params is None:  # pragma: no cover - the stages always pass h_s output
            raise ValueError(f"{self.family} codes y with h_s parameters; none were given")
        return params

    def encode_y(self, y: Tensor, params: Tensor | None) -> tuple[bytes, Tensor]:
        gc = self.model.gaussian_conditional
        scales, means = self._scales_means(self._require(params))
        indexes = gc.build_indexes(scales)
        (data,) = gc.compress(y, indexes, means=means)
        return data, gc.decompress([data], indexes, means=means)

    def decode_y(self, data: bytes, params: Tensor | None, shape: tuple[int, int]) -> Tensor:
        gc = self.model.gaussian_conditional
        scales, means = self._scales_means(self._require(params))
        return gc.decompress([data], gc.build_indexes(scales), means=means)


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
