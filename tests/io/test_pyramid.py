"""Pyramids built block by block equal the image reduced whole, level by level."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import photo
from tilestream.io.pyramid import Pyramid, level_count, level_shapes, reduce2


def _assemble(tiles, shapes, tile, channels, dtype):
    levels = [np.full((h, w, channels), 123, dtype) for h, w in shapes]
    seen = [np.zeros((h, w), int) for h, w in shapes]
    for k, ti, tj, data in tiles:
        levels[k][ti * tile : ti * tile + data.shape[0], tj * tile : tj * tile + data.shape[1]] = data
        seen[k][ti * tile : ti * tile + data.shape[0], tj * tile : tj * tile + data.shape[1]] += 1
    return levels, seen


def _stream(image, tile, **kw):
    h, w, c = image.shape
    pyr = Pyramid((h, w), c, image.dtype, tile, **kw)
    tiles = []
    for y in range(0, h, tile):
        for x in range(0, w, tile):
            tiles.extend(pyr.add(y, x, image[y : y + tile, x : x + tile]))
    return pyr, tiles


@settings(max_examples=60, deadline=None)
@given(
    h=st.integers(1, 300), w=st.integers(1, 300), tile=st.sampled_from([8, 16, 32]), c=st.sampled_from([1, 3]),
    resampling=st.sampled_from(["average", "nearest", "mode"]), nodata=st.booleans(), seed=st.integers(0, 2**16),
)
def test_block_by_block_equals_the_whole_image_reduced(h, w, tile, c, resampling, nodata, seed):
    rng = np.random.default_rng(seed)
    image = rng.integers(0, 6 if resampling == "mode" else 256, (h, w, c)).astype(np.uint8)
    nd = 0.0 if nodata else None
    if nodata:
        image[rng.random((h, w)) < 0.3] = 0
    levels = level_count((h, w), tile)
    if levels > int(np.log2(tile)):
        return
    pyr, tiles = _stream(image, tile, resampling=resampling, nodata=nd)
    got, seen = _assemble(tiles, pyr.shapes, tile, c, image.dtype)
    assert all((s == 1).all() for s in seen)  # every pixel of every level handed out once
    expected = image
    for k in range(pyr.levels + 1):
        assert np.array_equal(got[k], expected), k
        expected = reduce2(expected, resampling, nd)
    assert max(pyr.shapes[-1]) <= tile  # down to one tile


def test_average_is_the_area_mean_within_one_grey_level_and_respects_nodata():
    image = np.ascontiguousarray(photo("garden_520x777.png")[:, :, :3]).copy()
    image[:64, :64] = 0  # a nodata corner, with one valid pixel inside
    image[10, 11] = [200, 100, 50]
    pyr, tiles = _stream(image, 64, nodata=0.0)
    levels, _ = _assemble(tiles, pyr.shapes, 64, 3, np.uint8)
    assert pyr.levels == 4 and pyr.shapes[-1] == (33, 49)
    for k in range(1, pyr.levels + 1):
        below, here = levels[k - 1].astype(float), levels[k].astype(float)
        valid = ~(levels[k - 1] == 0).all(axis=-1)
        for y, x in [(0, 0), (5, 2), (here.shape[0] - 1, here.shape[1] - 1), (here.shape[0] // 2, 7)]:
            group = below[2 * y : 2 * y + 2, 2 * x : 2 * x + 2][valid[2 * y : 2 * y + 2, 2 * x : 2 * x + 2]]
            if len(group) == 0:
                assert (here[y, x] == 0).all()  # nodata only where every input is
            else:
                assert np.abs(here[y, x] - group.mean(axis=0)).max() <= 0.5 + 1e-9
    assert (levels[1][5, 5] == [200, 100, 50]).all()  # the one valid pixel of its group, not diluted
    assert (levels[1][:32, :32] == 0).all(axis=-1).sum() == 32 * 32 - 1


def test_mode_keeps_classes_and_nearest_picks_a_pixel():
    classes = (photo("garden_520x777.png")[:, :, 0] // 64).astype(np.uint8)[..., None]  # 4 classes
    for resampling in ("mode", "nearest"):
        pyr, tiles = _stream(classes, 64, resampling=resampling)
        levels, _ = _assemble(tiles, pyr.shapes, 64, 1, np.uint8)
        for k in range(1, pyr.levels + 1):
            assert set(np.unique(levels[k])) <= set(np.unique(classes))  # no invented class
    assert np.array_equal(reduce2(np.array([[[1], [2]], [[2], [3]]], np.uint8), "mode"), [[[2]]])
    assert np.array_equal(reduce2(np.array([[[3], [1]], [[2], [4]]], np.uint8), "mode"), [[[1]]])  # tie: smallest


def test_too_many_levels_for_the_block_is_one_line():
    with pytest.raises(ValueError, match="use a larger --block"):
        Pyramid((5000, 5000), 3, np.uint8, 8)
    assert level_shapes((5, 9), 2) == [(5, 9), (3, 5), (2, 3)]
    assert level_count((512, 512), 512) == 0 and level_count((513, 100), 512) == 1


@settings(max_examples=80, deadline=None)
@given(
    h=st.integers(1, 40), w=st.integers(1, 40), c=st.sampled_from([1, 3, 4]),
    dtype=st.sampled_from(["uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "float64"]),
    resampling=st.sampled_from(["average", "nearest", "mode"]), seed=st.integers(0, 2**16),
)
def test_the_strided_reduction_equals_the_grouped_one(h, w, c, dtype, resampling, seed):
    """Without nodata, reduce2 takes strided views; the results are the general path's,
    extreme values included (no overflow of the sums), for every sample type a source
    can have."""
    from tilestream.io.pyramid import _reduce_grouped

    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype)
    if dt.kind == "f":
        image = (rng.normal(size=(h, w, c)) * 1e3).astype(dt)
    else:
        info = np.iinfo(dt)
        image = rng.integers(info.min, info.max, (h, w, c), endpoint=True, dtype=dt)
        image[rng.random((h, w)) < 0.2] = info.max  # sums at the top of the range
    got, want = reduce2(image, resampling), _reduce_grouped(image, resampling, None)
    assert got.dtype == want.dtype == dt and got.shape == want.shape == (-(-h // 2), -(-w // 2), c)
    if dt.kind == "f":
        np.testing.assert_allclose(got, want, rtol=1e-6)
    else:
        assert np.array_equal(got, want)
