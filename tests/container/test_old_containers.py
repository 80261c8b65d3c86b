"""Containers written by earlier releases keep decoding, to the same pixels.

``tests/data/containers-1.1`` holds containers written by tilestream 0.1.0 (format 1.1,
commit 9dd05ae) from ``src.png`` (a 100×150 crop of the ladybird photo; the gray one from
its green channel) at block 64, and the images that release decoded from them.

``tests/data/containers-1.3`` holds containers of format 1.3 (the last format without the
cross-device guard's index checksums), written at commit f29bb5c from a 64×96 uint16 crop of
``rasters/landsat8_uint16_3band_256x320.tif`` (rows 150-214, columns 100-196, passed as an
array: square-root transfer curves) at block 64, and the samples that commit decoded.

``tests/data/containers-1.4`` holds serial-context containers (mbt2018, cheng2020-anchor) of
format 1.4, the last whose sheared tiles hold their samples in raster order, written at
commit 2d8f0ef from ``containers-1.1/src.png`` at block 64, and what that commit decoded.

The small models' weights (``small_model(NAME)``, seed 0, updated) are in
``tests/data/models``: measured afresh, their rescaled layers differ by an ulp from one CPU
to the next, and a container refuses other weights. Decoded pixels are compared up to the
float arithmetic of ``g_s`` on the CPU that runs the test (:func:`assert_decodes_like`).
"""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import tifffile
from PIL import Image

import tilestream
from tests.conftest import DATA
from tilestream.container import ContainerReader
from tilestream.testing import small_model

OLD = DATA / "containers-1.1"
OLD_1_3 = DATA / "containers-1.3"
OLD_1_4 = DATA / "containers-1.4"
MODELS = DATA / "models"
#: the serial-context containers of format 1.4
SERIAL_1_4 = ("cheng2020-anchor", "mbt2018")


def assert_decodes_like(decoded: np.ndarray, expected: np.ndarray) -> None:
    """``decoded`` is what the release decoded, up to the float arithmetic of ``g_s`` on
    this CPU (its vector unit and threads): the same shape and type, no sample off by more
    than one step, and all but a handful of samples identical. Entropy decoding is exact
    (a different ``ŷ`` would be far off everywhere, or refused by the index checksums)."""
    assert decoded.shape == expected.shape and decoded.dtype == expected.dtype
    diff = np.abs(decoded.astype(np.int64) - expected.astype(np.int64))
    assert int(diff.max()) <= 1, f"{int((diff > 1).sum())} samples off by more than one step"
    assert float((diff > 0).mean()) < 0.01


def _model(name):
    """The weights the fixtures were written with (``small_model(name)``, updated, its state
    dict kept in ``tests/data/models``): the same bits on every CPU."""
    if name == "default":
        return None
    return small_model(name, state=dict(np.load(MODELS / f"{name}.npz")))


@pytest.mark.parametrize(
    "container, name",
    [
        ("mbt2018-mean.tsz", "mbt2018-mean"),
        ("cheng2020-anchor-checkerboard.tsz", "cheng2020-anchor-checkerboard"),
        ("mbt2018.tsz", "mbt2018"),
        ("default-q1-gray.tsz.zip", "default"),
    ],
)
def test_format_1_1_containers_decode_to_what_their_release_decoded(tmp_path, container, name):
    path = OLD / container
    with ContainerReader(str(path)) as reader:
        assert reader.meta.format_version == "1.1" and not reader.meta.pixel_format
        fmt = reader.pixel_format  # derived from the 1.1 fields
    model = _model(name)
    tilestream.decode(path, tmp_path / "out.tif", model=model, progress=False)
    expected = np.asarray(Image.open(OLD / container.replace(".tsz.zip", ".decoded.png").replace(".tsz", ".decoded.png")))
    decoded = tifffile.imread(tmp_path / "out.tif")
    assert decoded.shape == fmt.image_shape(100, 150)
    assert_decodes_like(decoded, expected)


@pytest.mark.parametrize("name", ["mbt2018-mean", "cheng2020-anchor-checkerboard"])
def test_format_1_3_containers_decode_to_what_their_commit_decoded(tmp_path, name):
    path = OLD_1_3 / f"{name}-uint16.tsz"
    with ContainerReader(str(path)) as reader:
        assert reader.meta.format_version == "1.3" and not reader.meta.entropy_guard
        assert reader.pixel_format.transfer is not None  # what made it a 1.3 container
    tilestream.decode(path, tmp_path / "out.tif", model=_model(name), progress=False)
    decoded = tifffile.imread(tmp_path / "out.tif")
    assert decoded.shape == (64, 96, 3) and decoded.dtype == np.uint16 and float(decoded.std()) > 50
    assert_decodes_like(decoded, np.load(OLD_1_3 / f"{name}-uint16.decoded.npy"))


@pytest.mark.parametrize("name", SERIAL_1_4)
def test_format_1_4_raster_order_tiles_decode_to_what_their_commit_decoded(tmp_path, name):
    path = OLD_1_4 / f"{name}.tsz"
    with ContainerReader(str(path)) as reader:
        assert reader.meta.format_version == "1.4" and reader.meta.sample_order == "raster"
        assert reader.meta.entropy_guard  # its tiles carry the index checksums of raster order
    model = _model(name)
    decoded = tilestream.open(path, model=model)[:, :]
    assert decoded.shape == (100, 150, 3) and float(decoded.std()) > 20
    assert_decodes_like(np.ascontiguousarray(decoded), np.asarray(Image.open(OLD_1_4 / f"{name}.decoded.png")))
    # and a region, through the same raster-order tiles
    assert np.array_equal(tilestream.open(path, model=model)[30:90, 40:130], decoded[30:90, 40:130])


@pytest.mark.parametrize("name", ["mbt2018-mean", "cheng2020-anchor-checkerboard"])
def test_todays_encoder_writes_the_same_chunks_as_the_1_1_release(tmp_path, name):
    # plus, in format 1.4, the 4-byte checksum of each y chunk's CDF index map before its
    # rANS bytes (the cross-device guard); z chunks are unchanged
    source = np.asarray(Image.open(OLD / "src.png"))
    model = _model(name)
    tilestream.encode(source, tmp_path / "new.tsz", model=model, block=64, chunk=64, progress=False)
    with ContainerReader(str(OLD / f"{name}.tsz")) as old, ContainerReader(str(tmp_path / "new.tsz")) as new:
        assert old.meta.streams == new.meta.streams and new.meta.format_version == "1.4"
        rows, cols = old.meta.grid_shape
        for stream in old.meta.streams:
            shape = old.meta.stream_grids.get(stream, (rows, cols))
            guard = 0 if stream == "z" else 4
            for i in range(shape[0]):
                for j in range(shape[1]):
                    assert old.read(stream, i, j) == new.read(stream, i, j)[guard:], (stream, i, j)


def test_a_newer_major_format_is_refused_naming_the_fix(tmp_path):
    import json

    copy = tmp_path / "c.tsz"
    shutil.copytree(OLD / "mbt2018-mean.tsz", copy)
    meta = json.loads((copy / "zarr.json").read_text())
    meta["attributes"]["format_version"] = "2.0"
    (copy / "zarr.json").write_text(json.dumps(meta))
    expected = "uses container format 2.0, but this tilestream reads formats up to 1.5; upgrade tilestream to a release that reads format 2.0"
    with pytest.raises(tilestream.TilestreamError, match=expected):
        ContainerReader(str(copy))
