"""Streaming encode → decode equals CompressAI's own full-image compress → decompress."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import tilestream
from tests.conftest import cached_model, compressai_reference, photo
from tilestream import tasks
from tilestream.pipeline import DEFAULT_BLOCK

FAMILIES = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean"]
ALIGN = {"bmshj2018-factorized": 16, "bmshj2018-hyperprior": 64, "mbt2018-mean": 64}


def write_tiff(path, image, **kwargs):
    tifffile.imwrite(path, image, photometric="rgb" if image.ndim == 3 else "minisblack", **kwargs)
    return path


def latent_flips(img: tilestream.image.CodedImage, y_hat_ref: torch.Tensor) -> int:
    """ŷ symbols of the container that differ from CompressAI's (rounding ties)."""
    ctx = img._ctx
    lay = ctx.layout
    flips = 0
    z_cache = {}
    for (i, j), win in lay.y_grid:
        z_parts = None
        if ctx.codec().has_hyperprior:
            for zi in lay.z_grid.touching(ctx.z_window_for_y(i, j)):
                if zi not in z_cache:
                    z_cache[zi] = tasks.decode_hyper(ctx, *zi)
            z_parts = {zi: z_cache[zi] for zi in lay.z_grid.touching(ctx.z_window_for_y(i, j))}
        ours = tasks.decode_latent(ctx, i, j, z_parts)
        ys, xs = win.to_slices()
        ref = y_hat_ref[0, :, ys, xs].numpy()
        flips += int((np.abs(ours - ref) > 0.5).sum())
    return flips


def check_roundtrip(tmp_path, name, image_name, block):
    model = cached_model(name)
    image = photo(image_name)
    src = write_tiff(tmp_path / "in.tif", image, tile=(64, 64))
    result = tilestream.encode(src, tmp_path / "c.tsz", model=model, block=block, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model=model, progress=False)
    decoded = tifffile.imread(tmp_path / "out.tif")
    ref_pixels, ref_bytes, y_hat_ref = compressai_reference(model, image, ALIGN[name])
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    flips = latent_flips(tilestream.open(tmp_path / "c.tsz", model=model), y_hat_ref)
    diff = np.abs(decoded.astype(int) - ref_pixels.astype(int))
    differing = int((diff != 0).sum())
    # ties in the final 8-bit rounding: at most 1 pixel in 10,000, by one level
    assert flips == 0, f"{flips} latent symbols differ from CompressAI (rounding ties)"
    assert int(diff.max()) <= 1
    assert differing <= max(1, diff.size // 10_000), f"{differing} of {diff.size} samples differ"
    # not vacuous: most latent symbols are non-zero, and the decoded image is not flat
    assert float((y_hat_ref.abs() > 0.5).float().mean()) > 0.5
    assert float(decoded.std()) > 5
    return result.stream_bytes, ref_bytes


@pytest.mark.parametrize("name", FAMILIES)
@pytest.mark.parametrize("image_name", ["ladybird_213x317.png", "cups_190x250.png"])
def test_multichunk_roundtrip_equals_compressai_full_image(tmp_path, name, image_name):
    # block 64: a grid of 4x5 (or 3x4) chunks per stream
    ours, ref = check_roundtrip(tmp_path, name, image_name, block=64)
    assert ours > 0 and ref > 0


@pytest.mark.parametrize("name", FAMILIES)
def test_bytes_within_half_percent_of_compressai(tmp_path, name):
    # 520x777 photo at the default block (512 px): 2x2 chunks per stream, each its own
    # rANS stream. Each extra stream costs CompressAI's rANS flush (~6-8 bytes).
    ours, ref = check_roundtrip(tmp_path, name, "garden_520x777.png", block=DEFAULT_BLOCK)
    assert ours <= ref * 1.005, f"{ours} bytes vs CompressAI {ref} ({(ours / ref - 1) * 100:+.2f}%)"


def test_grayscale_is_coded_as_three_equal_channels_and_restored_as_one(tmp_path):
    check_roundtrip(tmp_path, "mbt2018-mean", "storm_gray_150x201.png", block=64)
