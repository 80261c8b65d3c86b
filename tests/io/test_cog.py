"""Cloud-Optimized GeoTIFF output: GDAL's validator (through rio-cogeo) accepts it, rasterio
reads every level and the source's georeferencing, and each level reduces the one below."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile

import tilestream
from tests.conftest import cached_model, photo
from tilestream.errors import TilestreamError
from tilestream.io.pyramid import level_count

rasterio = pytest.importorskip("rasterio")
cogeo = pytest.importorskip("rio_cogeo.cogeo")

RASTERS = os.path.join(os.path.dirname(__file__), "..", "data", "rasters")


def _levels(path) -> list[np.ndarray]:
    """Every level as GDAL reads it, ``(h, w, C)``."""
    with rasterio.open(path) as src:
        n = len(src.overviews(1))
    out = []
    for k in range(-1, n):
        with rasterio.open(path, **({} if k < 0 else {"OVERVIEW_LEVEL": k})) as src:
            out.append(np.moveaxis(src.read(), 0, -1))
    return out


def _valid(path) -> None:
    ok, errors, warnings = cogeo.cog_validate(str(path), strict=True, quiet=True)
    assert ok and not errors and not warnings, (errors, warnings)


def _check_area_means(levels, nodata=None) -> None:
    """Every level is the area mean of the one below within one grey level (nodata: only
    valid inputs count, and only all-nodata groups are nodata)."""
    for below, here in zip(levels, levels[1:]):
        b = below.astype(np.float64)
        h, w = here.shape[:2]
        pad = np.full((2 * h, 2 * w, b.shape[2]), np.nan)
        pad[: b.shape[0], : b.shape[1]] = b
        if nodata is not None:
            pad[(pad == nodata).all(axis=-1)] = np.nan
        groups = pad.reshape(h, 2, w, 2, -1)
        with np.errstate(invalid="ignore"):
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                mean = np.nanmean(groups, axis=(1, 3))
        empty = np.isnan(mean).all(axis=-1)
        if nodata is not None:
            assert (here[empty] == nodata).all()
        assert np.abs(here[~empty] - mean[~empty]).max() <= 0.5 + 1e-6


def test_a_decoded_photo_is_a_valid_cog_with_overviews(tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    image = np.ascontiguousarray(photo("garden_520x777.png")[:, :, :3])
    kw = dict(model=model, progress=False)
    tilestream.encode(image, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "plain.tif", **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", overviews=True, **kw)  # .tif + overviews: a COG
    _valid(tmp_path / "o.tif")
    levels = _levels(tmp_path / "o.tif")
    assert len(levels) - 1 >= 3 and [lv.shape[:2] for lv in levels] == [(520, 777), (260, 389), (130, 195), (65, 98), (33, 49)]
    assert np.array_equal(levels[0], tifffile.imread(tmp_path / "plain.tif"))  # level 0: the decode itself
    assert levels[0].std() > 10
    _check_area_means(levels)
    with rasterio.open(tmp_path / "o.tif") as src:
        assert src.compression.name == "deflate" and src.block_shapes[0] == (64, 64)


@pytest.mark.parametrize("name", ["landsat8_uint16_3band_256x320.tif", "srtm90_dem_128x160.tif"])
def test_a_georeferenced_scene_keeps_its_crs_transform_and_nodata(name, tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    src_path = os.path.join(RASTERS, name)
    kw = dict(model=model, progress=False)
    tilestream.encode(src_path, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", format="cog", **kw)
    _valid(tmp_path / "o.tif")
    with rasterio.open(src_path) as a, rasterio.open(tmp_path / "o.tif") as b:
        assert a.crs == b.crs and a.transform == b.transform
        assert b.nodata == a.nodata
        nodata = a.nodata
        assert b.dtypes == a.dtypes and len(b.overviews(1)) == level_count(a.shape, 64)  # down to one tile
        assert len(b.overviews(1)) >= (3 if max(a.shape) > 256 else 2)
    levels = _levels(tmp_path / "o.tif")
    _check_area_means(levels, nodata)

    # a region keeps its own georeferencing
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "r.tif", format="cog", region=(32, 96, 64, 160), **kw)
    _valid(tmp_path / "r.tif")
    with rasterio.open(src_path) as a, rasterio.open(tmp_path / "r.tif") as r:
        assert r.shape == (64, 96) and r.crs == a.crs
        assert r.transform == a.transform * a.transform.translation(64, 32)


@pytest.mark.parametrize("compress", ["zstd", "lzw", "jpeg", "none"])
def test_every_compression_reads_back(compress, tmp_path):
    image = np.ascontiguousarray(photo("garden_520x777.png")[:256, :320, :3])
    kw = dict(model=None, progress=False)  # the bundled model: a real picture, which JPEG is made for
    tilestream.encode(image, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "plain.tif", **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", format="cog", compress=compress, **kw)
    _valid(tmp_path / "o.tif")
    level0 = _levels(tmp_path / "o.tif")[0]
    plain = tifffile.imread(tmp_path / "plain.tif")
    if compress == "jpeg":
        assert np.abs(level0.astype(int) - plain).mean() < 4  # lossy, close
    else:
        assert np.array_equal(level0, plain)


def test_what_does_not_fit_says_so(tmp_path):
    model = cached_model("bmshj2018-factorized")
    kw = dict(model=model, progress=False)
    tilestream.encode(os.path.join(RASTERS, "landsat8_uint16_3band_256x320.tif"), tmp_path / "c.tsz", block=64, chunk=64, **kw)
    with pytest.raises(TilestreamError, match="jpeg takes 8-bit images .* use deflate, zstd or lzw"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", format="cog", compress="jpeg", **kw)
    with pytest.raises(TilestreamError, match="--format cog writes a TIFF file: name the output"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", format="cog", **kw)
    with pytest.raises(TilestreamError, match="cannot be resumed"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", format="cog", resume=True, **kw)
    assert sorted(os.listdir(tmp_path)) == ["c.tsz"]  # nothing half-written

    import torch

    torch.save(model.state_dict(), tmp_path / "w.pt")
    cli = [sys.executable, "-m", "tilestream", "decode", str(tmp_path / "c.tsz"), str(tmp_path / "o.tif"), "--checkpoint", str(tmp_path / "w.pt")]
    bad = subprocess.run([*cli, "--format", "cog", "--compress", "jpeg"], capture_output=True, text=True, timeout=300)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "jpeg takes 8-bit" in bad.stderr
