"""Entropy chunks larger than the transform block.

The chunk (``chunk``: each chunk's latents are their own rANS streams, the unit of random
access) and the transform block (``block``: ``g_a`` / ``g_s`` run one block and its halo at a
time, the unit of memory) are separate: a chunk of 1024 px is analysed and synthesised in
256 px blocks. The block changes no byte of the container (only the floating-point order of
the transforms, as block-wise against full-image inference), and the decoder may use any
block. Larger chunks cost fewer bytes of stream flush and framing.
"""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import tilestream
from tests.conftest import (
    assert_same_but_ties,
    cached_model,
    compressai_reference,
    photo,
)
from tilestream.container import ContainerReader
from tilestream.errors import TilestreamError
from tilestream.execute import constant
from tilestream.pipeline.runtime import check_chunk
from tilestream.testing import container_chunks


@pytest.mark.parametrize("name", ["mbt2018-mean", "elic2022-official", "mbt2018"])
def test_the_transform_block_changes_no_byte_and_the_decoder_may_pick_any(tmp_path, name):
    model = cached_model(name)
    image = np.ascontiguousarray(photo("garden_520x777.png")[:256, :448])  # 2 x 4 chunks of 128
    src = tmp_path / "in.tif"
    tifffile.imwrite(src, image, photometric="rgb", tile=(64, 64))
    tilestream.encode(src, tmp_path / "whole.tsz", model=model, block=128, chunk=128, progress=False)
    tilestream.encode(src, tmp_path / "tiled.tsz", model=model, block=64, chunk=128, progress=False)
    whole, tiled = container_chunks(tmp_path / "whole.tsz", stored=True), container_chunks(tmp_path / "tiled.tsz", stored=True)
    assert tiled == whole  # every chunk of every stream, byte for byte
    with ContainerReader(str(tmp_path / "tiled.tsz")) as reader:
        assert reader.meta.block == 128 and reader.meta.grid_shape == (2, 4)
    decoded = {}
    for block in (64, 128):
        constant.COUNTS.clear()
        tilestream.decode(tmp_path / "tiled.tsz", tmp_path / f"d{block}.tif", model=model, progress=False, block=block)
        decoded[block] = tifffile.imread(tmp_path / f"d{block}.tif")
        assert constant.COUNTS[("g_s", "computed")] == -(-256 // block) * -(-448 // block)  # one synthesis per block
    assert_same_but_ties(decoded[64], decoded[128])
    ref, _, _ = compressai_reference(model, image, 64)
    assert_same_but_ties(decoded[64], ref)  # and both are full-image inference
    # not vacuous: many bytes, an image with detail
    assert sum(len(v) for v in whole.values()) > 2000 and float(decoded[64].std()) > 5


def test_regions_of_a_chunk_larger_than_the_block_equal_crops(tmp_path):
    model = cached_model("cheng2020-anchor-checkerboard")
    image = photo("ladybird_213x317.png")
    tilestream.encode(image, tmp_path / "c.tsz", model=model, block=64, chunk=192, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "full.tif", model=model, progress=False, block=64)
    full = tifffile.imread(tmp_path / "full.tif")
    img = tilestream.open(tmp_path / "c.tsz", model=model, block=64)
    for y0, y1, x0, x1 in [(0, 213, 0, 317), (60, 200, 120, 260), (190, 200, 185, 200), (0, 5, 0, 317)]:
        np.testing.assert_array_equal(img[y0:y1, x0:x1], full[y0:y1, x0:x1])
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "r.tif", model=model, progress=False, block=64, region=(10, 150, 30, 300))
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "r.tif"), full[10:150, 30:300])
    assert float(full.std()) > 5


@pytest.mark.parametrize("batch", [1, 2])
def test_g_a_reads_the_pixels_of_one_block_at_a_time(tmp_path, batch):
    """A task owns a 256² chunk but reads the source one 64-px block (and its halo) at a
    time, so the pixels held are those of one block, not of the chunk."""
    from tilestream.io.open import open_source

    model = cached_model("mbt2018-mean")
    image = np.ascontiguousarray(photo("garden_520x777.png")[:256, :512])
    src = open_source(image)
    reads, read = [], src.read
    src.read = lambda y0, y1, x0, x1: (reads.append((y1 - y0, x1 - x0)), read(y0, y1, x0, x1))[1]  # type: ignore[method-assign]
    tilestream.encode(src, tmp_path / "c.tsz", model=model, block=64, chunk=256, batch=batch, progress=False)
    with ContainerReader(str(tmp_path / "c.tsz")) as reader:
        halo = reader.meta.halos["g_a"]
    assert reader.meta.grid_shape == (1, 2) and 64 + 2 * max(halo) < 256
    assert len(reads) >= 2 * 16  # every block of both chunks read on its own
    assert max(max(r) for r in reads) <= 64 + 2 * max(halo)
    tilestream.encode(image, tmp_path / "ref.tsz", model=model, block=256, chunk=256, progress=False)
    assert container_chunks(tmp_path / "c.tsz", stored=True) == container_chunks(tmp_path / "ref.tsz", stored=True)


def test_the_default_chunk_saves_bytes_on_a_real_photo_with_the_bundled_model(tmp_path):
    image = photo("garden_520x777.png")
    runs = {}
    for chunk in (None, 256):
        out = tmp_path / f"c{chunk}.tsz"
        result = tilestream.encode(image, out, quality=1, block=256, chunk=chunk, progress=False)
        tilestream.decode(out, tmp_path / f"c{chunk}.tif", progress=False, block=256)
        with ContainerReader(str(out)) as reader:
            runs[chunk] = (result, reader.meta.block, reader.meta.grid_shape, tifffile.imread(tmp_path / f"c{chunk}.tif"))
    (default, dchunk, dgrid, dpix), (small, schunk, sgrid, spix) = runs[None], runs[256]
    assert (dchunk, dgrid, schunk, sgrid) == (1024, (1, 1), 256, (3, 4))
    # twelve chunks pay eleven more flushes and framings (about 16 bytes each) than one
    assert 11 * 8 < small.stream_bytes - default.stream_bytes < 11 * 24
    assert_same_but_ties(dpix, spix)
    _, model = tilestream.models.spec.spec_for(None, quality=1)
    _, ref_bytes, _ = compressai_reference(model, image, 64)
    assert default.stream_bytes - ref_bytes < 0.005 * ref_bytes  # within 0.5 % of CompressAI's strings
    assert float(dpix.std()) > 5


@pytest.mark.parametrize("block, expected", [(64, 1024), (256, 1024), (512, 1024), (384, 1152), (1024, 1024), (2048, 2048)])
def test_default_chunk(block, expected):
    assert check_chunk(None, block) == expected
    assert check_chunk(2 * block, block) == 2 * block


@pytest.mark.parametrize("chunk", [0, 96, 128, 1000, 512.0, True, "1024"])
def test_bad_chunks_are_refused_naming_the_value_and_the_fix(chunk):
    with pytest.raises(TilestreamError, match=rf"chunk {chunk!r} px is not a positive multiple of the block \(256 px\); use e\.g\. --chunk 1024"):
        check_chunk(chunk, 256)
