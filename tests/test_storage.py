"""Locations: local paths and fsspec URLs, their options, and a whole job on ``memory://``."""

from __future__ import annotations

import fsspec
import numpy as np
import pytest
import tifffile
import zarr
from hypothesis import given, settings
from hypothesis import strategies as st

import tilestream
from tests.conftest import cached_model, photo
from tilestream.container import ContainerReader
from tilestream.storage import Location, StorageError, parse_storage_options, storage_options_from_env


def test_options_parse_nest_and_take_json_values():
    assert parse_storage_options(["endpoint_url=http://h:9", "anon=true", "client_kwargs.region_name=eu", "n=3"]) == {
        "endpoint_url": "http://h:9", "anon": True, "client_kwargs": {"region_name": "eu"}, "n": 3}
    with pytest.raises(StorageError, match="'anon' is not KEY=VALUE"):
        parse_storage_options(["anon"])


def test_environment_options_must_be_a_json_object(monkeypatch):
    monkeypatch.setenv("TILESTREAM_STORAGE_OPTIONS", '{"anon": true}')
    assert storage_options_from_env() == {"anon": True}
    assert Location.of("s3://b/k").options == {"anon": True}
    assert Location.of("/tmp/x").options == {}  # local paths take no options
    monkeypatch.setenv("TILESTREAM_STORAGE_OPTIONS", "anon=true")
    with pytest.raises(StorageError, match="is not a JSON object"):
        storage_options_from_env()


@settings(deadline=None)
@given(st.dictionaries(st.text("abc", min_size=1, max_size=3), st.one_of(st.integers(), st.text(max_size=4)), max_size=4))
def test_options_survive_freezing(options):
    location = Location.of("memory://x/y", options)
    assert location.options == options
    assert hash(location) == hash(Location.of("memory://x/y", options))


def test_local_and_file_urls_are_plain_paths(tmp_path):
    assert Location.of(f"file://{tmp_path}/a").url == f"{tmp_path}/a"
    assert Location.of(tmp_path / "a").is_local and not Location.of("s3://b/a").is_local
    assert Location.of("s3://b/a").join("y", "c").url == "s3://b/a/y/c"


def test_an_unknown_protocol_is_one_line():
    with pytest.raises(StorageError, match="cannot open storage 'nosuchfs://b/c'.*pass a local path"):
        Location.of("nosuchfs://b/c").fs()


def test_a_whole_job_on_memory_storage_equals_local_files(tmp_path):
    model = cached_model("mbt2018-mean")
    image = photo("cups_190x250.png")
    fs = fsspec.filesystem("memory")
    tifffile.imwrite(tmp_path / "in.tif", image, tile=(64, 64))
    fs.pipe_file("/job/in.tif", (tmp_path / "in.tif").read_bytes())

    tilestream.encode("memory://job/in.tif", "memory://job/c.tsz", model=model, block=64, chunk=64, progress=False)
    tilestream.encode(tmp_path / "in.tif", tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    remote, local = ContainerReader("memory://job/c.tsz"), ContainerReader(tmp_path / "c.tsz")
    chunks = [(s, i, j) for s in ("z", "y") for i in range(3) for j in range(4)]
    assert [remote.read(*c) for c in chunks] == [local.read(*c) for c in chunks]
    assert sum(len(local.read(*c)) > 8 for c in chunks) > len(chunks) // 2

    tilestream.decode("memory://job/c.tsz", "memory://job/d.tif", model=model, progress=False)
    tilestream.decode("memory://job/c.tsz", "memory://job/d.zarr", model=model, progress=False)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "d.tif", model=model, progress=False)
    expected = tifffile.imread(tmp_path / "d.tif")
    with fs.open("/job/d.tif", "rb") as fh:
        assert np.array_equal(tifffile.imread(fh), expected)
    assert np.array_equal(zarr.open_array("memory://job/d.zarr", mode="r")[:], expected)
    assert tilestream.verify("memory://job/c.tsz").ok
    with pytest.raises(tilestream.TilestreamError, match="already exists; pass --overwrite"):
        tilestream.decode("memory://job/c.tsz", "memory://job/d.tif", model=model, progress=False)
