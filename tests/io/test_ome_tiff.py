"""Pyramidal OME-TIFF output: tifffile reads it as a multiscale series, level 0 is the
decode itself and each level reduces the one below."""

from __future__ import annotations

import os

import numpy as np
import pytest
import tifffile

import tilestream
from tests.conftest import cached_model, photo
from tests.io.test_cog import _check_area_means
from tilestream.errors import TilestreamError
from tilestream.io.pyramid import level_count

RASTERS = os.path.join(os.path.dirname(__file__), "..", "data", "rasters")


@pytest.mark.parametrize("compress", ["deflate", "jpeg"])
def test_a_slide_decodes_to_a_pyramidal_ome_tiff(compress, tmp_path):
    image = np.ascontiguousarray(photo("garden_520x777.png")[:, :, :3])
    # JPEG is made for natural pictures: the bundled model's decode is one, a random model's is not
    kw = dict(model=cached_model("bmshj2018-hyperprior") if compress == "deflate" else None, progress=False)
    tilestream.encode(image, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "plain.tif", **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.ome.tif", overviews=True, compress=compress, **kw)  # auto: OME-TIFF
    with tifffile.TiffFile(tmp_path / "o.ome.tif") as tif:
        assert tif.is_ome and len(tif.series) == 1
        series = tif.series[0]
        assert len(series.levels) == 1 + level_count((520, 777), 64) == 5
        assert len(tif.pages[0].subifds or []) == 4  # the reduced levels live in SubIFDs
        levels = [lv.asarray() for lv in series.levels]
    assert [lv.shape for lv in levels] == [(520, 777, 3), (260, 389, 3), (130, 195, 3), (65, 98, 3), (33, 49, 3)]
    plain = tifffile.imread(tmp_path / "plain.tif")
    if compress == "deflate":
        assert np.array_equal(levels[0], plain)
        _check_area_means(levels)
    else:  # lossy tiles: close to the decode
        assert np.abs(levels[0].astype(int) - plain).mean() < 3


def test_a_16_bit_scene_with_nodata(tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    src = os.path.join(RASTERS, "landsat8_uint16_3band_256x320.tif")
    kw = dict(model=model, progress=False)
    tilestream.encode(src, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", format="ome-tiff", compress="zstd", **kw)
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        levels = [lv.asarray() for lv in tif.series[0].levels]
    assert len(levels) == 4 and levels[0].dtype == np.uint16
    _check_area_means(levels, nodata=0)
    with pytest.raises(TilestreamError, match="jpeg takes 8-bit images"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "j.tif", format="ome-tiff", compress="jpeg", **kw)
    with pytest.raises(TilestreamError, match="cannot be resumed"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "r.tif", format="ome-tiff", resume=True, **kw)
    assert sorted(os.listdir(tmp_path)) == ["c.tsz", "o.tif"]
