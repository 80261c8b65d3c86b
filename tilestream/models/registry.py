"""CompressAI models by name, and their four transforms.

Names are those of ``compressai.registry.MODELS``. Zoo architectures take a quality
(1 … 8, or 1 … 6 for the cheng2020 family) that selects the channel configuration; other
registered models are built with their default configuration. Weights are random unless
loaded separately: nothing here touches the network.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from tilestream.errors import UnknownModelError
from tilestream.models.compat import compressai

__all__ = ["TRANSFORMS", "build_model", "model_names", "transforms"]

#: the four transforms of a hyperprior codec, in data-flow order
TRANSFORMS = ("g_a", "h_a", "h_s", "g_s")


def model_names() -> list[str]:
    """Names of the image models CompressAI registers."""
    MODELS = compressai().registry.MODELS
    return sorted(n for n in MODELS if "pcc" not in n and "ssf" not in n)


def build_model(name: str, quality: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a CompressAI model with random weights.

    Parameters
    ----------
    name : str
        A name from ``compressai.registry.MODELS`` (``"bmshj2018-hyperprior"``, ...).
    quality : int, optional
        Zoo quality selecting the channel configuration (default: the zoo's highest for
        zoo models; must be ``None`` for models outside the zoo unless ``kwargs`` are
        given).
    **kwargs
        Architecture arguments (``N``, ``M``, ...) passed to the model class instead of
        a zoo configuration.

    Returns
    -------
    nn.Module
        The model in eval mode.
    """
    MODELS = compressai().registry.MODELS
    cfgs = compressai().zoo.image.cfgs

    if name not in MODELS or name not in model_names():
        raise UnknownModelError(
            f"unknown model {name!r}; choose one of: {', '.join(model_names())}"
        )
    if kwargs:
        if quality is not None:
            raise UnknownModelError("pass either quality or architecture arguments, not both")
        return MODELS[name](**kwargs).eval()
    configs = cfgs.get(name)
    if configs is None:
        if quality is not None:
            raise UnknownModelError(
                f"model {name!r} has no quality levels in CompressAI's zoo; omit --quality"
            )
        return MODELS[name]().eval()
    if quality is None:
        quality = max(configs)
    if quality not in configs:
        raise UnknownModelError(
            f"quality {quality!r} is not available for {name!r}; choose one of "
            f"{', '.join(str(q) for q in sorted(configs))}"
        )
    return MODELS[name](*configs[quality]).eval()


def transforms(model: nn.Module) -> dict[str, nn.Module]:
    """The transforms ``g_a``, ``h_a``, ``h_s``, ``g_s`` that ``model`` has.

    The hyper transforms are taken from the model or, for models built on latent codecs
    (``cheng2020-anchor-checkerboard``, ``elic2022-*``), from ``latent_codec["hyper"]``.
    A factorized-prior model has only ``g_a`` and ``g_s``.
    """
    found: dict[str, nn.Module] = {}
    hyper = None
    codec = getattr(model, "latent_codec", None)
    if codec is not None:
        try:
            hyper = codec["hyper"]
        except (KeyError, TypeError):
            hyper = None
    for name in TRANSFORMS:
        module = getattr(model, name, None)
        if module is None and hyper is not None:
            module = getattr(hyper, name, None)
        if isinstance(module, nn.Module):
            found[name] = module
    if "g_a" not in found or "g_s" not in found:
        raise UnknownModelError(
            f"{type(model).__name__} has no g_a / g_s transforms; pass a CompressAI image "
            f"compression model"
        )
    return found
