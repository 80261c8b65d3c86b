"""Shared fixtures: small spread-out models, and a report of rounding flips."""

from __future__ import annotations

from functools import lru_cache

import pytest
import torch

from tilestream.testing import small_model, smooth_image
from tilestream.testing import transform_inputs as testing_inputs

FLIPS: dict[str, int] = {}


@lru_cache(maxsize=None)
def cached_model(name: str):
    """A small random-weight model with latents of several units' spread (shared), its
    CDF tables built (``update()``) as for any model used to code."""
    model = small_model(name)
    if hasattr(model, "update"):
        model.update(force=True)
    return model


@lru_cache(maxsize=None)
def transform_inputs(name: str, height: int, width: int) -> dict[str, torch.Tensor]:
    """Realistic inputs of each transform of ``name`` for an image of ``height × width``."""
    x = smooth_image(height, width, seed=height * 1000 + width)
    return testing_inputs(cached_model(name), x)


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


# -- images and CompressAI references ---------------------------------------------------
DATA = __import__("pathlib").Path(__file__).parent / "data"


def assert_same_but_ties(pixels, ref) -> None:
    """Decoded pixels equal but for rounding ties: one level, at most one sample in 10,000
    (transforms on other windows or batches sum floats in another order)."""
    import numpy as np

    diff = np.abs(pixels.astype(int) - ref.astype(int))
    assert int(diff.max()) <= 1
    assert int((diff != 0).sum()) <= max(1, diff.size // 10_000)


@lru_cache(maxsize=None)
def photo(name: str):
    """A real photograph crop from tests/data as a read-only uint8 array."""
    import numpy as np
    from PIL import Image

    with Image.open(DATA / name) as im:
        array = np.asarray(im).copy()
    array.setflags(write=False)
    return array


def compressai_reference(model, image, align: int):
    """CompressAI's own full-image compress → decompress of the replicate-padded image.

    Returns ``(pixels uint8 like image, total string bytes, y_hat tensor)``.
    """
    import numpy as np

    rgb = image if image.ndim == 3 else np.repeat(image[:, :, None], 3, axis=2)
    h, w = rgb.shape[:2]
    hp, wp = -(-h // align) * align, -(-w // align) * align
    padded = np.pad(rgb, ((0, hp - h), (0, wp - w), (0, 0)), mode="edge")
    x = torch.from_numpy(padded).permute(2, 0, 1)[None].float() / 255
    with torch.no_grad():
        compressed = model.compress(x)
        strings = compressed["strings"]
        out = model.decompress(strings, compressed["shape"])
        x_hat = out["x_hat"].clamp(0, 1)
        if image.ndim == 2:
            x_hat = x_hat.mean(dim=1, keepdim=True)
        pixels = torch.round(x_hat * 255).to(torch.uint8)[0].permute(1, 2, 0).numpy()[:h, :w]
        y_hat = _reference_y_hat(model, x, compressed)
    if image.ndim == 2:
        pixels = pixels[..., 0]
    return pixels, sum(len(s[0]) for s in strings), y_hat


def _reference_y_hat(model, x, compressed):
    strings = compressed["strings"]
    if "y_hat" in compressed:  # latent-codec models (checkerboard, ELIC) return it
        return compressed["y_hat"]
    if hasattr(model, "context_prediction"):  # serial autoregressive: CompressAI's own decoder loop
        import torch.nn.functional as F

        z_hat = model.entropy_bottleneck.decompress(strings[1], compressed["shape"])
        params = model.h_s(z_hat)
        height, width = z_hat.size(2) * 4, z_hat.size(3) * 4
        y_hat = torch.zeros((1, model.M, height + 4, width + 4))
        model._decompress_ar(strings[0][0], y_hat, params, height, width, 5, 2)
        return F.pad(y_hat, (-2, -2, -2, -2))
    if hasattr(model, "gaussian_conditional"):
        z_hat = model.entropy_bottleneck.decompress(strings[1], compressed["shape"])
        params = model.h_s(z_hat)
        if type(model).__name__ == "MeanScaleHyperprior":
            scales, means = params.chunk(2, 1)
        else:
            scales, means = params, None
        indexes = model.gaussian_conditional.build_indexes(scales)
        return model.gaussian_conditional.decompress(strings[0], indexes, means=means)
    return model.entropy_bottleneck.decompress(strings[0], compressed["shape"])
