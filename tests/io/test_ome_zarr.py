"""OME-Zarr multiscale output: ome-zarr's reader and ngff-zarr open it with every level and
scale, level 0 is the decode itself, and each level reduces the one below."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr

import tilestream
from tests.conftest import cached_model, photo
from tests.io.test_cog import _check_area_means
from tilestream.errors import TilestreamError
from tilestream.io.pyramid import level_count

ome_reader = pytest.importorskip("ome_zarr.reader")
ngff_zarr = pytest.importorskip("ngff_zarr")
rasterio = pytest.importorskip("rasterio")

RASTERS = os.path.join(os.path.dirname(__file__), "..", "data", "rasters")


def _read_ome(path) -> list[np.ndarray]:
    from ome_zarr.io import parse_url

    nodes = list(ome_reader.Reader(parse_url(str(path)))())
    assert len(nodes) == 1 and [a["name"] for a in nodes[0].metadata["axes"]] == ["c", "y", "x"]
    return [np.moveaxis(np.asarray(level), 0, -1) for level in nodes[0].data]


def test_a_decoded_photo_opens_as_a_multiscale_image(tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    image = np.ascontiguousarray(photo("garden_520x777.png")[:, :, :3])
    kw = dict(model=model, progress=False)
    tilestream.encode(image, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "plain.zarr", **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.ome.zarr", overviews=True, **kw)  # auto: OME-Zarr
    levels = _read_ome(tmp_path / "o.ome.zarr")
    assert len(levels) == 1 + level_count((520, 777), 64) == 5
    assert np.array_equal(levels[0], zarr.open_array(str(tmp_path / "plain.zarr"), mode="r")[:])
    _check_area_means(levels)

    ms = ngff_zarr.from_ngff_zarr(str(tmp_path / "o.ome.zarr"), validate=True)
    assert [im.data.shape for im in ms.images] == [(3, *lv.shape[:2]) for lv in levels]
    assert [im.scale["x"] for im in ms.images] == [1.0, 2.0, 4.0, 8.0, 16.0]
    assert [a.name for a in ms.metadata.axes] == ["c", "y", "x"]


def test_a_georeferenced_scene_keeps_crs_transforms_and_nodata(tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    src_path = os.path.join(RASTERS, "landsat8_uint16_3band_256x320.tif")
    kw = dict(model=model, progress=False)
    tilestream.encode(src_path, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", format="ome-zarr", **kw)
    levels = _read_ome(tmp_path / "o.zarr")
    attrs = json.loads((tmp_path / "o.zarr" / "zarr.json").read_text())["attributes"]
    with rasterio.open(src_path) as src:
        assert attrs["geospatial"]["epsg"] == src.crs.to_epsg() == 32621
        assert rasterio.crs.CRS.from_wkt(attrs["geospatial"]["crs_wkt"]) == src.crs
        for k, gt in enumerate(attrs["geospatial"]["geotransform"]):
            assert rasterio.Affine.from_gdal(*gt) == src.transform * rasterio.Affine.scale(2**k)
        assert attrs["nodata"] == src.nodata == 0
        _check_area_means(levels, src.nodata)
    assert levels[0].dtype == np.uint16 and len(levels) == 4


def test_an_ome_zarr_on_object_storage_opens_only_when_complete(tmp_path):
    import fsspec

    model = cached_model("bmshj2018-factorized")
    kw = dict(model=model, progress=False)
    tilestream.encode(np.ascontiguousarray(photo("garden_520x777.png")[:256, :256, :3]), tmp_path / "c.tsz", block=64, chunk=64, **kw)
    url = f"memory://ome-{os.getpid()}/o.zarr"
    tilestream.decode(tmp_path / "c.tsz", url, format="ome-zarr", **kw)
    group = zarr.open_group(url, mode="r")
    assert sorted(group.array_keys()) == ["0", "1", "2"] and group["2"].shape == (3, 64, 64)
    assert group.attrs["ome"]["multiscales"][0]["datasets"][2]["path"] == "2"
    fsspec.filesystem("memory").rm(url, recursive=True)


def test_what_does_not_fit_says_so(tmp_path):
    model = cached_model("bmshj2018-factorized")
    kw = dict(model=model, progress=False)
    tilestream.encode(np.ascontiguousarray(photo("garden_520x777.png")[:128, :128, :3]), tmp_path / "c.tsz", block=64, chunk=64, **kw)
    with pytest.raises(TilestreamError, match="--format ome-zarr writes a zarr store: name the output without .tif"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", format="ome-zarr", **kw)
    with pytest.raises(TilestreamError, match="use --format ome-zarr"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", format="zarr", overviews=True, **kw)
    assert sorted(os.listdir(tmp_path)) == ["c.tsz"]
