"""``tilestream.open(...).level(k)``: a reduced view equal to level k of the decoded pyramids,
decoding only the full-resolution region under the slice."""

from __future__ import annotations

import numpy as np
import pytest
import zarr

import tilestream
from tests.conftest import cached_model, photo
from tilestream import image as image_module
from tilestream.errors import TilestreamError


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("level")
    model = cached_model("bmshj2018-hyperprior")
    img = np.ascontiguousarray(photo("garden_520x777.png")[:, :, :3])
    tilestream.encode(img, tmp / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp / "c.tsz", tmp / "o.zarr", model=model, progress=False, format="ome-zarr")
    levels = [np.moveaxis(zarr.open_array(str(tmp / "o.zarr" / str(k)), mode="r")[:], 0, -1) for k in range(5)]
    return tmp / "c.tsz", model, levels


@pytest.mark.parametrize("k,region", [(0, (slice(10, 70), slice(100, 180))), (1, (slice(0, 130), slice(300, 389))),
                                      (2, (slice(37, 99), slice(5, 195))), (4, (slice(None), slice(None)))])
def test_a_level_slice_equals_the_pyramid_level(coded, k, region, monkeypatch):
    path, model, levels = coded
    windows = []
    original = image_module.decode_region
    monkeypatch.setattr(image_module, "decode_region", lambda ctx, w, **kw: windows.append(w) or original(ctx, w, **kw))
    with tilestream.open(path, model=model) as img:
        view = img.level(k)
        assert view.shape == levels[k].shape
        got = view[region]
    assert np.array_equal(got, levels[k][region])
    assert levels[k][region].std() > 5
    (window,) = windows  # one decode, of the full-resolution region under the slice only
    ys, xs = (s.indices(n) for s, n in zip(region, levels[k].shape[:2]))
    assert window.y.start == ys[0] * 2**k and window.y.stop == min(520, ys[1] * 2**k)
    assert window.x.start == xs[0] * 2**k and window.x.stop == min(777, xs[1] * 2**k)


def test_bad_levels_are_one_line(coded):
    path, model, _ = coded
    with tilestream.open(path, model=model) as img:
        with pytest.raises(TilestreamError, match="level -1 is not a whole number >= 0"):
            img.level(-1)
        with pytest.raises(TilestreamError, match="resampling 'cubic' is not one of"):
            img.level(1, resampling="cubic")
