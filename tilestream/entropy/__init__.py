"""Chunk codecs: one latent chunk ↔ one rANS stream, per CompressAI model family."""

from __future__ import annotations

from torch import nn

from tilestream.entropy.autoregressive import AutoregressiveCodec
from tilestream.entropy.base import ChunkCodec
from tilestream.entropy.checkerboard import CheckerboardCodec
from tilestream.entropy.elic import ElicCodec
from tilestream.entropy.factorized import FactorizedCodec
from tilestream.entropy.hyperprior import MeanScaleHyperpriorCodec, ScaleHyperpriorCodec
from tilestream.entropy.phased import Phase, PhasedCodec
from tilestream.errors import UnknownModelError
from tilestream.models.compat import compressai

__all__ = [
    "AutoregressiveCodec",
    "CheckerboardCodec",
    "ChunkCodec",
    "ElicCodec",
    "Phase",
    "PhasedCodec",
    "FactorizedCodec",
    "MeanScaleHyperpriorCodec",
    "ScaleHyperpriorCodec",
    "codec_for",
]


def codec_for(model: nn.Module) -> ChunkCodec:
    """The chunk codec of ``model``'s family (by its exact class), cached on the model.

    Raises
    ------
    UnknownModelError
        For a model family tilestream cannot code block-wise.
    """
    cached = getattr(model, "_tilestream_codec", None)
    if cached is not None and cached.model is model:
        return cached
    ca = compressai()
    google, waseda, sensetime = ca.models.google, ca.models.waseda, ca.models.sensetime
    kinds = {
        google.FactorizedPrior: FactorizedCodec,
        google.FactorizedPriorReLU: FactorizedCodec,
        google.ScaleHyperprior: ScaleHyperpriorCodec,
        google.MeanScaleHyperprior: MeanScaleHyperpriorCodec,
        google.JointAutoregressiveHierarchicalPriors: AutoregressiveCodec,
        waseda.Cheng2020Anchor: AutoregressiveCodec,
        waseda.Cheng2020Attention: AutoregressiveCodec,
        sensetime.Cheng2020AnchorCheckerboard: CheckerboardCodec,
        sensetime.Elic2022Official: ElicCodec,
    }
    codec_type = kinds.get(type(model))
    if codec_type is None:
        raise UnknownModelError(
            f"{type(model).__name__} is not supported for encoding yet; use one of "
            f"bmshj2018-factorized, bmshj2018-hyperprior, mbt2018-mean, mbt2018, "
            f"cheng2020-anchor, cheng2020-attn, cheng2020-anchor-checkerboard, elic2022-official"
        )
    codec = codec_type(model)
    object.__setattr__(model, "_tilestream_codec", codec)
    return codec
