"""Chunk codecs: one latent chunk ↔ one rANS stream, per CompressAI model family."""

from __future__ import annotations

from torch import nn

from tilestream.entropy.base import ChunkCodec
from tilestream.entropy.factorized import FactorizedCodec
from tilestream.entropy.hyperprior import MeanScaleHyperpriorCodec, ScaleHyperpriorCodec
from tilestream.errors import UnknownModelError
from tilestream.models.compat import compressai

__all__ = [
    "ChunkCodec",
    "FactorizedCodec",
    "MeanScaleHyperpriorCodec",
    "ScaleHyperpriorCodec",
    "codec_for",
]


def codec_for(model: nn.Module) -> ChunkCodec:
    """The chunk codec of ``model``'s family (by its exact class).

    Raises
    ------
    UnknownModelError
        For a model family tilestream cannot yet code block-wise.
    """
    google = compressai().models.google
    kinds = {
        google.FactorizedPrior: FactorizedCodec,
        google.FactorizedPriorReLU: FactorizedCodec,
        google.ScaleHyperprior: ScaleHyperpriorCodec,
        google.MeanScaleHyperprior: MeanScaleHyperpriorCodec,
    }
    codec = kinds.get(type(model))
    if codec is None:
        raise UnknownModelError(
            f"{type(model).__name__} is not supported for encoding yet; use "
            f"bmshj2018-factorized, bmshj2018-hyperprior or mbt2018-mean"
        )
    return codec(model)
