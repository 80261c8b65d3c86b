"""tilestream encode / decode / info as a user runs them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tifffile
import torch
import zarr

from tests.conftest import cached_model, photo
from tilestream.cli import main


def run(*args, cwd=None):
    return subprocess.run(
        [sys.executable, "-m", "tilestream", *map(str, args)],
        capture_output=True, text=True, timeout=600, cwd=cwd,
    )


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cli")
    model = cached_model("bmshj2018-hyperprior")
    torch.save({"state_dict": model.state_dict()}, tmp / "ck.pt")
    image = photo("ladybird_213x317.png")
    tifffile.imwrite(tmp / "in.tif", image, tile=(64, 64), photometric="rgb")
    return tmp, image


def test_encode_decode_info_round_trip(setup):
    tmp, image = setup
    enc = run("encode", tmp / "in.tif", tmp / "c.tsz", "--model", "bmshj2018-hyperprior",
              "--checkpoint", tmp / "ck.pt", "--block", "64", "--chunk", "64", "--quiet")
    assert enc.returncode == 0, enc.stderr
    dec = run("decode", tmp / "c.tsz", tmp / "out.tif", "--checkpoint", tmp / "ck.pt", "--quiet")
    assert dec.returncode == 0, dec.stderr
    with tifffile.TiffFile(tmp / "out.tif") as tif:
        page = tif.pages[0]
        assert tif.is_bigtiff and page.is_tiled and page.shape == image.shape
        full = page.asarray()
    region = run("decode", tmp / "c.tsz", tmp / "region.zarr", "--checkpoint", tmp / "ck.pt",
                 "--region", "100:150,30:300", "--quiet")
    assert region.returncode == 0, region.stderr
    np.testing.assert_array_equal(zarr.open_array(str(tmp / "region.zarr"), mode="r")[:], full[100:150, 30:300])
    # a region larger than one block, into a tiled TIFF
    assert main(["decode", str(tmp / "c.tsz"), str(tmp / "region.tif"), "--checkpoint", str(tmp / "ck.pt"),
                 "--region", "10:200,5:250", "--quiet"]) == 0
    np.testing.assert_array_equal(tifffile.imread(tmp / "region.tif"), full[10:200, 5:250])
    info = run("info", tmp / "c.tsz", "--json")
    assert info.returncode == 0, info.stderr
    report = json.loads(info.stdout)
    assert report["shape"] == [213, 317, 3] and report["chunk_grid"] == [4, 5]
    assert report["model"]["name"] == "bmshj2018-hyperprior" and report["bytes"] > 0
    assert report["format_version"].startswith("1.")
    text = run("info", tmp / "c.tsz")
    assert "bpp" in text.stdout and "sha256" in text.stdout


def test_progress_messages_and_no_warnings(setup):
    tmp, _ = setup
    enc = run("encode", tmp / "in.tif", tmp / "p.tsz", "--model", "bmshj2018-hyperprior",
              "--checkpoint", tmp / "ck.pt", "--block", "128")
    assert enc.returncode == 0
    assert "bpp" in enc.stdout and enc.stderr == ""  # no bar when stderr is not a terminal


@pytest.mark.parametrize(
    "args, message",
    [
        (("encode", "{tmp}/missing.tif", "{tmp}/x.tsz", "--model", "bmshj2018-hyperprior", "--checkpoint", "{tmp}/ck.pt"),
         "does not exist"),
        (("encode", "{tmp}/ck.pt", "{tmp}/x.tsz", "--model", "bmshj2018-hyperprior", "--checkpoint", "{tmp}/ck.pt"),
         "neither a TIFF file nor a zarr array"),
        (("encode", "{tmp}/i64.tif", "{tmp}/x.tsz", "--model", "bmshj2018-hyperprior", "--checkpoint", "{tmp}/ck.pt"),
         "dtype int64; tilestream codes uint8, uint16"),
        (("encode", "{tmp}/in.tif", "{tmp}/x.tsz", "--model", "nonsense", "--checkpoint", "{tmp}/ck.pt"),
         "unknown model 'nonsense'"),
        (("encode", "{tmp}/in.tif", "{tmp}/x.tsz", "--model", "mbt2018-mean", "--checkpoint", "{tmp}/ck.pt"),
         "does not fit the architecture mbt2018-mean"),
        (("encode", "{tmp}/in.tif", "{tmp}/x.tsz", "--model", "bmshj2018-hyperprior", "--checkpoint", "{tmp}/ck.pt", "--block", "100"),
         "block 100 px is not a positive multiple of 64"),
        (("encode", "{tmp}/in.tif", "{tmp}/in.tif", "--model", "bmshj2018-hyperprior", "--checkpoint", "{tmp}/ck.pt"),
         "already exists; pass --overwrite"),
        (("encode", "{tmp}/in.tif", "{tmp}/x.tsz", "--model", "bmshj2018-hyperprior"),
         "pass --checkpoint PATH or --pretrained"),
        (("decode", "{tmp}/newer.tsz", "{tmp}/x.tif", "--checkpoint", "{tmp}/ck.pt"),
         "uses container format 9.0"),
        (("decode", "{tmp}/in.tif", "{tmp}/x.tif", "--checkpoint", "{tmp}/ck.pt"),
         "is not a tilestream container"),
        (("decode", "{tmp}/newer.tsz", "{tmp}/x.tif", "--region", "5:1,0:3"), "uses container format 9.0"),
        (("encode", "{tmp}/in.tif", "{tmp}/x.tsz", "--model", "bmshj2018-hyperprior", "--checkpoint", "{tmp}/ck.pt", "--device", "cuda:7"),
         "CUDA is not available" if not torch.cuda.is_available() else "device"),
    ],
)
def test_user_errors_print_one_line_exit_2_and_write_nothing(setup, args, message, capsys):
    # in-process (the same main() the console script runs) to keep the suite fast; the
    # subprocess tests above and in test_cli.py cover the real entry point
    tmp, _ = setup
    tifffile.imwrite(tmp / "i64.tif", np.zeros((20, 20), np.int64))
    if not (tmp / "newer.tsz").exists():
        enc = run("encode", tmp / "in.tif", tmp / "newer.tsz", "--model", "bmshj2018-hyperprior",
                  "--checkpoint", tmp / "ck.pt", "--block", "128", "--quiet")
        assert enc.returncode == 0, enc.stderr
        zarr.open_group(str(tmp / "newer.tsz"), mode="r+").attrs["format_version"] = "9.0"
    before = set(os.listdir(tmp))
    capsys.readouterr()
    status = main([a.format(tmp=tmp) for a in args])
    err = capsys.readouterr().err
    assert status == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert message in lines[0] and "Traceback" not in err
    assert set(os.listdir(tmp)) == before  # nothing half-written


@pytest.mark.parametrize(
    "name, streams",
    [("cheng2020-anchor-checkerboard", ["z", "y/phase-0", "y/phase-1"]), ("mbt2018", ["z", "y"])],
)
def test_context_model_info_shows_the_phases(tmp_path, name, streams):
    model = cached_model(name)
    torch.save(model.state_dict(), tmp_path / "ck.pt")
    image = photo("cups_190x250.png")
    tifffile.imwrite(tmp_path / "in.tif", image, photometric="rgb")
    enc = run("encode", tmp_path / "in.tif", tmp_path / "c.tsz", "--model", name,
              "--checkpoint", tmp_path / "ck.pt", "--block", "64", "--quiet")
    assert enc.returncode == 0, enc.stderr
    report = json.loads(run("info", tmp_path / "c.tsz", "--json").stdout)
    assert report["streams"] == streams
    assert [p["stream"] for p in report["phases"]] == streams[1:]
    text = run("info", tmp_path / "c.tsz").stdout
    assert "phases" in text and all(s in text for s in streams[1:])
    if name == "mbt2018":  # sheared tiles: more tile columns than block columns
        assert "sheared" in text and report["stream_grids"]["y"][1] > report["chunk_grid"][1]
    else:
        assert report["phases"][1]["halo"] == 2 and "non-anchors" in text
    dec = run("decode", tmp_path / "c.tsz", tmp_path / "out.tif", "--checkpoint", tmp_path / "ck.pt", "--quiet")
    assert dec.returncode == 0, dec.stderr
    assert tifffile.imread(tmp_path / "out.tif").shape == image.shape
