"""Containers written by earlier releases keep decoding, to the same pixels.

``tests/data/containers-1.1`` holds containers written by tilestream 0.1.0 (format 1.1) from
``src.png`` (a 100×150 crop of the ladybird photo; the gray one from its green channel) with
``tilestream.testing.small_model`` weights (seed 0) at block 64, or the bundled default model,
and the images that release decoded from them.

``tests/data/containers-1.3`` holds containers of format 1.3 (the last format without the
cross-device guard's index checksums), written at commit f29bb5c from a 64×96 uint16 crop of
``rasters/landsat8_uint16_3band_256x320.tif`` (rows 150-214, columns 100-196, passed as an
array: square-root transfer curves) with ``small_model`` weights at block 64, and the
SHA-256 of the samples that commit decoded from them.

``tests/data/containers-1.4`` holds serial-context containers (mbt2018, cheng2020-anchor) of
format 1.4, the last whose sheared tiles hold their samples in raster order, written at
commit 2d8f0ef from ``containers-1.1/src.png`` with ``small_model`` weights at block 64, and
the SHA-256 of the samples that commit decoded from them.
"""

from __future__ import annotations

import hashlib
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
#: SHA-256 of the ``(100, 150, 3)`` uint8 samples decoded at commit 2d8f0ef
DECODED_1_4 = {
    "mbt2018": "f045cf178d029df63989489673949c4532e221b2803a5926d9e729a327bd239b",
    "cheng2020-anchor": "07287be2ec94187f50ee0d9b1f016fb4a49b425edbeefd0b5f115125c7101637",
}
#: SHA-256 of the ``(64, 96, 3)`` uint16 samples decoded at commit f29bb5c
DECODED_1_3 = {
    "mbt2018-mean": "5120123183f1bed95d742e6ba26e283fcdb6b4146fe9359ecdd0ad4c549b1708",
    "cheng2020-anchor-checkerboard": "0ed21036828f233de2836d77884cc14a19fbbcfe854ff24f41f12d2216b16fd0",
}


def _model(name):
    if name == "default":
        return None
    model = small_model(name)
    model.update(force=True)
    return model


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
    assert decoded.shape == expected.shape == fmt.image_shape(100, 150)
    np.testing.assert_array_equal(decoded, expected)


@pytest.mark.parametrize("name", ["mbt2018-mean", "cheng2020-anchor-checkerboard"])
def test_format_1_3_containers_decode_to_what_their_commit_decoded(tmp_path, name):
    path = OLD_1_3 / f"{name}-uint16.tsz"
    with ContainerReader(str(path)) as reader:
        assert reader.meta.format_version == "1.3" and not reader.meta.entropy_guard
        assert reader.pixel_format.transfer is not None  # what made it a 1.3 container
    tilestream.decode(path, tmp_path / "out.tif", model=_model(name), progress=False)
    decoded = tifffile.imread(tmp_path / "out.tif")
    assert decoded.shape == (64, 96, 3) and decoded.dtype == np.uint16 and float(decoded.std()) > 50
    assert hashlib.sha256(decoded.tobytes()).hexdigest() == DECODED_1_3[name]


@pytest.mark.parametrize("name", sorted(DECODED_1_4))
def test_format_1_4_raster_order_tiles_decode_to_what_their_commit_decoded(tmp_path, name):
    path = OLD_1_4 / f"{name}.tsz"
    with ContainerReader(str(path)) as reader:
        assert reader.meta.format_version == "1.4" and reader.meta.sample_order == ""
        assert reader.meta.entropy_guard  # its tiles carry the index checksums of raster order
    model = _model(name)
    decoded = tilestream.open(path, model=model)[:, :]
    assert decoded.shape == (100, 150, 3) and float(decoded.std()) > 20
    assert hashlib.sha256(np.ascontiguousarray(decoded).tobytes()).hexdigest() == DECODED_1_4[name]
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
