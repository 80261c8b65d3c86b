"""Batched transforms (``batch=N``: blocks of a row as one forward pass of ``g_a`` /
``g_s``) write the same container and decode the same pixels as one block per task.

Batching runs every block through the same slices, pads and layers as alone; whether the
floats then agree to the last bit depends on the backend's kernels, which may differ with
the batch shape (oneDNN at the small windows of the test models; PyTorch's native 1x1
convolutions too): up to float summation order, as block-wise against full-image
inference. Only ``g_a`` and ``g_s`` are batched, never what computes entropy parameters
(``h_a``, ``h_s``, contexts), so a container decodes the same whatever batch wrote it.
The tests hold batching to the project's exactness standard -- every chunk byte for byte,
decoded pixels equal but for rounding ties (one level, at most one sample in 10,000) --
and the bundled model at a real block size to bit-for-bit equality."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import tilestream
from tests.conftest import assert_same_but_ties, cached_model, photo
from tilestream.execute import constant
from tilestream.testing import container_chunks

DATA = "tests/data/rasters"


def _encode_decode(tmp_path, src, model, batch, tag, **kwargs):
    out = tmp_path / f"{tag}-b{batch}.tsz"
    tilestream.encode(src, out, model=model, block=64, chunk=64, progress=False, batch=batch, **kwargs)
    constant.COUNTS.clear()
    tilestream.decode(out, tmp_path / f"{tag}-b{batch}.tif", model=model, progress=False, batch=batch)
    computed = constant.COUNTS[("g_s", "computed")]
    return container_chunks(out, stored=True), tifffile.imread(tmp_path / f"{tag}-b{batch}.tif"), computed


@pytest.mark.parametrize("name", ["mbt2018-mean", "elic2022-official", "mbt2018"])
def test_batched_encode_and_decode_equal_unbatched(tmp_path, name):
    model = cached_model(name)
    image = np.ascontiguousarray(photo("garden_520x777.png")[:256, :448])  # 4 x 7 blocks of 64
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image, photometric="rgb", tile=(64, 64))
    ref_chunks, ref_pixels, _ = _encode_decode(tmp_path, src, model, 1, "ref")
    for batch in ((3, 8) if name == "mbt2018-mean" else (3,)):
        chunks, pixels, computed = _encode_decode(tmp_path, src, model, batch, "batched")
        assert chunks == ref_chunks  # every chunk of every stream, byte for byte
        assert_same_but_ties(pixels, ref_pixels)
        assert computed == 4 * 7  # every block synthesised once
    # not vacuous: the image codes to many bytes and decodes to an image with detail
    assert sum(len(v) for v in ref_chunks.values()) > 2000
    assert float(ref_pixels.std()) > 5


def test_batched_multiband_nodata_raster_equals_unbatched(tmp_path):
    # a real 4-band raster (two band groups) with a nodata corner: an all-nodata block is
    # skipped inside a batch, the others synthesised together
    scene = tifffile.imread(f"{DATA}/rgbn_4band_128x160.tif")
    scene[:70, :70] = 0
    src = tmp_path / "scene.tif"
    tifffile.imwrite(src, scene, planarconfig="contig")
    model = cached_model("mbt2018-mean")
    ref_chunks, ref_pixels, _ = _encode_decode(tmp_path, src, model, 1, "ref", nodata=0)
    chunks, pixels, _ = _encode_decode(tmp_path, src, model, 4, "batched", nodata=0)
    assert chunks == ref_chunks
    assert_same_but_ties(pixels, ref_pixels)
    assert pixels.shape == scene.shape
    assert (pixels[:70, :70] == 0).all() and float(pixels[70:, 70:].std()) > 5


def test_the_default_model_batched_equals_unbatched_on_the_default_backend(tmp_path):
    image = np.ascontiguousarray(photo("garden_520x777.png")[:256, :768])  # 2 x 6 blocks of 128
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image, photometric="rgb")
    runs = []
    for batch in (1, 6):
        out = tmp_path / f"d{batch}.tsz"
        tilestream.encode(src, out, block=128, chunk=128, progress=False, batch=batch)
        tilestream.decode(out, tmp_path / f"d{batch}.tif", progress=False, batch=batch)
        runs.append((container_chunks(out, stored=True), tifffile.imread(tmp_path / f"d{batch}.tif")))
    assert runs[0][0] == runs[1][0]
    np.testing.assert_array_equal(runs[0][1], runs[1][1])
    assert float(runs[0][1].std()) > 5
