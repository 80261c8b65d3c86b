"""Helpers for tests and benchmarks: small models whose latents are far from zero.

A freshly initialised CompressAI model gives latents with ``|y| < 0.5``: every symbol
rounds to 0, and "block-wise equals full-image" would prove nothing. :func:`spread_latents`
rescales the last layer of ``g_a`` and of ``h_a`` so that ``y`` and ``z`` have a standard
deviation of several units.

The rescaling measures the model's output, and the last bits of that measure depend on the
CPU (its vector unit, oneDNN's kernels, the number of threads): the same seed gives weights
that differ by an ulp from one machine to the next, and a container records the SHA-256 of
its weights (and a CPU without vector units even draws other initial weights from the same
seed). Tests that decode containers kept from earlier releases therefore load the weights
they were written with (``small_model(..., state=)``), not a new measurement.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import torch
from torch import Tensor, nn

from tilestream.models.registry import build_model, transforms

__all__ = [
    "SMALL_CONFIGS",
    "container_chunks",
    "input_channels",
    "small_model",
    "smooth_image",
    "spread_latents",
    "spread_layers",
    "transform_inputs",
]

#: small architecture arguments per model name (fast on a CPU, same geometry as the zoo)
SMALL_CONFIGS: dict[str, dict[str, object]] = {
    "bmshj2018-factorized": {"N": 8, "M": 12},
    "bmshj2018-hyperprior": {"N": 8, "M": 12},
    "mbt2018-mean": {"N": 8, "M": 12},
    "mbt2018": {"N": 8, "M": 12},
    "cheng2020-anchor": {"N": 8},
    "cheng2020-attn": {"N": 8},
    "cheng2020-anchor-checkerboard": {"N": 8},
    "elic2022-official": {"N": 8, "M": 12, "groups": [2, 2, 4, 4]},
}


def input_channels(module: nn.Module) -> int:
    """Channels of the first convolution of ``module`` (its input channels)."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
            return int(m.in_channels)
    raise ValueError(f"{type(module).__name__} has no convolution")


def smooth_image(height: int, width: int, *, seed: int = 0, channels: int = 3) -> Tensor:
    """A ``(1, channels, height, width)`` image in [0, 1]: smooth structure plus fine noise."""
    g = torch.Generator().manual_seed(seed)
    coarse = torch.rand(1, channels, max(2, height // 16), max(2, width // 16), generator=g)
    base = nn.functional.interpolate(coarse, size=(height, width), mode="bilinear", align_corners=False)
    noise = torch.rand(1, channels, height, width, generator=g)
    return (0.8 * base + 0.2 * noise).clamp(0, 1)


def _last_conv(module: nn.Module) -> nn.Module:
    """The last direct child convolution (or the last convolution inside a trailing
    ``Sequential`` such as ``subpel_conv3x3``)."""
    for child in reversed(list(module.children())):
        if isinstance(child, (nn.Conv2d, nn.ConvTranspose2d)):
            return child
        if isinstance(child, nn.Sequential):
            convs = [m for m in child.modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
            if convs:
                return convs[-1]
    raise ValueError(f"{type(module).__name__} has no convolution among its direct children")


@torch.no_grad()
def _fit_output(module: nn.Module, x: Tensor, mean: float, std: float) -> None:
    """Affinely rescale the last layer so ``module(x)`` has the given mean and std."""
    last = _last_conv(module)
    for _ in range(3):
        out = module(x)
        factor = std / max(float(out.std()), 1e-8)
        last.weight.mul_(factor)
        if last.bias is not None:
            last.bias.mul_(factor)
            last.bias.add_((mean - float(module(x).mean())))


@torch.no_grad()
def _rescale(module: nn.Module, x: Tensor, target_std: float) -> Tensor:
    last = _last_conv(module)
    for _ in range(4):
        std = float(module(x).std())
        factor = target_std / max(std, 1e-8)
        last.weight.mul_(factor)
        if last.bias is not None:
            last.bias.mul_(factor)
    return module(x)


@torch.no_grad()
def spread_latents(
    model: nn.Module, x: Tensor, *, y_std: float = 4.0, z_std: float = 3.0
) -> nn.Module:
    """Rescale the last layer of ``g_a`` (and of ``h_a``) so ``std(y) ≈ y_std``, ``std(z) ≈ z_std``,
    and the last layer of ``g_s`` so that decoded pixels lie mostly inside [0, 1].

    Parameters
    ----------
    model : nn.Module
        A CompressAI model (modified in place and returned).
    x : Tensor
        A sample image ``(1, C, H, W)`` (``C`` the model's input channels) used to measure
        the spread.
    """
    found = transforms(model)
    y = _rescale(found["g_a"], x, y_std)
    if "h_a" in found:
        _rescale(found["h_a"], y, z_std)
    # decoded images in range (mean 0.5, std 0.2) so pixel comparisons are not of clamped 0s
    _fit_output(found["g_s"], torch.round(y), 0.5, 0.2)
    return model


def spread_layers(model: nn.Module) -> dict[str, np.ndarray]:
    """The parameters :func:`spread_latents` rescales (weight and bias of the last layer of
    ``g_a``, ``h_a`` and ``g_s``), by state-dict key."""
    names = {module: name for name, module in model.named_modules()}
    found = transforms(model)
    out = {}
    for transform in ("g_a", "h_a", "g_s"):
        module = found.get(transform)
        if module is None:
            continue
        last = _last_conv(module)
        for key, value in last.named_parameters():
            out[f"{names[last]}.{key}"] = value.detach().cpu().numpy().copy()
    return out


def small_model(
    name: str, *, seed: int = 0, spread: bool = True, channels: int = 3, state: Mapping[str, np.ndarray] | None = None
) -> nn.Module:
    """A small random-weight model of architecture ``name`` with spread-out latents, for
    images of ``channels`` bands (default 3, CompressAI's architecture as is).

    Parameters
    ----------
    state : mapping of str to ndarray, optional
        The model's state dict as it was written (or part of it), loaded over the seeded
        initialisation instead of measuring the spread on this machine: at least the
        rescaled layers (:func:`spread_layers`); with the entropy coders' tables
        (``update()``'s ``_quantized_cdf``, ``_cdf_length``, ``_offset``) the model is
        returned updated, with those tables. The same weights, bit for bit, on every CPU.
    """
    torch.manual_seed(seed)
    model = build_model(name, channels=channels, **SMALL_CONFIGS[name])
    if state is not None:
        missing = sorted(set(spread_layers(model)) - set(state))
        if missing:
            raise ValueError(f"state lacks {', '.join(missing)}; pass spread_layers() of a {name} model")
        tables = [k for k in state if k.rsplit(".", 1)[-1] in ("_quantized_cdf", "_cdf_length", "_offset")]
        if tables:
            model.update(force=True)  # sizes every table; then they are replaced by the given ones
        own = model.state_dict(keep_vars=True)  # the tensors themselves: a table may change size
        with torch.no_grad():
            for key, value in state.items():
                tensor = torch.from_numpy(np.asarray(value))
                target = own[key]
                if target.shape != tensor.shape:
                    target.resize_(tensor.shape)  # a table (a buffer); parameters keep their shape
                target.copy_(tensor)
    elif spread:
        spread_latents(model, smooth_image(128, 128, seed=seed, channels=channels))
    return model


@torch.no_grad()
def transform_inputs(model: nn.Module, x: Tensor) -> dict[str, Tensor]:
    """Realistic inputs of each transform of ``model`` for the image ``x``.

    ``g_a`` gets the image, ``h_a`` the latent ``y``, ``h_s`` the rounded ``ẑ`` and ``g_s``
    the rounded ``ŷ`` (all from full-image inference).
    """
    found = transforms(model)
    y = found["g_a"](x)
    inputs = {"g_a": x, "g_s": torch.round(y)}
    if "h_a" in found:
        inputs["h_a"] = y
        inputs["h_s"] = torch.round(found["h_a"](y))
    return inputs


def container_chunks(path: str | os.PathLike[str], *, stored: bool = False) -> dict[tuple[str, int, int], bytes | None]:
    """Every chunk of every stream of a local container, by ``(stream, i, j)``.

    Parameters
    ----------
    path : path
        A container folder.
    stored : bool
        ``False``: each chunk's payload, checked against its checksum (``None`` for a
        sheared tile outside the image, which holds no stream). ``True``: each element as
        stored, checksum framing included, unchecked (``b""``: never written).
    """
    import warnings

    import zarr

    from tilestream.container import ContainerReader
    from tilestream.container.schema import ContainerError

    out: dict[tuple[str, int, int], bytes | None] = {}
    with ContainerReader(os.fspath(path)) as reader:
        meta = reader.meta
        for stream in meta.streams:
            rows, cols = meta.stream_grids.get(stream, meta.grid_shape)
            if stored:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    arr = zarr.open_array(os.path.join(os.fspath(path), stream), mode="r")
                    for i in range(rows):
                        for j in range(cols):
                            out[(stream, i, j)] = bytes(arr[i : i + 1, j : j + 1][0, 0])
                continue
            for i in range(rows):
                for j in range(cols):
                    try:
                        out[(stream, i, j)] = reader.read(stream, i, j)
                    except ContainerError:  # a sheared tile outside the image holds no stream
                        out[(stream, i, j)] = None
    return out
