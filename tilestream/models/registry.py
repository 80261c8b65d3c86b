"""CompressAI models by name, and their four transforms.

Names are those of ``compressai.registry.MODELS``. Zoo architectures take a quality
(1 … 8, or 1 … 6 for the cheng2020 family) that selects the channel configuration; other
registered models are built with their default configuration. Weights are random unless
loaded separately: nothing here touches the network.

Every architecture can be built for images of ``channels`` bands instead of three (a
sensor-specific model): the first layer of ``g_a`` then reads, and the last layer of ``g_s``
writes, that many channels, with the same kernel, stride and padding.
"""

from __future__ import annotations

from typing import Any

from torch import nn

from tilestream.errors import UnknownModelError
from tilestream.models.compat import compressai

__all__ = ["RGB", "TRANSFORMS", "build_model", "load_error", "model_channels", "model_names", "set_channels", "transforms"]

#: the four transforms of a hyperprior codec, in data-flow order
TRANSFORMS = ("g_a", "h_a", "h_s", "g_s")
#: input channels of CompressAI's stock models
RGB = 3


def model_names() -> list[str]:
    """Names of the image models CompressAI registers."""
    MODELS = compressai().registry.MODELS
    return sorted(n for n in MODELS if "pcc" not in n and "ssf" not in n)


def build_model(name: str, quality: int | None = None, *, channels: int = RGB, **kwargs: Any) -> nn.Module:
    """Build a CompressAI model with random weights.

    Parameters
    ----------
    name : str
        A name from ``compressai.registry.MODELS`` (``"bmshj2018-hyperprior"``, ...).
    quality : int, optional
        Zoo quality selecting the channel configuration (default: the zoo's highest for
        zoo models; must be ``None`` for models outside the zoo unless ``kwargs`` are
        given).
    channels : int
        Channels of the images the model codes (default 3): the input of ``g_a`` and the
        output of ``g_s`` (see :func:`set_channels`).
    **kwargs
        Architecture arguments (``N``, ``M``, ...) passed to the model class instead of
        a zoo configuration.

    Returns
    -------
    nn.Module
        The model in eval mode.
    """
    check_channels(channels)
    model = _build(name, quality, kwargs)
    return set_channels(model, channels) if channels != RGB else model


def _build(name: str, quality: int | None, kwargs: dict[str, Any]) -> nn.Module:
    MODELS = compressai().registry.MODELS
    cfgs = compressai().zoo.image.cfgs

    if name not in MODELS or name not in model_names():
        raise UnknownModelError(
            f"unknown model {name!r}; choose one of: {', '.join(model_names())}"
        )
    if kwargs:
        if quality is not None:
            raise UnknownModelError(
                f"quality {quality!r} and architecture arguments {kwargs} were both given; pass "
                f"either --quality or --arch, not both"
            )
        try:
            return MODELS[name](**kwargs).eval()
        except (TypeError, ValueError, RuntimeError) as exc:  # an unknown or impossible argument
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise UnknownModelError(
                f"architecture arguments {kwargs} do not fit {name!r} ({first}); pass the "
                f"arguments of its constructor with positive sizes, e.g. N=128,M=192"
            ) from exc
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


def load_error(exc: BaseException) -> str:
    """The telling line of a ``load_state_dict`` error (not its "Error(s) in loading"
    header), shortened to fit one message line."""
    lines = [line.strip() for line in str(exc).strip().splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading state_dict"):
        lines = lines[1:]
    text = lines[0] if lines else type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


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


# -- channels ----------------------------------------------------------------------------
def check_channels(channels: object) -> int:
    """``channels`` as an int >= 1; raises :class:`UnknownModelError` naming the value."""
    if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
        raise UnknownModelError(
            f"model channels {channels!r} must be an integer >= 1 (the bands a model codes at "
            f"once); pass --arch channels=C with C >= 1, e.g. channels=4"
        )
    return channels


def _image_convs(model: nn.Module) -> tuple[list[tuple[nn.Module, str]], tuple[nn.Module, str, int]] | None:
    """Where the image enters and leaves ``model``: the convolutions of ``g_a``'s first
    layer that read it, and the one of ``g_s``'s last layer that writes it, as ``(parent,
    attribute)`` (the latter with its output channels per image channel); ``None`` for an
    architecture of another shape."""
    found = transforms(model)
    g_a, g_s = found["g_a"], found["g_s"]
    if not (isinstance(g_a, nn.Sequential) and isinstance(g_s, nn.Sequential) and len(g_a) and len(g_s)):
        return None
    first, last = g_a[0], g_s[-1]
    if isinstance(first, nn.Conv2d):
        reads = [(g_a, "0")]
    elif type(first).__name__ == "ResidualBlockWithStride":  # cheng2020: main and skip path
        reads = [(first, "conv1"), (first, "skip")]
    else:
        return None
    if isinstance(last, nn.ConvTranspose2d):
        return reads, (g_s, str(len(g_s) - 1), 1)
    if isinstance(last, nn.Sequential) and len(last) == 2 and isinstance(last[0], nn.Conv2d) \
            and isinstance(last[1], nn.PixelShuffle):  # subpel_conv3x3
        return reads, (last, "0", last[1].upscale_factor ** 2)
    return None


def _same_conv(conv: nn.Module, in_channels: int, out_channels: int) -> nn.Module:
    """A new convolution like ``conv`` (kind, kernel, stride, padding, bias) with other
    channel counts, initialised as PyTorch initialises it."""
    common = {
        "kernel_size": conv.kernel_size, "stride": conv.stride, "padding": conv.padding,
        "dilation": conv.dilation, "groups": conv.groups, "bias": conv.bias is not None,
        "padding_mode": conv.padding_mode,
    }
    if isinstance(conv, nn.ConvTranspose2d):
        new: nn.Module = nn.ConvTranspose2d(in_channels, out_channels, output_padding=conv.output_padding, **common)
    else:
        new = nn.Conv2d(in_channels, out_channels, **common)
    return new.to(device=conv.weight.device, dtype=conv.weight.dtype)


def set_channels(model: nn.Module, channels: int) -> nn.Module:
    """Make ``model`` code images of ``channels`` bands: replace the first layer of ``g_a``
    and the last layer of ``g_s`` by layers of the same kind, kernel, stride and padding
    that read / write ``channels`` channels (new random weights).

    Supported: ``g_a`` starting with a convolution or cheng2020's
    ``ResidualBlockWithStride``, ``g_s`` ending with a transposed convolution or a
    sub-pixel convolution: every CompressAI image model family.

    Parameters
    ----------
    model : nn.Module
        A CompressAI model (modified in place and returned).
    channels : int
        Image channels, >= 1.

    Returns
    -------
    nn.Module
        ``model``.
    """
    check_channels(channels)
    ends = _image_convs(model)
    if ends is None:
        raise UnknownModelError(
            f"{type(model).__name__} does not start g_a with a convolution or end g_s with a "
            f"(sub-pixel / transposed) convolution, so it cannot be built for {channels} channels; "
            f"use channels=3 or another --model"
        )
    reads, (parent, name, per_channel) = ends
    for owner, attr in reads:
        conv = getattr(owner, attr)
        setattr(owner, attr, _same_conv(conv, channels, conv.out_channels))
    conv = getattr(parent, name)
    setattr(parent, name, _same_conv(conv, conv.in_channels, channels * per_channel))
    return model


def model_channels(model: nn.Module) -> int:
    """Channels of the images ``model`` codes (the input of ``g_a``, the output of ``g_s``).

    Raises
    ------
    UnknownModelError
        If ``g_a`` reads another number of channels than ``g_s`` writes.
    """
    ends = _image_convs(model)
    if ends is None:  # another architecture: the first convolution of g_a tells
        convs = [m for m in transforms(model)["g_a"].modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        if not convs:
            raise UnknownModelError(f"{type(model).__name__}.g_a has no convolution; pass a CompressAI image model")
        return int(convs[0].in_channels)
    reads, (parent, name, per_channel) = ends
    channels = int(getattr(*reads[0]).in_channels)
    writes = int(getattr(parent, name).out_channels) // per_channel
    if writes != channels:
        raise UnknownModelError(
            f"{type(model).__name__}.g_a reads {channels} channels but g_s writes {writes}; "
            f"build it with build_model(..., channels=C) or set_channels(model, C)"
        )
    return channels
