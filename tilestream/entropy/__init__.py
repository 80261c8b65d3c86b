"""Chunk codecs: one contract (:class:`ChunkCodec`), one implementation per model family.

The registry maps a model class to its codec class; :func:`register_codec` adds a family
(the built-in CompressAI families are registered on first use).
"""

from __future__ import annotations

import threading

from torch import nn

from tilestream.entropy.autoregressive import AutoregressiveCodec
from tilestream.entropy.base import ChunkCodec, CodingContext, EntropyGuard, EntropyMismatchError, Phase
from tilestream.entropy.checkerboard import CheckerboardCodec
from tilestream.entropy.elic import ElicCodec
from tilestream.entropy.factorized import FactorizedCodec
from tilestream.entropy.hyperprior import MeanScaleHyperpriorCodec, ScaleHyperpriorCodec
from tilestream.entropy.phased import PhasedCodec
from tilestream.entropy.single import SingleStreamCodec
from tilestream.errors import UnknownModelError
from tilestream.models.compat import compressai

__all__ = [
    "AutoregressiveCodec",
    "CheckerboardCodec",
    "ChunkCodec",
    "CodingContext",
    "ElicCodec",
    "EntropyGuard",
    "EntropyMismatchError",
    "FactorizedCodec",
    "MeanScaleHyperpriorCodec",
    "Phase",
    "PhasedCodec",
    "ScaleHyperpriorCodec",
    "SingleStreamCodec",
    "codec_for",
    "register_codec",
]

_CODECS: dict[type, type[ChunkCodec]] = {}
_LOCK = threading.Lock()
_BUILTIN: list[bool] = []  # non-empty once the CompressAI families are registered


def register_codec(model_class: type[nn.Module], codec_class: type[ChunkCodec]) -> None:
    """Code models of exactly ``model_class`` with ``codec_class``.

    Parameters
    ----------
    model_class : type
        A model class (matched exactly, not by subclass: a subclass may change the
        entropy model).
    codec_class : type
        A :class:`ChunkCodec` subclass, constructed with the model.
    """
    if not (isinstance(codec_class, type) and issubclass(codec_class, ChunkCodec)):
        raise TypeError(f"{codec_class!r} is not a ChunkCodec subclass")
    with _LOCK:
        _CODECS[model_class] = codec_class


def _builtin() -> None:
    ca = compressai()
    google, waseda, sensetime = ca.models.google, ca.models.waseda, ca.models.sensetime
    for model_class, codec_class in (
        (google.FactorizedPrior, FactorizedCodec),
        (google.FactorizedPriorReLU, FactorizedCodec),
        (google.ScaleHyperprior, ScaleHyperpriorCodec),
        (google.MeanScaleHyperprior, MeanScaleHyperpriorCodec),
        (google.JointAutoregressiveHierarchicalPriors, AutoregressiveCodec),
        (waseda.Cheng2020Anchor, AutoregressiveCodec),
        (waseda.Cheng2020Attention, AutoregressiveCodec),
        (sensetime.Cheng2020AnchorCheckerboard, CheckerboardCodec),
        (sensetime.Elic2022Official, ElicCodec),
    ):
        _CODECS.setdefault(model_class, codec_class)


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
    with _LOCK:
        if not _BUILTIN:
            _builtin()
            _BUILTIN.append(True)
        codec_type = _CODECS.get(type(model))
    if codec_type is None:
        raise UnknownModelError(
            f"{type(model).__name__} is not supported for encoding yet; use one of "
            f"bmshj2018-factorized, bmshj2018-hyperprior, mbt2018-mean, mbt2018, "
            f"cheng2020-anchor, cheng2020-attn, cheng2020-anchor-checkerboard, elic2022-official, "
            f"or register a codec for it with tilestream.entropy.register_codec"
        )
    codec = codec_type(model)
    object.__setattr__(model, "_tilestream_codec", codec)
    return codec
