"""The bundled default model: a compact mean-scale hyperprior trained by tilestream.

Three rate points (``quality`` 1, 2, 3: low, medium, high rate) of CompressAI's
``mbt2018-mean`` architecture with ``N=64, M=96`` channels, trained with
``scripts/train_default.sh`` (``tilestream train``) on real photographs from Debian's
wallpaper packages, the held-out photos excluded. Files are stored with float16 weights
(CDF tables as trained); ``MANIFEST.json`` records the SHA-256 of each file and of the
loaded weights.
"""

from __future__ import annotations

import hashlib
import json
from importlib import resources
from pathlib import Path
from typing import Any

import torch

from tilestream.errors import TilestreamError

__all__ = [
    "DEFAULT_ARCH",
    "DEFAULT_MODEL",
    "DEFAULT_QUALITY",
    "available_qualities",
    "bundled_path",
    "load_bundled_state",
    "manifest",
]

DEFAULT_MODEL = "mbt2018-mean"
DEFAULT_ARCH = {"N": 64, "M": 96}
DEFAULT_QUALITY = 2


def _folder() -> Path:
    return Path(str(resources.files("tilestream.weights")))


def manifest() -> dict[str, Any]:
    """The manifest of bundled weights (empty if none are bundled)."""
    path = _folder() / "MANIFEST.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())


def available_qualities() -> tuple[int, ...]:
    """The bundled rate points (``quality`` values), lowest rate first."""
    keys = manifest().get("files", {})
    return tuple(sorted(int(k[1:]) for k in keys if k[:1] == "q" and k[1:].isdigit()))


def bundled_path(quality: int) -> Path:
    """Path of the bundled default model at ``quality``; checked against the manifest."""
    entries = manifest().get("files", {})
    key = f"q{quality}"
    if key not in entries:
        available = ", ".join(sorted(k[1:] for k in entries)) or "none"
        raise TilestreamError(
            f"the bundled default model has no quality {quality!r} (available: {available}); "
            f"pass --quality with one of them, or --model NAME --checkpoint PATH"
        )
    path = _folder() / entries[key]["file"]
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != entries[key]["file_sha256"]:
        raise TilestreamError(
            f"bundled weights {path} are damaged (SHA-256 {digest[:12]}… instead of "
            f"{entries[key]['file_sha256'][:12]}…); reinstall tilestream"
        )
    return path


def load_bundled_state(quality: int) -> dict[str, torch.Tensor]:
    """State dict of the bundled model at ``quality`` (float16 weights widened to float32)."""
    state = torch.load(bundled_path(quality), map_location="cpu", weights_only=True)["state_dict"]
    return {k: v.float() if v.dtype == torch.float16 else v for k, v in state.items()}
