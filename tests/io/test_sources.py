"""Every kind of source gives the same container, read lazily."""

from __future__ import annotations

import pickle

import dask.array as da
import numpy as np
import pytest
import tifffile
import zarr

import tilestream
from tests.conftest import cached_model, photo
from tilestream.io.base import SourceError
from tilestream.io.open import open_source
from tilestream.testing import container_chunks

IMAGE = "cups_190x250.png"


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ref")
    model = cached_model("bmshj2018-hyperprior")
    tilestream.encode(photo(IMAGE), tmp / "ref.tsz", model=model, block=64, chunk=64, progress=False)
    return container_chunks(tmp / "ref.tsz")


def _sources(tmp):
    image = photo(IMAGE)
    tifffile.imwrite(tmp / "tiled.tif", image, tile=(32, 48), photometric="rgb")
    tifffile.imwrite(tmp / "striped.tif", image, rowsperstrip=7, photometric="rgb")
    tifffile.imwrite(tmp / "big.tif", image, bigtiff=True, tile=(64, 64), photometric="rgb")
    tifffile.imwrite(tmp / "planar.tif", np.moveaxis(image, -1, 0), photometric="rgb", planarconfig="separate")
    yxs = zarr.create_array(str(tmp / "img.zarr"), shape=image.shape, chunks=(50, 60, 3), dtype="uint8")
    yxs[:] = image
    syx = zarr.create_array(str(tmp / "syx.zarr"), shape=(3, *image.shape[:2]), chunks=(3, 40, 40), dtype="uint8")
    syx[:] = np.moveaxis(image, -1, 0)
    return {
        "tiled tiff": tmp / "tiled.tif",
        "striped tiff": tmp / "striped.tif",
        "bigtiff": tmp / "big.tif",
        "planar (SYX) tiff": tmp / "planar.tif",
        "zarr path": tmp / "img.zarr",
        "zarr SYX path": tmp / "syx.zarr",
        "zarr.Array": zarr.open_array(str(tmp / "img.zarr"), mode="r"),
        "numpy": image,
        "numpy SYX": np.ascontiguousarray(np.moveaxis(image, -1, 0)),
        "dask": da.from_array(image, chunks=(64, 64, 3)),
    }


def test_all_sources_give_identical_chunk_bitstreams(tmp_path, reference):
    model = cached_model("bmshj2018-hyperprior")
    for label, source in _sources(tmp_path).items():
        out = tmp_path / f"{label.replace(' ', '_')}.tsz"
        tilestream.encode(source, out, model=model, block=64, chunk=64, progress=False)
        assert container_chunks(out) == reference, label


def test_sources_pickle_small_and_read_windows(tmp_path):
    image = photo(IMAGE)
    for label, obj in _sources(tmp_path).items():
        if label.startswith(("numpy", "dask")):
            continue
        source = open_source(obj)
        blob = pickle.dumps(source)
        assert len(blob) < 10_000, label  # path + options, not pixels
        clone = pickle.loads(blob)
        np.testing.assert_array_equal(clone.read(10, 20, 30, 45), image[10:20, 30:45])
        padded = clone.read_padded(185, 200, 240, 260)
        assert padded.shape == (15, 20, 3)
        np.testing.assert_array_equal(padded[-1, -1], image[-1, -1])  # replicated corner


def test_grayscale_sources_have_one_channel(tmp_path):
    gray = photo("storm_gray_150x201.png")
    tifffile.imwrite(tmp_path / "g.tif", gray)
    source = open_source(tmp_path / "g.tif")
    assert source.channels == 1 and source.shape == gray.shape
    assert source.read(0, 2, 0, 3).shape == (2, 3, 1)


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda p: p / "missing.tif", "does not exist"),
        (lambda p: (p / "notes.txt").write_text("hello") and p / "notes.txt", "neither a TIFF file nor a zarr array"),
        (lambda p: tifffile.imwrite(p / "i64.tif", np.zeros((20, 20), np.int64)) or p / "i64.tif",
         "dtype int64; tilestream codes uint8, uint16, int16, uint32, int32, float32"),
        (lambda p: np.zeros((20, 20), np.complex64), "dtype complex64"),
        (lambda p: np.zeros((20, 20), bool), "dtype bool"),
        (lambda p: tifffile.imwrite(p / "vol.tif", np.zeros((2, 20, 20, 3), np.uint8), photometric="rgb") or p / "vol.tif",
         "select one page or plane first"),
        (lambda p: np.zeros((4, 20, 20, 3), np.uint8), "4 dimensions"),
        (lambda p: np.zeros((20, 5, 20), np.uint8), "no axis is clearly its bands; pass layout="),
        (lambda p: [1, 2, 3], "cannot read an image from list"),
    ],
)
def test_bad_inputs_are_refused_with_advice(tmp_path, make, message):
    with pytest.raises(SourceError, match=message):
        open_source(make(tmp_path))
