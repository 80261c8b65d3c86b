"""xarray in and out: georeferenced zarr outputs that xarray + rioxarray open, DataArray and
xarray-written zarr inputs whose georeferencing and nodata reach a GeoTIFF that GDAL reads."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zarr

import tilestream
from tests.conftest import cached_model
from tilestream.errors import TilestreamError

rasterio = pytest.importorskip("rasterio")
xr = pytest.importorskip("xarray")
rioxarray = pytest.importorskip("rioxarray")
from rasterio.transform import Affine

SCENE = Path(__file__).resolve().parents[1] / "data" / "rasters" / "landsat8_uint16_3band_256x320.tif"


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("xr")
    model = cached_model("mbt2018-mean")
    tilestream.encode(SCENE, tmp / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp / "c.tsz", tmp / "out.tif", model=model, progress=False)
    return tmp, model


def test_a_georeferenced_zarr_output_opens_with_xarray_and_rioxarray(coded, tmp_path):
    tmp, model = coded
    tilestream.decode(tmp / "c.tsz", tmp_path / "out.zarr", model=model, progress=False)
    tilestream.decode(tmp / "c.tsz", tmp_path / "r.zarr", model=model, region=(30, 100, 50, 150), progress=False)
    ds = xr.open_zarr(tmp_path / "out.zarr", mask_and_scale=False)
    da = ds["image"]
    with rasterio.open(SCENE) as src, rasterio.open(tmp / "out.tif") as tif:
        assert da.rio.crs == src.crs and da.rio.crs.to_epsg() == 32621
        assert Affine(*tuple(da.rio.transform())[:6]).almost_equals(src.transform)
        assert da.dtype == np.uint16 and da.sizes == {"y": 256, "x": 320, "band": 3}
        assert da.rio.nodata == 0
        np.testing.assert_array_equal(da.transpose("band", "y", "x").values, tif.read())
        # pixel-centre coordinates are GDAL's
        assert float(da.x[7]) == pytest.approx(src.xy(0, 7)[0]) and float(da.y[5]) == pytest.approx(src.xy(5, 0)[1])
        region = xr.open_zarr(tmp_path / "r.zarr", mask_and_scale=False)["image"]
        assert Affine(*tuple(region.rio.transform())[:6]).almost_equals(src.transform @ Affine.translation(50, 30))
        np.testing.assert_array_equal(region.values, da.values[30:100, 50:150])
    # the default xarray view masks nodata
    masked = xr.open_zarr(tmp_path / "out.zarr")["image"].values
    holes = (da.values == 0).all(axis=-1)
    assert holes.mean() > 0.3 and np.isnan(masked[holes]).all() and not np.isnan(masked[~holes]).any()


def test_a_zarr_output_without_georeferencing_stays_a_plain_array(tmp_path):
    model = cached_model("mbt2018-mean")
    image = np.random.default_rng(0).integers(0, 255, (64, 96, 3), dtype=np.uint8)
    tilestream.encode(image, tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.zarr", model=model, progress=False)
    assert zarr.open_array(tmp_path / "out.zarr", mode="r").shape == (64, 96, 3)


def test_a_dataarray_input_keeps_georeferencing_and_nodata(coded, tmp_path):
    tmp, model = coded
    da = rioxarray.open_rasterio(SCENE, chunks={"y": 100, "x": 100})  # dask-backed, (band, y, x)
    assert da.rio.nodata == 0
    tilestream.encode(da, tmp_path / "da.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "da.tsz", tmp_path / "da.tif", model=model, progress=False)
    with rasterio.open(SCENE) as src, rasterio.open(tmp_path / "da.tif") as out:
        assert out.crs == src.crs and out.transform.almost_equals(src.transform)
        assert (out.count, out.dtypes[0], out.nodata) == (3, "uint16", 0)
    # the same pixels as coding the file itself (band-first like the DataArray)
    with rasterio.open(tmp_path / "da.tif") as a, rasterio.open(tmp / "out.tif") as b:
        assert a.interleaving.name.upper() == "BAND"
        np.testing.assert_array_equal(a.read(), b.read())


def test_an_xarray_written_zarr_group_is_an_input_with_its_fill_value_as_nodata(coded, tmp_path):
    tmp, model = coded
    da = rioxarray.open_rasterio(SCENE).rename("scene")
    da.encoding.pop("_FillValue", None)
    da.attrs["_FillValue"] = 0
    da.to_dataset().to_zarr(tmp_path / "in.zarr", zarr_format=3, consolidated=False)
    tilestream.encode(tmp_path / "in.zarr", tmp_path / "g.tsz", model=model, block=64, chunk=64, progress=False)
    with tilestream.open(tmp_path / "g.tsz", model=model) as img:
        assert img.pixel_format.nodata == 0 and img.pixel_format.channels == 3
    tilestream.decode(tmp_path / "g.tsz", tmp_path / "g.tif", model=model, progress=False)
    with rasterio.open(SCENE) as src, rasterio.open(tmp_path / "g.tif") as out:
        assert out.crs == src.crs and out.transform.almost_equals(src.transform) and out.nodata == 0
        original, decoded = src.read(), out.read()
    holes = (original == 0).all(axis=0)
    assert ((decoded == 0).all(axis=0) == holes).all()


def test_a_group_of_several_images_is_refused_with_the_names(tmp_path):
    root = zarr.open_group(tmp_path / "two.zarr", mode="w", zarr_format=3)
    root.create_array("a", shape=(64, 64), dtype="uint8")
    root.create_array("b", shape=(64, 64), dtype="uint8")
    with pytest.raises(TilestreamError, match=r"holds 2 image arrays \(a, b\); pass the path of one"):
        tilestream.encode(tmp_path / "two.zarr", tmp_path / "x.tsz", progress=False)


def test_nan_marks_nodata_in_float_rasters_through_tiff_zarr_and_dataarray(tmp_path):
    """GDAL_NODATA "nan" on a real float32 elevation crop: NaN pixels come back as NaN in the
    GeoTIFF (GDAL), in the zarr output (xarray, _FillValue NaN) and from a DataArray input."""
    model = cached_model("mbt2018-mean")
    with rasterio.open(SCENE.parent / "co_elevation_f32_128x160.tif") as src:
        band, profile = src.read(1), src.profile
    band[:40, :50] = np.nan
    band[100:, 130:] = np.nan
    profile.update(nodata=float("nan"))
    with rasterio.open(tmp_path / "nan.tif", "w", **profile) as dst:
        dst.write(band, 1)
    holes = np.isnan(band)
    tilestream.encode(tmp_path / "nan.tif", tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    with tilestream.open(tmp_path / "c.tsz", model=model) as img:
        assert np.isnan(img.pixel_format.nodata)
        lo, hi = img.pixel_format.value_range[0]
    assert (lo, hi) == (float(np.nanmin(band)), float(np.nanmax(band)))
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model=model, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.zarr", model=model, progress=False)
    with rasterio.open(tmp_path / "out.tif") as out:
        decoded = out.read(1)
        assert np.isnan(out.nodata)
    assert (np.isnan(decoded) == holes).all()
    assert (decoded[~holes] >= lo).all() and (decoded[~holes] <= hi).all()
    da = xr.open_zarr(tmp_path / "out.zarr")["image"]
    assert np.isnan(da.rio.encoded_nodata) or np.isnan(da.rio.nodata)
    np.testing.assert_array_equal(np.isnan(da.values), holes)
    tilestream.encode(rioxarray.open_rasterio(tmp_path / "nan.tif"), tmp_path / "da.tsz", model=model, block=64, chunk=64, progress=False)
    with tilestream.open(tmp_path / "da.tsz", model=model) as img:
        assert np.isnan(img.pixel_format.nodata)
