"""Which weights a container was made with, and loading them once per worker process.

A :class:`ModelSpec` is small and picklable: a registry name plus either a zoo quality, a
checkpoint path, or (for a model object handed to the Python API) its serialised state
dict. Its ``sha256`` identifies the weights (CDF tables included); containers record it and
decoding with other weights is refused.
"""

from __future__ import annotations

import hashlib
import io
import operator
import os
import threading
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from tilestream.errors import TilestreamError, UnknownModelError
from tilestream.models.compat import compressai
from tilestream.models.registry import (
    RGB,
    build_model,
    load_error,
    model_names,
    set_channels,
)

__all__ = ["ModelSpec", "WeightsError", "load_model", "read_checkpoint", "spec_for", "state_channels", "weights_sha256"]

_CACHE: dict[tuple[str, str], nn.Module] = {}
_LOCK = threading.Lock()


class WeightsError(TilestreamError):
    """Weights cannot be loaded, do not fit the architecture, or differ from the container's."""


def weights_sha256(model: nn.Module) -> str:
    """SHA-256 of a model's state dict (sorted keys; dtype, shape and bytes of each tensor).

    Masked convolutions (context models) are hashed with their mask applied: CompressAI's
    ``MaskedConv2d`` zeroes the masked weights in place on its first forward pass, which
    changes the state dict but not the model.
    """
    digest = hashlib.sha256()
    state = dict(model.state_dict())
    for name, module in model.named_modules():
        mask = getattr(module, "mask", None)
        weight = getattr(module, "weight", None)
        if isinstance(mask, torch.Tensor) and isinstance(weight, torch.Tensor) and mask.shape == weight.shape:
            state[f"{name}.weight" if name else "weight"] = weight.detach() * mask
    for key, value in sorted(state.items()):
        tensor = value.detach().cpu().contiguous()
        digest.update(key.encode())
        digest.update(str(tensor.dtype).encode())
        digest.update(str(tuple(tensor.shape)).encode())
        digest.update(tensor.numpy().tobytes() if tensor.dtype != torch.bfloat16 else tensor.float().numpy().tobytes())
    return digest.hexdigest()


def _needs_update(model: nn.Module) -> bool:
    eb = getattr(model, "entropy_bottleneck", None)
    gc = getattr(model, "gaussian_conditional", None)
    if eb is not None and eb._quantized_cdf.numel() == 0:
        return True
    return gc is not None and (gc.scale_table.numel() == 0 or gc._quantized_cdf.numel() == 0)


def _prepare(model: nn.Module) -> nn.Module:
    model.eval()
    if _needs_update(model):
        model.update(force=True)
    return model


def _registry_name(model: nn.Module) -> str:
    models = compressai().registry.MODELS
    for name in model_names():
        if models[name] is type(model):
            return name
    raise UnknownModelError(
        f"{type(model).__name__} is not a CompressAI registry model; pass a model built from "
        f"compressai.registry.MODELS"
    )


def read_checkpoint(path: str) -> dict[str, Any]:
    """A state dict of tensors from ``path`` (bare or under ``"state_dict"``), loaded with
    ``weights_only=True``; raises :class:`WeightsError` naming the file and the fix."""
    from tilestream.storage import Location

    location = Location.of(path)  # a local path, or a URL every worker reads (s3://…/w.pt)
    if not location.isfile():
        raise WeightsError(f"checkpoint {path!r} does not exist; pass the path of a state dict")
    try:
        if location.is_local:
            state = torch.load(path, map_location="cpu", weights_only=True)
        else:
            state = torch.load(io.BytesIO(location.read_bytes()), map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle / zip errors come in many types
        why = str(exc).splitlines()[0] if str(exc) else "empty or cut short"
        if why.startswith("Weights only load failed"):  # torch's advice to unpickle anything is not ours
            why = "not a torch file, or it holds objects other than tensors"
        raise WeightsError(
            f"checkpoint {path!r} cannot be read as a torch state dict "
            f"({type(exc).__name__}: {why}); pass a file saved with "
            f"torch.save(model.state_dict(), path)"
        ) from exc
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise WeightsError(
            f"checkpoint {path!r} does not hold a state dict of tensors; save it with "
            f"torch.save(model.state_dict(), path)"
        )
    return {k.removeprefix("module."): v for k, v in state.items()}


def state_channels(state: dict[str, Any]) -> int:
    """Channels of the images a state dict's model codes: the input channels of its first
    ``g_a`` weight (``g_a.0.weight``, or ``g_a.0.conv1.weight`` for cheng2020); 3 when
    the state has neither."""
    for key in ("g_a.0.weight", "g_a.0.conv1.weight"):
        weight = state.get(key)
        if isinstance(weight, torch.Tensor) and weight.dim() == 4:
            return int(weight.shape[1])
    return RGB


def _with_channels(cls: type[nn.Module], channels: int) -> type[nn.Module]:
    """A subclass of ``cls`` whose constructor builds the model for ``channels`` image
    channels, so that CompressAI's ``from_state_dict`` (which infers ``N``, ``M`` from the
    weights and calls ``cls(N, M)``) builds the right shapes."""

    def __init__(self: nn.Module, *args: Any, **kwargs: Any) -> None:
        cls.__init__(self, *args, **kwargs)
        set_channels(self, channels)

    return type(cls.__name__, (cls,), {"__init__": __init__, "__module__": cls.__module__})


def _from_state(name: str, quality: int | None, state: dict[str, Any], what: str) -> nn.Module:
    cls = compressai().registry.MODELS[name]
    channels = state_channels(state)
    try:
        if quality is not None:
            model = build_model(name, quality, channels=channels)
            model.load_state_dict(state)
        elif channels != RGB:
            model = _with_channels(cls, channels).from_state_dict(state)
            model.__class__ = cls  # the subclass only built it: the model is a plain cls
        else:
            model = cls.from_state_dict(state)
    except (RuntimeError, KeyError, IndexError, AttributeError) as exc:
        first = load_error(exc)
        raise WeightsError(
            f"{what} does not fit the architecture {name}"
            + (f" quality {quality}" if quality is not None else "")
            + (f" for {channels} channels" if channels != RGB else "")
            + f" ({first}); pass the --model (and --quality) it was trained with"
        ) from exc
    return model


def _pretrained(name: str, quality: int | None) -> nn.Module:
    zoo = compressai().zoo
    if name not in zoo.image_models:
        raise WeightsError(f"CompressAI publishes no weights for {name!r}; pass --checkpoint")
    if quality is None:
        raise WeightsError(f"--pretrained needs --quality for {name!r}")
    try:
        url = zoo.image.model_urls[name]["mse"][quality]
    except KeyError as exc:
        raise WeightsError(f"CompressAI publishes no weights for {name!r} quality {quality}") from exc
    target = os.path.join(torch.hub.get_dir(), "checkpoints", os.path.basename(url))
    try:
        return zoo.image_models[name](quality=quality, pretrained=True, progress=False)
    except (OSError, RuntimeError) as exc:
        raise WeightsError(
            f"cannot download CompressAI's weights for {name} quality {quality} (offline?); "
            f"put {os.path.basename(url)} at {target} or pass --checkpoint PATH"
        ) from exc


@dataclass(frozen=True)
class ModelSpec:
    """A picklable description of a model and its weights.

    Build one with :func:`spec_for`. ``state`` holds serialised weights for models given
    as objects; ``checkpoint`` a path readable on every worker.
    """

    name: str
    quality: int | None = None
    checkpoint: str | None = None
    pretrained: bool = False
    state: bytes | None = field(default=None, repr=False)
    sha256: str = ""
    bundled: bool = False

    def build(self) -> nn.Module:
        """Construct the model with its weights (no caching; see :func:`load_model`)."""
        if self.bundled:
            from tilestream.weights import DEFAULT_ARCH, load_bundled_state

            model = build_model(self.name, **DEFAULT_ARCH)
            model.load_state_dict(load_bundled_state(self.quality or 0))
        elif self.state is not None:
            state = torch.load(io.BytesIO(self.state), map_location="cpu", weights_only=True)
            model = _from_state(self.name, self.quality, state, "the given model's weights")
        elif self.checkpoint is not None:
            model = _from_state(
                self.name, self.quality, read_checkpoint(self.checkpoint),
                f"checkpoint {self.checkpoint!r}",
            )
        elif self.pretrained:
            model = _pretrained(self.name, self.quality)
        else:
            raise WeightsError(
                f"no weights given for {self.name}; pass --checkpoint PATH or --pretrained"
            )
        return _prepare(model)

    def record(self) -> dict[str, Any]:
        """What a container stores about the weights."""
        return {
            "name": self.name,
            "quality": self.quality,
            "sha256": self.sha256,
            "checkpoint": os.path.basename(self.checkpoint) if self.checkpoint else None,
            "pretrained": self.pretrained,
            "bundled": self.bundled,
        }


def spec_for(
    model: nn.Module | str | None,
    *,
    quality: int | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    pretrained: bool = False,
) -> tuple[ModelSpec, nn.Module]:
    """Describe (and load once) the weights to use; return the spec and the loaded model.

    Parameters
    ----------
    model : nn.Module, str or None
        A CompressAI model object, a registry name, or ``None`` for the bundled default
        model (:mod:`tilestream.weights`) at ``quality`` (default 2).
    quality : int, optional
        Zoo quality (architecture configuration; with ``pretrained``, the published rate).
    checkpoint : path, optional
        A state dict (bare or under ``"state_dict"``), loaded with ``weights_only=True``.
    pretrained : bool
        Use CompressAI's published weights (torch hub cache; downloaded if reachable).
    """
    if quality is not None:
        try:
            if isinstance(quality, bool):
                raise TypeError
            quality = operator.index(quality)  # an int, numpy's included
        except TypeError:
            raise UnknownModelError(f"quality {quality!r} is not an integer; pass --quality N, e.g. 1, 2 or 3") from None
    if model is None:
        from tilestream.weights import DEFAULT_MODEL, DEFAULT_QUALITY

        if checkpoint is not None or pretrained:
            what = f"--checkpoint {os.fspath(checkpoint)!r}" if checkpoint is not None else "--pretrained"
            raise UnknownModelError(
                f"{what} needs --model NAME, the architecture of the weights; pass e.g. --model mbt2018-mean"
            )
        spec = ModelSpec(DEFAULT_MODEL, DEFAULT_QUALITY if quality is None else quality, bundled=True)
        loaded = spec.build()
    elif isinstance(model, nn.Module):
        name = _registry_name(model)
        buffer = io.BytesIO()
        torch.save(_prepare(model).state_dict(), buffer)
        spec = ModelSpec(name, None, state=buffer.getvalue())
        loaded = model
    else:
        if model not in model_names():
            raise UnknownModelError(
                f"unknown model {model!r}; choose one of: {', '.join(model_names())}"
            )
        spec = ModelSpec(
            model, quality, os.fspath(checkpoint) if checkpoint is not None else None, pretrained
        )
        loaded = spec.build()
    sha = weights_sha256(loaded)
    spec = ModelSpec(spec.name, spec.quality, spec.checkpoint, spec.pretrained, spec.state, sha, spec.bundled)
    with _LOCK:
        _CACHE[(sha, "cpu")] = loaded if next(loaded.parameters()).device.type == "cpu" else spec.build()
    return spec, loaded


def load_model(spec: ModelSpec, device: str | torch.device = "cpu") -> nn.Module:
    """The model of ``spec`` on ``device``, loaded once per process and cached.

    Raises
    ------
    WeightsError
        If the weights loaded here hash differently from ``spec.sha256``.
    """
    dev = str(torch.device(device))
    key = (spec.sha256, dev)
    with _LOCK:
        cached = _CACHE.get(key)
    if cached is not None:
        return cached
    model = spec.build()
    sha = weights_sha256(model)
    if spec.sha256 and sha != spec.sha256:
        raise WeightsError(
            f"weights of {spec.name} have SHA-256 {sha[:12]}…, but {spec.sha256[:12]}… was "
            f"expected; pass the same --checkpoint / --quality that encoded the image"
        )
    model = model.to(dev)
    with _LOCK:
        _CACHE.setdefault(key, model)
        return _CACHE[key]
