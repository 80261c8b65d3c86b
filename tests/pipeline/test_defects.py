"""Defects found while reshaping the codec contract, each with the case that showed it."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading

import numpy as np
import pytest
import tifffile
import torch

import tilestream
from tests.conftest import cached_model, photo
from tilestream.container import ChunkStore, ContainerReader
from tilestream.container import store as store_module
from tilestream.errors import TilestreamError

UNREACHABLE = "tcp://127.0.0.1:9"  # the discard port: nothing listens there


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("coded")
    model = cached_model("mbt2018-mean")
    torch.save(model.state_dict(), tmp / "weights.pt")  # so that the CLI can decode it too
    tilestream.encode(photo("ladybird_213x317.png"), tmp / "c.tsz", model="mbt2018-mean",
                      checkpoint=tmp / "weights.pt", block=64, chunk=64, progress=False)
    tilestream.decode(tmp / "c.tsz", tmp / "full.tif", model=model, progress=False)
    return tmp / "c.tsz", model, tifffile.imread(tmp / "full.tif")


def _cli(*args, env_caps=False):
    command = [sys.executable, "-m", "tilestream", *map(str, args)]
    if env_caps and os.geteuid() == 0:  # root reads everything: drop the capabilities that let it
        command = ["setpriv", "--bounding-set=-dac_override,-dac_read_search",
                   "--inh-caps=-dac_override,-dac_read_search", "--", *command]
    return subprocess.run(command, capture_output=True, text=True, timeout=300)


def test_encode_with_an_unreachable_scheduler_leaves_nothing_behind(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(TilestreamError, match="cannot reach dask scheduler"):
        tilestream.encode(photo("cups_190x250.png"), out / "c.tsz", model=cached_model("mbt2018-mean"),
                          scheduler=UNREACHABLE, progress=False)
    assert os.listdir(out) == []  # no .partial-* folder


def test_region_decode_honours_the_scheduler(coded, tmp_path):
    path, model, _ = coded
    with pytest.raises(TilestreamError, match="cannot reach dask scheduler"):
        tilestream.decode(path, tmp_path / "r.tif", model=model, region=(0, 64, 0, 64), scheduler=UNREACHABLE)
    assert not list(tmp_path.iterdir())


def test_region_decode_honours_progress_and_num_workers(coded, tmp_path, capfd, monkeypatch):
    path, model, full = coded
    threads: set[int] = set()
    original = ChunkStore.read

    def spy(self, stream, i, j):
        threads.add(threading.get_ident())
        return original(self, stream, i, j)

    monkeypatch.setattr(ChunkStore, "read", spy)
    tilestream.decode(path, tmp_path / "r.tif", model=model, region=(10, 150, 20, 300), progress=True, num_workers=1)
    np.testing.assert_array_equal(tifffile.imread(tmp_path / "r.tif"), full[10:150, 20:300])
    assert "decode region" in capfd.readouterr().err  # the progress bar was shown
    # one worker thread of the local scheduler read every chunk (not this thread)
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_a_cuda_index_this_machine_lacks_is_one_line(monkeypatch, tmp_path):
    from tilestream.cli import main

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(TilestreamError, match=r"'cuda:7' does not exist: this machine has 1 CUDA device"):
        tilestream.pipeline.resolve_device("cuda:7")
    tifffile.imwrite(tmp_path / "in.tif", photo("cups_190x250.png"), photometric="rgb")
    assert main(["encode", str(tmp_path / "in.tif"), str(tmp_path / "c.tsz"), "--device", "cuda:7", "--quiet"]) == 2
    assert not (tmp_path / "c.tsz").exists()


def test_a_container_without_read_permission_says_so(coded, tmp_path):
    copy = tmp_path / "c.tsz"
    shutil.copytree(coded[0], copy)
    os.chmod(copy / "zarr.json", 0)
    result = _cli("info", copy, env_caps=True)
    assert result.returncode == 2
    assert "permission denied" in result.stderr and "not a tilestream container" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_zip_container_without_read_permission_says_so(coded, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "c"), "zip", root_dir=coded[0])
    assert "mbt2018-mean" in _cli("info", archive).stdout  # readable, it is a container
    os.chmod(archive, 0)
    result = _cli("info", archive, env_caps=True)
    assert result.returncode == 2
    assert "permission denied" in result.stderr and "not a tilestream container" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_truncated_chunk_is_one_line_naming_it(coded, tmp_path):
    copy = tmp_path / "c.tsz"
    shutil.copytree(coded[0], copy)
    chunk = copy / "y" / "c" / "1" / "2"
    chunk.write_bytes(chunk.read_bytes()[:5])  # breaks zarr's variable-length framing
    result = _cli("decode", copy, tmp_path / "out.tif", "--quiet", "--checkpoint", coded[0].parent / "weights.pt")
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "chunk y[1, 2] is truncated (5 bytes)" in lines[0]
    assert not (tmp_path / "out.tif").exists()


def test_readers_release_their_handles(coded, tmp_path):
    path, model, full = coded
    tilestream.decode(path, tmp_path / "a.tif", model=model, progress=False)
    assert ChunkStore.cached(str(path)) == 0
    with tilestream.open(path, model=model) as img:
        img[0:10, 0:10]
        assert ChunkStore.cached(str(path)) > 0
    assert ChunkStore.cached(str(path)) == 0
    with ContainerReader(str(path)) as reader:
        reader.read("y", 0, 0)
    assert ChunkStore.cached(str(path)) == 0


def test_the_handle_cache_is_bounded_in_a_long_lived_process(coded, tmp_path, monkeypatch):
    path, model, full = coded
    monkeypatch.setattr(store_module, "_CACHE_SIZE", 3)
    copies = []
    for n in range(5):  # five containers opened and read without closing
        copy = tmp_path / f"c{n}.tsz"
        shutil.copytree(path, copy)
        copies.append(copy)
        img = tilestream.open(copy, model=model)
        np.testing.assert_array_equal(img[0:5, 0:5], full[0:5, 0:5])
    assert ChunkStore.cached() <= 3
