"""The container format: metadata, atomic commit, refusals with clear messages."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import zarr

import tilestream
import tilestream.io.arrays
import tilestream.testing
from tests.conftest import cached_model, photo
from tilestream.container import FORMAT_VERSION, ContainerError, ContainerReader
from tilestream.models.spec import WeightsError


@pytest.fixture
def coded(tmp_path):
    model = cached_model("mbt2018-mean")
    tilestream.encode(photo("cups_190x250.png"), tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    return tmp_path / "c.tsz", model


def test_metadata_records_what_a_decoder_needs(coded):
    path, model = coded
    reader = ContainerReader(str(path))
    attrs = reader.attrs
    # a uint8 photo with a 3-channel model uses no 1.3 addition, but mbt2018-mean's y chunks
    # carry the checksums of the cross-device guard: written as 1.4
    assert attrs["format"] == "tilestream" and attrs["format_version"] == "1.4" and FORMAT_VERSION == "1.5"
    assert "sample_order" not in attrs  # a 1.5 addition of the serial-context families only
    assert attrs["entropy_guard"]["device"] == "cpu" and attrs["entropy_guard"]["torch"]
    assert attrs["complete"] is True
    assert attrs["model"]["name"] == "mbt2018-mean" and len(attrs["model"]["sha256"]) == 64
    assert attrs["image_shape"] == [190, 250] and attrs["padded_shape"] == [192, 256]
    assert attrs["grid_shape"] == [3, 4] and attrs["streams"] == ["z", "y"]
    assert attrs["halos"]["g_a"] == [30, 15] and attrs["padding"] == "replicate-bottom-right"
    total = sum(len(reader.read(s, i, j)) for s in ("z", "y") for i in range(3) for j in range(4))
    assert attrs["stream_bytes"] == total
    # one zarr chunk per latent chunk, no compressor
    meta = json.loads((path / "y" / "zarr.json").read_text())
    assert meta["chunk_grid"]["configuration"]["chunk_shape"] == [1, 1]
    assert not any(c["name"] in ("zstd", "blosc", "gzip") for c in meta["codecs"])
    assert not any(name.startswith("c.tsz.partial") for name in os.listdir(path.parent))


def test_zip_container_round_trips(tmp_path, coded):
    path, model = coded
    tilestream.encode(photo("cups_190x250.png"), tmp_path / "c.zip", model=model, block=64, chunk=64, progress=False)
    assert (tmp_path / "c.zip").is_file()
    a = tilestream.open(tmp_path / "c.zip", model=model)[:, :]
    b = tilestream.open(path, model=model)[:, :]
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("suffix", [".zip", ".tsz"])
def test_overwritten_container_is_not_read_through_stale_handles(tmp_path, suffix):
    # the same path, first a checkerboard container, then a serial-context one
    target = tmp_path / f"again{suffix}"
    first = cached_model("cheng2020-anchor-checkerboard")
    tilestream.encode(photo("cups_190x250.png"), target, model=first, block=64, chunk=64, progress=False)
    tilestream.open(target, model=first)[:, :]  # opens (and caches) the z stream
    second = cached_model("mbt2018")
    tilestream.encode(photo("cups_190x250.png"), target, model=second, block=64, chunk=64, progress=False, overwrite=True)
    tilestream.encode(photo("cups_190x250.png"), tmp_path / "fresh.tsz", model=second, block=64, chunk=64, progress=False)
    np.testing.assert_array_equal(
        tilestream.open(target, model=second)[:, :], tilestream.open(tmp_path / "fresh.tsz", model=second)[:, :]
    )


def test_incomplete_container_is_refused(coded):
    path, _ = coded
    zarr.open_group(str(path), mode="r+").attrs["complete"] = False
    with pytest.raises(ContainerError, match="is incomplete .*encode the image again"):
        ContainerReader(str(path))


@pytest.mark.parametrize("version", ["2.0", "1.6"])
def test_a_newer_format_is_refused(coded, version):
    path, _ = coded
    zarr.open_group(str(path), mode="r+").attrs["format_version"] = version
    with pytest.raises(ContainerError, match=f"uses container format {version}, .*reads formats up to 1.5; upgrade tilestream to a release that reads format {version}"):
        ContainerReader(str(path))


def test_corrupt_chunk_fails_its_checksum_before_decoding(coded):
    path, model = coded
    chunk = path / "y" / "c" / "1" / "2"
    data = bytearray(chunk.read_bytes())
    data[-1] ^= 0xFF
    chunk.write_bytes(bytes(data))
    img = tilestream.open(path, model=model)
    img[0:10, 0:10]  # other chunks still decode
    with pytest.raises(ContainerError, match=r"chunk y\[1, 2\] fails its CRC-32 checksum"):
        img[64:70, 128:140]


def test_other_weights_are_refused(coded):
    path, _ = coded
    other = tilestream.testing.small_model("mbt2018-mean", seed=5)
    with pytest.raises(WeightsError, match="was encoded with weights .* pass the same weights"):
        tilestream.open(path, model=other)


def test_existing_output_needs_overwrite_and_failed_encode_leaves_nothing(tmp_path, coded):
    path, model = coded
    with pytest.raises(tilestream.TilestreamError, match="already exists; pass --overwrite"):
        tilestream.encode(photo("cups_190x250.png"), path, model=model, block=64, chunk=64, progress=False)

    class Failing(tilestream.io.arrays.ArraySource):
        calls = 0

        def _read(self, y0, y1, x0, x1):
            if y1 - y0 > 64:  # a window of g_a (a block and its halo), not the fingerprint's sample
                Failing.calls += 1
                if Failing.calls > 3:
                    raise OSError("disk went away")
            return super()._read(y0, y1, x0, x1)

    out = tmp_path / "half.tsz"
    with pytest.raises(tilestream.TilestreamError, match="OSError: disk went away"):
        tilestream.encode(Failing(photo("cups_190x250.png")), out, model=model, block=64, chunk=64, progress=False)
    assert not out.exists()
    assert not [n for n in os.listdir(tmp_path) if "partial" in n]
