"""Pixel formats: every sample type maps into the model's range and back, per band."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import tilestream
from tests.conftest import cached_model, photo
from tilestream.io.open import open_source
from tilestream.io.stats import fit_value_range
from tilestream.pixels import PixelFormat, PixelFormatError

INTEGER = ["uint8", "uint16", "int16", "uint32", "int32"]


@settings(max_examples=60, deadline=None)
@given(
    dtype=st.sampled_from(INTEGER + ["float32"]),
    channels=st.sampled_from([1, 3]),
    transfer=st.sampled_from(["auto", "linear", "sqrt"]),
    data=st.data(),
)
def test_the_mapping_inverts_exactly_up_to_float32_precision(dtype, channels, transfer, data):
    info = np.iinfo(dtype) if dtype != "float32" else None
    elements = (
        st.integers(int(info.min), int(info.max)) if info is not None
        else st.floats(-1e6, 1e6, allow_nan=False, allow_subnormal=False, width=32)
    )
    array = data.draw(hnp.arrays(dtype, (3, 4, channels), elements=elements))
    fmt = fit_value_range(open_source(array if channels == 3 else array[..., 0]), transfer=transfer)
    assert fmt.dtype == dtype and fmt.channels == channels
    if dtype == "uint8" or transfer == "linear":
        assert fmt.transfer is None
    elif transfer == "sqrt":
        assert fmt.transfer == ("sqrt",) * channels
    x = fmt.to_model(array)
    assert x.shape == (3, 3, 4) and x.dtype == np.float32 and x.min() >= 0 and x.max() <= 1
    back = fmt.from_model(x)
    assert back.dtype == np.dtype(dtype) and back.shape == array.shape
    for c, (lo, hi) in enumerate(fmt.value_range):
        # float32 holds 24 bits of the band's span; integers round to the nearest value
        tolerance = (hi - lo) * 2.0**-22 + (0.5 if info is not None else 0.0)
        assert np.abs(back[..., c].astype(np.float64) - array[..., c].astype(np.float64)).max() <= tolerance
    if dtype == "uint8":  # 8 bits keep the full 0-255 range: exact
        np.testing.assert_array_equal(back, array)


def test_the_range_comes_from_the_data_per_band():
    rng = np.random.default_rng(0)
    bands = np.stack([rng.integers(100, 200, (300, 400)), rng.integers(5000, 9000, (300, 400)),
                      rng.integers(0, 3, (300, 400))], axis=-1).astype(np.uint16)
    fmt = fit_value_range(open_source(bands), windows=4, size=128)
    for (lo, hi), band in zip(fmt.value_range, np.moveaxis(bands, -1, 0)):
        assert band.min() <= lo < hi <= band.max()  # a sample of the band, never wider
    assert fmt.value_range[1][0] >= 5000 and fmt.value_range[2][1] <= 2


def test_float64_is_read_as_float32_with_a_warning():
    with pytest.warns(UserWarning, match="read and decoded as float32"):
        source = open_source(np.zeros((8, 8), np.float64))
    assert source.pixel_format.dtype == "float32" and source.read(0, 2, 0, 2).dtype == np.float32


def test_a_format_needs_one_increasing_range_per_channel():
    with pytest.raises(PixelFormatError, match="one increasing"):
        PixelFormat("uint16", 3, ((0, 1),))
    with pytest.raises(PixelFormatError, match="one increasing"):
        PixelFormat("uint16", 1, ((5, 5),))


@pytest.mark.parametrize("dtype, scale, offset", [("uint16", 200, 1000), ("int16", 10, -1200), ("float32", 0.01, -0.5)])
def test_wide_samples_round_trip_through_the_codec_in_their_own_dtype(tmp_path, dtype, scale, offset):
    # the real photo crop, rescaled into a wide type's range (no RD claim: a round trip)
    image = (photo("cups_190x250.png").astype(np.float64) * scale + offset).astype(dtype)
    tifffile.imwrite(tmp_path / "in.tif", image, photometric="rgb")
    model = cached_model("mbt2018-mean")
    tilestream.encode(tmp_path / "in.tif", tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model=model, progress=False)
    decoded = tifffile.imread(tmp_path / "out.tif")
    assert decoded.dtype == np.dtype(dtype) and decoded.shape == image.shape
    # the same coding as the 8-bit photo: errors scale with the mapping
    tilestream.encode(photo("cups_190x250.png"), tmp_path / "u8.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "u8.tsz", tmp_path / "u8.tif", model=model, progress=False)
    err8 = np.abs(tifffile.imread(tmp_path / "u8.tif").astype(np.float64) - photo("cups_190x250.png")).mean()
    err = np.abs(decoded.astype(np.float64) - image.astype(np.float64)).mean() / scale
    assert err == pytest.approx(err8, rel=0.25)
    with tilestream.open(tmp_path / "c.tsz", model=model) as img:
        assert img.dtype == np.dtype(dtype)
        np.testing.assert_array_equal(img[10:40, 20:90], decoded[10:40, 20:90])


def _bands(image: np.ndarray, dtype: str) -> np.ndarray:
    """Seven bands built from a real photo crop (no RD claim: a round trip)."""
    p = image.astype(np.int64)
    return np.concatenate([p * 200, p[..., ::-1] * 100 + 500, p[..., :1] * 50], axis=-1).astype(dtype)


@pytest.mark.parametrize("count, dtype", [(7, "uint16"), (4, "uint8"), (2, "int16")])
def test_more_than_three_bands_are_coded_in_groups_each_like_alone(tmp_path, count, dtype):
    model = cached_model("mbt2018-mean")
    image = _bands(photo("cups_190x250.png"), "int64")[..., :count]
    image = (image % 256 if dtype == "uint8" else image).astype(dtype)
    tifffile.imwrite(tmp_path / "in.tif", np.moveaxis(image, -1, 0), photometric="minisblack", planarconfig="separate")
    tilestream.encode(tmp_path / "in.tif", tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model=model, progress=False)
    decoded = tifffile.imread(tmp_path / "out.tif")  # band-interleaved like its source
    assert decoded.shape == (count, *image.shape[:2]) and decoded.dtype == image.dtype
    decoded = np.moveaxis(decoded, 0, -1)
    with tilestream.open(tmp_path / "c.tsz", model=model) as img:
        groups = img.pixel_format.band_groups()
        assert len(groups) == -(-count // 3)
        prefixes = [""] if len(groups) == 1 else [f"b{k}/" for k in range(len(groups))]
        assert img.meta.streams == tuple(p + s for p in prefixes for s in ("z", "y"))
        np.testing.assert_array_equal(img[30:100, 40:200], decoded[30:100, 40:200])
        ranges = img.pixel_format.value_range
    # each group decodes exactly as that group coded on its own (the image is smaller than
    # the statistics sample, so every band's range is its exact min / max either way)
    for bands in groups:
        sub = image[..., list(bands)]
        source = open_source(sub if len(bands) > 1 else sub[..., 0], layout="YXS" if len(bands) > 1 else None)
        assert fit_value_range(source).value_range == tuple(ranges[b] for b in bands)
        tilestream.encode(source, tmp_path / "g.tsz", model=model, block=64, chunk=64, progress=False, overwrite=True)
        tilestream.decode(tmp_path / "g.tsz", tmp_path / "g.tif", model=model, progress=False, overwrite=True)
        alone = tifffile.imread(tmp_path / "g.tif").reshape(*image.shape[:2], len(bands))
        np.testing.assert_array_equal(decoded[..., list(bands)], alone)


def test_zarr_output_keeps_a_band_first_layout_and_names_its_axes(tmp_path):
    import zarr

    model = cached_model("mbt2018-mean")
    image = np.moveaxis(_bands(photo("cups_190x250.png"), "uint16")[..., :5], -1, 0)  # (5, H, W)
    tilestream.encode(image, tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.zarr", model=model, progress=False)
    out = zarr.open_array(str(tmp_path / "out.zarr"), mode="r")
    assert out.shape == image.shape and out.dtype == image.dtype
    assert tuple(out.metadata.dimension_names) == ("band", "y", "x")
    # a zarr array naming its axes is read in that order, even when the shape is ambiguous
    named = zarr.create_array(str(tmp_path / "named.zarr"), shape=(20, 5, 20), dtype="uint8", dimension_names=("y", "band", "x"))
    with pytest.raises(tilestream.TilestreamError, match="axes 'YSX'"):
        open_source(named)
    ok = zarr.create_array(str(tmp_path / "ok.zarr"), shape=(20, 20, 5), dtype="uint8", dimension_names=("band", "y", "x"))
    assert open_source(ok).layout == "SYX"


@settings(max_examples=60, deadline=None)
@given(dtype=st.sampled_from(INTEGER + ["float32"]), channels=st.integers(1, 5), data=st.data())
def test_nodata_pixels_restore_exactly_and_no_valid_pixel_becomes_nodata(dtype, channels, data):
    info = np.iinfo(dtype) if dtype != "float32" else None
    nodata = float(info.min) if info is not None else -9999.0
    elements = (
        st.integers(int(info.min), int(info.max)) if info is not None
        else st.floats(-1e4, 1e4, allow_subnormal=False, width=32)
    )
    array = data.draw(hnp.arrays(dtype, (4, 5, channels), elements=elements))
    holes = data.draw(hnp.arrays(bool, (4, 5)))
    array[holes] = nodata
    source = open_source(array, layout="YXS")
    fmt = fit_value_range(source, source.pixel_format.with_nodata(nodata), transfer=data.draw(st.sampled_from(["linear", "sqrt"])))
    mask = fmt.mask(array)
    np.testing.assert_array_equal(mask, holes | (array == np.asarray(nodata, dtype)).all(axis=-1))
    for bands in fmt.band_groups():  # decode each group as the codec would, then restore
        sub = fmt.group(bands)
        x = sub.to_model(array[..., list(bands)])
        assert np.isfinite(x).all() and x.min() >= 0 and x.max() <= 1
        if mask.any() and not mask.all():  # holes hold the band's fill, not the nodata value
            lo, hi = np.array(sub.value_range).T
            expected = (np.array(sub.fill).astype(dtype).astype(np.float64) - lo) / (hi - lo)
            if sub.transfer is not None:
                expected = np.where(np.array(sub.transfer) == "sqrt", np.sqrt(expected), expected)
            np.testing.assert_allclose(x[: len(bands), mask].T, np.broadcast_to(expected, (mask.sum(), len(bands))), atol=1e-5)
    decoded = np.concatenate([fmt.group(b).from_model(fmt.group(b).to_model(array[..., list(b)])) for b in fmt.band_groups()], -1)
    restored = fmt.restore(decoded, mask)
    assert (restored[mask] == np.asarray(nodata, dtype)).all()
    assert not (restored[~mask] == np.asarray(nodata, dtype)).all(axis=-1).any()


def test_a_nodata_value_the_type_cannot_hold_is_refused():
    with pytest.raises(PixelFormatError, match="nodata -1 is not a value of uint8"):
        PixelFormat.for_samples("uint8", 1).with_nodata(-1)


@pytest.mark.parametrize(
    "bands, model_channels, groups",
    [
        (3, 3, [(0, 1, 2)]),
        (7, 3, [(0, 1, 2), (3, 4, 5), (6,)]),
        (4, 4, [(0, 1, 2, 3)]),
        (7, 4, [(0, 1, 2, 3), (4, 5, 6)]),  # the last group repeats band 6: (4, 5, 6, 6)
        (1, 4, [(0,)]),
        (5, 1, [(0,), (1,), (2,), (3,), (4,)]),
    ],
)
def test_bands_are_grouped_by_the_models_input_channels(bands, model_channels, groups):
    fmt = PixelFormat.for_samples("uint16", bands).with_model_channels(model_channels)
    assert fmt.band_groups() == groups
    assert fmt.group(groups[-1]).model_channels == model_channels  # a group keeps the size
    assert fmt.with_ranges([(0.0, 9.0)] * bands).with_nodata(0).model_channels == model_channels


def test_a_c_channel_mapping_repeats_the_last_band_and_restores_its_mean():
    image = photo("cups_190x250.png")[:20, :30]
    fmt = PixelFormat.for_samples("uint8", 3).with_model_channels(4)
    x = fmt.to_model(image)
    assert x.shape == (4, 20, 30) and x.dtype == np.float32
    np.testing.assert_array_equal(x[3], x[2])
    np.testing.assert_array_equal(x[:3], image.transpose(2, 0, 1).astype(np.float32) / 255)  # same [0, 1] mapping
    np.testing.assert_array_equal(fmt.from_model(x), image)
    with pytest.raises(PixelFormatError, match="model output has 3 channels, but this pixel format expects 4"):
        fmt.from_model(x[:3])
    with pytest.raises(PixelFormatError, match="5 bands are coded in groups of 4"):
        PixelFormat.for_samples("uint8", 5).with_model_channels(4).to_model(np.zeros((2, 2, 5), np.uint8))


def test_the_record_keeps_the_group_size_and_older_records_mean_three():
    fmt = PixelFormat.for_samples("int16", 7).with_model_channels(4)
    assert PixelFormat.from_attrs(fmt.to_attrs()) == fmt
    older = {k: v for k, v in fmt.to_attrs().items() if k != "model_channels"}  # 1.2 before C-channel models
    assert PixelFormat.from_attrs(older).band_groups() == [(0, 1, 2), (3, 4, 5), (6,)]
    with pytest.raises(PixelFormatError, match="model channels 0 must be an integer >= 1"):
        PixelFormat.for_samples("uint8", 3).with_model_channels(0)


@settings(max_examples=8, deadline=None)
@given(
    dtype=st.sampled_from(INTEGER + ["float32"]),
    channels=st.integers(1, 5),
    layout=st.sampled_from(["YXS", "SYX"]),
    data=st.data(),
)
def test_the_codec_round_trips_any_type_bands_layout_and_nodata(dtype, channels, layout, data):
    """End to end on small arrays: the decoded image has the source's dtype, bands and axis
    order; nodata comes back exactly, no valid pixel becomes nodata, valid pixels stay in
    their band's value range."""
    import tempfile
    from pathlib import Path

    h = data.draw(st.integers(40, 90), label="height")
    w = data.draw(st.integers(40, 90), label="width")
    base = photo("garden_520x777.png")[:h, :w].astype(np.float64)  # real texture, scaled per type
    info = np.iinfo(dtype) if dtype != "float32" else None
    lo = float(info.min) + 1 if info is not None else -500.0
    span = min(float(info.max) - lo, 60000.0) if info is not None else 3000.0
    bands = np.stack([base[..., c % 3] for c in range(channels)], axis=-1) / 255.0 * span + lo
    image = bands.astype(dtype)
    nodata = float(info.min) if info is not None else -9999.0
    y0, x0 = data.draw(st.integers(0, h - 1), label="hole y"), data.draw(st.integers(0, w - 1), label="hole x")
    holes = np.zeros((h, w), bool)
    holes[y0:, x0:] = True
    image[holes] = nodata
    if channels == 1:
        layout = "YX"
    stored = np.moveaxis(image, -1, 0) if layout == "SYX" else image[..., 0] if layout == "YX" else image
    model = cached_model("mbt2018-mean")
    with tempfile.TemporaryDirectory() as tmp:
        source = open_source(stored, layout=layout)
        tilestream.encode(source, Path(tmp) / "c.tsz", model=model, block=64, chunk=64, nodata=nodata, progress=False)
        tilestream.decode(Path(tmp) / "c.tsz", Path(tmp) / "out.zarr", model=model, progress=False)
        import zarr

        out = zarr.open_array(str(Path(tmp) / "out.zarr"), mode="r")[...]
        with tilestream.open(Path(tmp) / "c.tsz", model=model) as img:
            ranges = np.array(img.pixel_format.value_range)
    assert out.dtype == np.dtype(dtype) and out.shape == stored.shape
    decoded = (np.moveaxis(out, 0, -1) if layout == "SYX" and channels > 1 else out).reshape(h, w, channels)
    assert (decoded[holes] == np.asarray(nodata, dtype)).all()
    valid = decoded[~holes].astype(np.float64)
    assert not (valid == nodata).all(axis=-1).any()
    original = image[~holes].astype(np.float64)
    if len(original):
        # the recorded ranges: uint8's 0-255, the valid data's own min / max for wider types
        if dtype != "uint8":
            np.testing.assert_array_equal(ranges, np.stack([original.min(axis=0), original.max(axis=0)], 1))
        slack = 1e-6 * span if dtype == "float32" else 0.0  # float32 rounding of lo + x·span
        assert (valid.min(axis=0) >= ranges[:, 0] - slack).all() and (valid.max(axis=0) <= ranges[:, 1] + slack).all()


def test_the_statistics_pass_picks_a_square_root_for_bands_crowded_at_the_bottom():
    """Real data: Landsat-8 reflectances (a few bright pixels far above the bulk) get a square
    root, a DEM and float32 elevations stay linear; the choice is recorded and inverted."""
    from pathlib import Path

    rasters = Path(__file__).resolve().parent / "data" / "rasters"
    scene = open_source(rasters / "landsat8_uint16_3band_256x320.tif")
    fmt = fit_value_range(scene)
    pixels = scene.read(0, 256, 0, 320)
    valid = ~fmt.mask(pixels)
    for c, (lo, hi) in enumerate(fmt.value_range):
        share = (np.median(pixels[valid][:, c]) - lo) / (hi - lo)
        if abs(share - 0.2) > 0.01:  # the pass takes the median of a subsample
            assert (fmt.transfer or ("linear",) * 3)[c] == ("sqrt" if share < 0.2 else "linear")
    assert fmt.transfer is not None and "sqrt" in fmt.transfer
    assert PixelFormat.from_attrs(fmt.to_attrs()) == fmt
    for name in ("srtm90_dem_128x160.tif", "co_elevation_f32_128x160.tif"):
        assert fit_value_range(open_source(rasters / name)).transfer is None
    # a square root spreads the crowded band over more of the model's input
    x_auto = fmt.to_model(pixels)[:, valid]
    x_linear = fmt.with_transfer(None).to_model(pixels)[:, valid]
    curved = [c for c, t in enumerate(fmt.transfer) if t == "sqrt"]
    assert all(np.percentile(x_auto[c], 99) - np.percentile(x_auto[c], 1)
               > 1.1 * (np.percentile(x_linear[c], 99) - np.percentile(x_linear[c], 1)) for c in curved)


@pytest.mark.parametrize("dtype", ["complex64", "bool", "int64", "uint64", "float16"])
def test_unsupported_sample_types_are_refused_in_one_line_naming_the_fix(dtype):
    with pytest.raises(tilestream.TilestreamError) as info:
        open_source(np.zeros((8, 8), dtype))
    message = str(info.value)
    assert "\n" not in message and f"dtype {dtype}" in message and "convert" in message


def test_nan_is_a_nodata_value_of_float_samples_only():
    fmt = PixelFormat.for_samples("float32", 2).with_nodata(float("nan"))
    pixels = np.array([[[np.nan, np.nan], [1.0, np.nan], [2.0, 3.0]]], np.float32)
    np.testing.assert_array_equal(fmt.mask(pixels), [[True, False, False]])
    back = PixelFormat.from_attrs(__import__("json").loads(__import__("json").dumps(fmt.to_attrs())))
    assert np.isnan(back.nodata) and back.dtype == "float32"
    with pytest.raises(PixelFormatError, match="nodata nan is not a value of uint16 samples"):
        PixelFormat.for_samples("uint16", 1).with_nodata(float("nan"))
