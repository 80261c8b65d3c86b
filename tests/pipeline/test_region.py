"""Region decode: img[y0:y1, x0:x1] equals the same crop of the full decode."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import tilestream
from tests.conftest import cached_model, photo
from tilestream import pipeline
from tilestream.container import ChunkStore
from tilestream.entropy import AutoregressiveCodec, PhasedCodec
from tilestream.geometry import Window

H, W = 213, 317  # ladybird crop; block 64 → grid of 4 x 5 chunks


MODELS = [
    "bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean",
    "cheng2020-anchor-checkerboard", "elic2022-official", "mbt2018", "cheng2020-anchor", "cheng2020-attn",
]


@pytest.fixture(scope="module", params=MODELS)
def coded(request, tmp_path_factory):
    name = request.param
    tmp = tmp_path_factory.mktemp(name)
    model = cached_model(name)
    tilestream.encode(photo("ladybird_213x317.png"), tmp / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp / "c.tsz", tmp / "full.tif", model=model, progress=False)
    return tilestream.open(tmp / "c.tsz", model=model), tifffile.imread(tmp / "full.tif")


REGIONS = [
    (0, 10, 0, 12),  # top-left corner
    (H - 7, H, W - 9, W),  # bottom-right corner (inside the virtual padding's block)
    (0, 5, 100, 200),  # top edge
    (50, 150, W - 3, W),  # right edge
    (60, 70, 60, 70),  # across a chunk corner (64, 64)
    (10, 200, 127, 130),  # tall strip across chunk rows and a chunk column boundary
    (100, 101, 200, 201),  # one pixel
    (0, H, 0, W),  # everything
]


@pytest.mark.parametrize("y0, y1, x0, x1", REGIONS)
def test_region_equals_crop_of_full_decode(coded, y0, y1, x0, x1):
    img, full = coded
    np.testing.assert_array_equal(img[y0:y1, x0:x1], full[y0:y1, x0:x1])


def test_numpy_style_indexing(coded):
    img, full = coded
    assert img.shape == full.shape and img.dtype == np.uint8
    np.testing.assert_array_equal(img[5, 7:9], full[5, 7:9])
    np.testing.assert_array_equal(img[-3:, :4], full[-3:, :4])
    np.testing.assert_array_equal(img[20:22, 30:31, 1], full[20:22, 30:31, 1])
    np.testing.assert_array_equal(np.asarray(img.to_dask()[100:140, 250:300]), full[100:140, 250:300])
    assert img.bpp > 0 and img.model["name"] in MODELS


def expected_reads(ctx, window: Window) -> dict[str, set[tuple[int, int]]]:
    """The chunks of each stream a region needs, derived from the geometry alone:
    ``g_s``'s window, then back through the phases' context windows (or the sheared tiles'
    dependencies), then ``h_s``'s window into ``ẑ``."""
    lay = ctx.layout
    need = ctx.y_window_for_pixels(window)
    reads: dict[str, set[tuple[int, int]]] = {}
    codec = ctx.codec()
    if isinstance(codec, AutoregressiveCodec):
        grid = codec.tiles(lay)
        todo, tiles = list(grid.touching(need)), set()
        while todo:
            tile = todo.pop()
            if tile not in tiles:
                tiles.add(tile)
                todo.extend(grid.deps(*tile))
        reads["y"] = tiles
        owners = [grid.window(*t) for t in tiles]
    elif isinstance(codec, PhasedCodec):
        current = set(lay.y_grid.touching(need))
        owners_set = set(current)
        for k in range(len(codec.phases) - 1, -1, -1):
            reads[codec.phases[k].stream] = current
            if k:
                current = {c for idx in current for c in lay.y_grid.touching(codec.context_window(k, lay.y_window(*idx)))}
                owners_set |= current
        owners = [lay.y_window(*idx) for idx in owners_set]
    else:
        reads["y"] = set(lay.y_grid.touching(need))
        owners = [lay.y_window(*idx) for idx in reads["y"]]
    if codec.has_hyperprior:
        reads["z"] = {c for box in owners for c in lay.z_grid.touching(ctx.z_window_for(box))}
    return reads


@pytest.mark.parametrize("y0, y1, x0, x1", [(100, 101, 200, 201), (0, 10, 0, 12)])
def test_region_decode_reads_only_the_chunks_it_needs(coded, monkeypatch, y0, y1, x0, x1):
    img, full = coded
    read: list[tuple[str, int, int]] = []
    original = ChunkStore.read

    def spy(self, stream, i, j):
        read.append((stream, i, j))
        return original(self, stream, i, j)

    monkeypatch.setattr(ChunkStore, "read", spy)
    img.cache.clear()  # the latents of earlier reads would spare some chunk reads
    np.testing.assert_array_equal(img[y0:y1, x0:x1], full[y0:y1, x0:x1])
    expected = expected_reads(img._ctx, Window.from_bounds(y0, y1, x0, x1))
    assert set(expected) == set(img.meta.streams)
    for stream, chunks in expected.items():
        got = [(i, j) for s, i, j in read if s == stream]
        assert sorted(got) == sorted(chunks), stream  # each needed chunk read exactly once
    # a corner region needs a strict part of the latent that g_s reads
    if (y0, x0) == (0, 0):
        last = img.meta.streams[-1]
        rows, cols = img.meta.stream_grids.get(last, img.meta.grid_shape)
        assert len(expected[last]) < rows * cols


def test_cached_latents_serve_repeated_and_neighbouring_regions(coded):
    """A repeated region runs only its synthesis; a neighbour runs the latent tasks the
    first did not; both equal the full decode's crop; the cache keeps to its budget."""
    img, full = coded
    ctx = img._ctx
    cache = pipeline.region_cache(ctx, 64 * 2**20)
    first, again, beside, cold = {}, {}, {}, {}
    a, b = Window.from_bounds(40, 120, 50, 160), Window.from_bounds(40, 120, 140, 250)
    np.testing.assert_array_equal(pipeline.decode_region(ctx, a, cache=cache, stats=first), full[40:120, 50:160])
    assert len(cache) > 0 and cache.nbytes <= cache.max_bytes
    np.testing.assert_array_equal(pipeline.decode_region(ctx, a, cache=cache, stats=again), full[40:120, 50:160])
    assert set(again["tasks"]) == {"region"}  # no latent task ran again
    assert again["tasks"]["region"] == first["tasks"]["region"]
    np.testing.assert_array_equal(pipeline.decode_region(ctx, b, cache=cache, stats=beside), full[40:120, 140:250])
    pipeline.decode_region(ctx, b, stats=cold)
    latent = lambda st: sum(n for name, n in st["tasks"].items() if name != "region")  # noqa: E731
    assert latent(beside) < latent(cold)  # the shared latents were not decoded again
    assert cache.hits > 0
    small = pipeline.region_cache(ctx, 200_000)
    pipeline.decode_region(ctx, Window.from_bounds(0, H, 0, W), cache=small)
    assert 0 < small.nbytes <= 200_000


def test_bad_regions_are_refused(coded):
    img, _ = coded
    with pytest.raises(tilestream.TilestreamError, match="slice step 2 is not supported"):
        img[0:10:2, 0:10]
    with pytest.raises(tilestream.TilestreamError, match="empty region"):
        img[5:5, 0:3]
    with pytest.raises(IndexError, match="out of bounds"):
        img[H, 0]
    with pytest.raises(tilestream.TilestreamError, match=r"region 0:300,0:10 is outside the image of 213x317"):
        pipeline.region_window((0, 300, 0, 10), (H, W))
