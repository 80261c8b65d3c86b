"""Georeferencing survives encode → decode, read back by GDAL (rasterio) as the independent
reader; a region decode carries the region's own transform."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile

import tilestream
from tests.conftest import cached_model, photo

rasterio = pytest.importorskip("rasterio")
from rasterio.transform import Affine, from_origin  # noqa: E402


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    """A GeoTIFF written by GDAL: a real photo crop as 3 uint16 bands in UTM 33N, nodata 0."""
    tmp = tmp_path_factory.mktemp("geo")
    bands = np.moveaxis(photo("cups_190x250.png").astype(np.uint16) * 100 + 7, -1, 0)
    transform = from_origin(500_000.0, 5_200_000.0, 30.0, 30.0)
    profile = dict(driver="GTiff", width=250, height=190, count=3, dtype="uint16", crs="EPSG:32633",
                   transform=transform, nodata=0, tiled=True, blockxsize=64, blockysize=64)
    with rasterio.open(tmp / "scene.tif", "w", **profile) as dst:
        dst.write(bands)
    model = cached_model("mbt2018-mean")
    tilestream.encode(tmp / "scene.tif", tmp / "scene.tsz", model=model, block=64, chunk=64, progress=False)
    return tmp, model, bands, transform


def test_decoded_geotiff_has_the_sources_crs_transform_dtype_and_bands(scene, tmp_path):
    tmp, model, bands, transform = scene
    tilestream.decode(tmp / "scene.tsz", tmp_path / "out.tif", model=model, progress=False)
    with rasterio.open(tmp / "scene.tif") as src, rasterio.open(tmp_path / "out.tif") as out:
        assert out.crs == src.crs and out.crs.to_epsg() == 32633
        assert out.transform.almost_equals(src.transform)
        assert (out.count, out.dtypes, out.nodata) == (3, ("uint16",) * 3, 0)
        decoded = out.read()
    # the pixels are those of the same bands coded from an array (georeferencing is data only)
    tilestream.encode(np.moveaxis(bands, 0, -1), tmp_path / "plain.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "plain.tsz", tmp_path / "plain.tif", model=model, progress=False)
    np.testing.assert_array_equal(np.moveaxis(decoded, 0, -1), tifffile.imread(tmp_path / "plain.tif"))


def test_a_region_carries_its_own_transform(scene, tmp_path):
    tmp, model, bands, transform = scene
    y0, y1, x0, x1 = 40, 120, 70, 200
    tilestream.decode(tmp / "scene.tsz", tmp_path / "full.tif", model=model, progress=False)
    tilestream.decode(tmp / "scene.tsz", tmp_path / "r.tif", model=model, region=(y0, y1, x0, x1), progress=False)
    with rasterio.open(tmp_path / "r.tif") as r, rasterio.open(tmp_path / "full.tif") as full:
        assert r.transform.almost_equals(transform @ Affine.translation(x0, y0))
        assert r.crs == full.crs
        np.testing.assert_array_equal(r.read(), full.read()[:, y0:y1, x0:x1])
        # the same map coordinates name the same pixels
        assert r.xy(0, 0) == pytest.approx(full.xy(y0, x0))


def test_info_shows_the_crs_and_pixel_size(scene):
    tmp, _, _, _ = scene
    from tilestream.container import ContainerReader

    with ContainerReader(str(tmp / "scene.tsz")) as reader:
        summary = reader.summary()
    assert summary["crs_epsg"] == 32633 and summary["pixel_size"] == (30.0, 30.0)
    assert summary["dtype"] == "uint16" and summary["channels"] == 3


def test_a_model_transformation_moves_with_the_region():
    from tilestream.io.geotiff import for_region

    m = [2.0, 0.5, 0.0, 100.0, 0.25, -3.0, 0.0, 50.0, 0, 0, 0, 0, 0, 0, 0, 1]
    moved = for_region({"34264": m}, 10, 4)["34264"]
    # the region's pixel (0, 0) is the image's (row 10, col 4)
    assert moved[3] == 100.0 + 2.0 * 4 + 0.5 * 10 and moved[7] == 50.0 + 0.25 * 4 - 3.0 * 10


xr = pytest.importorskip("xarray")
pytest.importorskip("rioxarray")


def test_to_xarray_has_pixel_centre_coordinates_crs_and_transform(scene):
    tmp, model, bands, transform = scene
    with tilestream.open(tmp / "scene.tsz", model=model) as img:
        da = img.to_xarray()
        assert da.dims == ("band", "y", "x") and da.shape == bands.shape and da.chunks is not None
        with rasterio.open(tmp / "scene.tif") as src:
            xs, _ = src.xy([0] * 250, list(range(250)))  # centres of row 0
            _, ys = src.xy(list(range(190)), [0] * 190)  # centres of column 0
        np.testing.assert_allclose(da.x.values, xs)
        np.testing.assert_allclose(da.y.values, ys)
        assert da.rio.crs.to_epsg() == 32633 and da.rio.transform().almost_equals(transform)
        np.testing.assert_array_equal(da[:, 50:60, 70:90].values, np.moveaxis(img[50:60, 70:90], -1, 0))


def test_the_xarray_backend_opens_a_container(scene, tmp_path):
    tmp, model, bands, transform = scene
    tilestream.decode(tmp / "scene.tsz", tmp_path / "full.tif", model=model, progress=False)
    full = np.moveaxis(tifffile.imread(tmp_path / "full.tif"), -1, 0)
    ds = xr.open_dataset(tmp / "scene.tsz", engine="tilestream", chunks={}, model=model)
    try:
        image = ds["image"]
        assert image.dims == ("band", "y", "x") and image.chunks is not None
        np.testing.assert_array_equal(image[:, 10:70, 100:180].values, full[:, 10:70, 100:180])
        np.testing.assert_array_equal(image[1, 5, ::7].values, full[1, 5, ::7])
        assert image.rio.crs.to_epsg() == 32633
    finally:
        ds.close()


RASTERS = __import__("pathlib").Path(__file__).resolve().parents[1] / "data" / "rasters"


@pytest.mark.parametrize(
    "name, count, dtype",
    [("landsat7band_128x160.tif", 7, "uint8"), ("srtm90_dem_128x160.tif", 1, "int16"),
     ("landsat8_uint16_3band_256x320.tif", 3, "uint16"),
     ("co_elevation_f32_128x160.tif", 1, "float32")],
)
def test_real_rasters_keep_crs_transform_dtype_bands_and_nodata(tmp_path, name, count, dtype):
    model = cached_model("mbt2018-mean")
    tilestream.encode(RASTERS / name, tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model=model, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "r.tif", model=model, region=(30, 100, 50, 150), progress=False)
    with rasterio.open(RASTERS / name) as src, rasterio.open(tmp_path / "out.tif") as out, rasterio.open(tmp_path / "r.tif") as r:
        assert (out.count, out.dtypes[0]) == (src.count, src.dtypes[0]) == (count, dtype)
        assert out.crs == src.crs and out.transform.almost_equals(src.transform)
        assert out.nodata == src.nodata or (out.nodata is None and src.nodata is None)
        assert r.transform.almost_equals(src.transform @ Affine.translation(50, 30)) and r.crs == src.crs
        original, decoded = src.read().astype(np.float64), out.read().astype(np.float64)
        np.testing.assert_array_equal(r.read(), out.read()[:, 30:100, 50:150])
        if src.nodata is not None:  # nodata pixels come back exactly, no valid pixel becomes nodata
            holes = (original == src.nodata).all(axis=0)
            assert ((decoded == src.nodata).all(axis=0) == holes).all()
    # every band decodes inside its recorded value range (for wider types: the range the
    # statistics pass found, which for a crop this small is the band's exact min / max)
    with tilestream.open(tmp_path / "c.tsz", model=model) as img:
        ranges = np.array(img.pixel_format.value_range)
    nodata = (original == src.nodata).all(axis=0) if src.nodata is not None else np.zeros(original.shape[1:], bool)
    valid, decoded_valid = original[:, ~nodata], decoded[:, ~nodata]
    assert (decoded_valid.min(axis=1) >= ranges[:, 0]).all() and (decoded_valid.max(axis=1) <= ranges[:, 1]).all()
    if dtype != "uint8":
        np.testing.assert_array_equal(ranges, np.stack([valid.min(axis=1), valid.max(axis=1)], 1))


def test_nodata_corners_decode_exactly_and_cost_few_bytes(tmp_path):
    model = cached_model("mbt2018-mean")
    with rasterio.open(RASTERS / "srtm90_dem_128x160.tif") as src:
        dem, profile = src.read(1), src.profile
    dem[:64, :64] = -32768  # a whole block without data, as in a scene footprint's corner
    dem[100:, 120:] = -32768
    profile.update(nodata=-32768)
    with rasterio.open(tmp_path / "dem.tif", "w", **profile) as dst:
        dst.write(dem, 1)
    tilestream.encode(tmp_path / "dem.tif", tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model=model, progress=False)
    with rasterio.open(tmp_path / "out.tif") as out:
        decoded = out.read(1)
        assert out.nodata == -32768 and out.dtypes[0] == "int16"
    holes = dem == -32768
    assert (decoded[holes] == -32768).all() and not (decoded[~holes] == -32768).any()
    from tilestream.container import ContainerReader

    with ContainerReader(str(tmp_path / "c.tsz")) as reader:
        assert reader.pixel_format.nodata == -32768 and reader.pixel_format.value_range[0][0] > -32768
        mask_bytes = sum(len(reader.read("mask", i, j)) for i in range(2) for j in range(3))
        assert len(reader.read("mask", 0, 0)) < 32  # an all-nodata block: a few bytes of mask
    assert mask_bytes < 200


def test_a_scene_footprints_empty_corner_takes_no_model_compute(tmp_path):
    """Real Landsat-8 uint16 bands, 42 % nodata: windows of nothing but nodata skip g_a on
    encode and g_s on decode, with the same bytes and pixels as computing them."""
    from tilestream.execute import constant

    model = cached_model("mbt2018-mean")
    path = RASTERS / "landsat8_uint16_3band_256x320.tif"
    runs = {}
    for enabled in (False, True):
        constant.ENABLED = enabled
        constant.COUNTS.clear()
        try:
            result = tilestream.encode(path, tmp_path / f"{enabled}.tsz", model=model, block=64, chunk=64, progress=False)
            encoded = dict(constant.COUNTS)
            tilestream.decode(tmp_path / f"{enabled}.tsz", tmp_path / f"{enabled}.tif", model=model, progress=False)
        finally:
            constant.ENABLED = True
        decoded = dict(constant.COUNTS)
        runs[enabled] = (result.stream_bytes,
                         tifffile.imread(tmp_path / f"{enabled}.tif"), encoded, decoded)
    assert runs[True][0] == runs[False][0]
    np.testing.assert_array_equal(runs[True][1], runs[False][1])
    with rasterio.open(path) as src:
        holes = (src.read() == 0).all(axis=0)
    grid = holes.reshape(4, 64, 5, 64).all(axis=(1, 3))
    encoded, decoded = runs[True][2], runs[True][3]
    assert encoded.get(("g_a", "constant"), 0) >= 1 and runs[False][2].get(("g_a", "constant"), 0) == 0
    # g_a ran on fewer windows than there are blocks (+1: the small constant image, once)
    assert encoded[("g_a", "computed")] <= 20 - encoded[("g_a", "constant")] + 1
    assert decoded.get(("g_s", "nodata"), 0) - encoded.get(("g_s", "nodata"), 0) == grid.sum() > 0


def test_a_band_interleaved_geotiff_decodes_band_interleaved(tmp_path):
    """GDAL writes a planar (band-interleaved) copy of the real scene; its decode is planar
    too, with the same pixels as the pixel-interleaved decode, for the image and a region."""
    model = cached_model("mbt2018-mean")
    scene = RASTERS / "landsat8_uint16_3band_256x320.tif"
    with rasterio.open(scene) as src:
        profile, bands = src.profile, src.read()
    profile.update(interleave="band", tiled=True, blockxsize=128, blockysize=128)
    with rasterio.open(tmp_path / "planar.tif", "w", **profile) as dst:
        dst.write(bands)
    for name in ("planar", "contig"):
        path = tmp_path / "planar.tif" if name == "planar" else scene
        tilestream.encode(path, tmp_path / f"{name}.tsz", model=model, block=64, chunk=64, progress=False)
        tilestream.decode(tmp_path / f"{name}.tsz", tmp_path / f"{name}-out.tif", model=model, progress=False)
    tilestream.decode(tmp_path / "planar.tsz", tmp_path / "region.tif", model=model, region=(10, 200, 33, 290), progress=False)
    with rasterio.open(tmp_path / "planar-out.tif") as planar, rasterio.open(tmp_path / "contig-out.tif") as contig, \
            rasterio.open(tmp_path / "region.tif") as region:
        assert (planar.interleaving.name.upper(), contig.interleaving.name.upper()) == ("BAND", "PIXEL")
        assert planar.crs == contig.crs and planar.nodata == 0 and planar.dtypes == ("uint16",) * 3
        np.testing.assert_array_equal(planar.read(), contig.read())
        assert region.interleaving.name.upper() == "BAND"
        np.testing.assert_array_equal(region.read(), planar.read()[:, 10:200, 33:290])
