"""Shared fixtures: small spread-out models, and a report of rounding flips."""

from __future__ import annotations

from functools import lru_cache

import pytest
import torch

from tilestream.models import transforms
from tilestream.testing import small_model, smooth_image

FLIPS: dict[str, int] = {}


@lru_cache(maxsize=None)
def cached_model(name: str):
    """A small random-weight model with latents of several units' spread (shared)."""
    return small_model(name)


@lru_cache(maxsize=None)
def transform_inputs(name: str, height: int, width: int) -> dict[str, torch.Tensor]:
    """Realistic inputs of each transform for an image of ``height × width``.

    ``g_a`` gets the image, ``h_a`` the latent ``y``, ``h_s`` the rounded ``ẑ`` and ``g_s``
    the rounded ``ŷ`` (all from full-image inference).
    """
    found = transforms(cached_model(name))
    x = smooth_image(height, width, seed=height * 1000 + width)
    with torch.no_grad():
        y = found["g_a"](x)
        inputs = {"g_a": x, "g_s": torch.round(y)}
        if "h_a" in found:
            inputs["h_a"] = y
            inputs["h_s"] = torch.round(found["h_a"](y))
    return inputs


def record_flips(key: str, count: int) -> None:
    FLIPS[key] = FLIPS.get(key, 0) + count


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001
    if FLIPS:
        total = sum(FLIPS.values())
        terminalreporter.write_line(
            f"rounding flips block-wise vs full-image (g_a/h_a, all at ties): {total} "
            f"over {len(FLIPS)} transforms checked"
        )


@pytest.fixture
def model_factory():
    return cached_model
