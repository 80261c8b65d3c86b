"""``decode --resume``: an interrupted decode to zarr or to a local TIFF continues from the
block rows it wrote and gives every pixel of an undisturbed decode; what cannot be resumed
says so in one line."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import tifffile
import torch
import zarr

import tilestream
from tests.conftest import cached_model, photo
from tilestream import tasks
from tilestream.entropy import autoregressive
from tilestream.errors import TilestreamError
from tilestream.pipeline.journal import JOURNAL, Journal

RASTERS = os.path.join(os.path.dirname(__file__), "..", "data", "rasters")


def _tall() -> np.ndarray:
    """16 × 4 blocks of 64 of a real photo."""
    tall = np.concatenate([photo("garden_520x777.png")[:512], photo("garden_520x777.png")[:512, ::-1]])
    return np.ascontiguousarray(tall[:, :256])


def _interrupt_after(monkeypatch, step: int) -> list[int]:
    """Stop the decode (as a killed process would) once wavefront step ``step`` is recorded."""
    seen: list[int] = []
    original = Journal.record

    def record(self, t, band):
        original(self, t, band)
        seen.append(t)
        if t >= step:
            raise KeyboardInterrupt

    monkeypatch.setattr(Journal, "record", record)
    return seen


def _count(monkeypatch, module, name: str) -> list[int]:
    """Rows of the calls of ``module.name`` (a task ``fn(ctx, i, j, …)``, or a tile task)."""
    rows: list[int] = []
    original = getattr(module, name)

    def counted(*args, **kwargs):
        ctx_at = 1 if isinstance(args[0], bool) else 0  # the tile task takes `encoding` first
        rows.append(int(args[ctx_at + 1]))
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, counted)
    return rows


def _zarr(path) -> np.ndarray:
    return zarr.open_array(str(path), mode="r")[:]


def _pixels(path) -> np.ndarray:
    return tifffile.imread(path) if str(path).endswith(".tif") else _zarr(path)


@pytest.mark.parametrize("name,ext", [("bmshj2018-hyperprior", ".zarr"), ("mbt2018", ".zarr"), ("mbt2018", ".tif")])
def test_an_interrupted_decode_resumes_to_identical_pixels(name, ext, tmp_path, monkeypatch):
    model = cached_model(name)
    kw = dict(model=model, progress=False, num_workers=1)
    tilestream.encode(_tall(), tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / f"ref{ext}", **kw)
    reference = _pixels(tmp_path / f"ref{ext}")
    assert reference.std() > 10  # a real picture, not a flat decode

    out, partial = tmp_path / f"o{ext}", tmp_path / f"o{ext}.partial"
    journal = partial if ext == ".zarr" else tmp_path / f"o{ext}.partial.journal"
    with monkeypatch.context() as m:
        seen = _interrupt_after(m, 4)
        with pytest.raises(KeyboardInterrupt):
            tilestream.decode(tmp_path / "c.tsz", out, **kw)
    assert seen[-1] == 4 and not out.exists() and partial.exists()  # kept, never looks finished
    record = json.loads((journal / JOURNAL).read_text())
    assert record["step"] == 4
    assert ("state" in record) == (name == "mbt2018")  # only a serial context saves its held ŷ

    with monkeypatch.context() as m:
        g_s = _count(m, tasks, "synthesise_groups")
        tiles = _count(m, autoregressive, "_tile_task")
        tilestream.decode(tmp_path / "c.tsz", out, resume=True, **kw)
    assert np.array_equal(_pixels(out), reference)  # every pixel
    assert not partial.exists() and not journal.exists()
    if ext == ".zarr":
        assert sorted(os.listdir(out)) == ["c", "zarr.json"]  # no journal inside
    else:
        assert (tmp_path / f"ref{ext}").read_bytes() == out.read_bytes()  # the very same file
    # only the rows after the recorded step are synthesised, and nothing from row 0
    assert 0 < min(g_s) and len(g_s) == (16 - min(g_s)) * 4
    if name == "mbt2018":
        assert min(tiles) > 0  # the saved state stands in for every earlier row of tiles


def test_a_georeferenced_zarr_decode_resumes(tmp_path, monkeypatch):
    """A GeoTIFF decodes to an xarray-style group; the resumed one is the same group."""
    model = cached_model("bmshj2018-hyperprior")
    src = os.path.join(RASTERS, "landsat8_uint16_3band_256x320.tif")
    kw = dict(model=model, progress=False, num_workers=1)
    tilestream.encode(src, tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "ref.zarr", **kw)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", resume=True, **kw)
    ref, got = zarr.open_group(str(tmp_path / "ref.zarr"), mode="r"), zarr.open_group(str(tmp_path / "o.zarr"), mode="r")
    assert sorted(ref.array_keys()) == sorted(got.array_keys())
    for key in ref.array_keys():
        assert np.array_equal(ref[key][...], got[key][...]), key
    assert dict(ref["spatial_ref"].attrs) == dict(got["spatial_ref"].attrs)


def test_a_band_interleaved_tiff_decode_resumes(tmp_path, monkeypatch):
    """A source stored band by band decodes to a band-interleaved TIFF: its tiles of each
    band are placed in a file laid out first; a resume fills the rest."""
    bands = np.moveaxis(tifffile.imread(os.path.join(RASTERS, "landsat8_uint16_3band_256x320.tif")), -1, 0)
    tifffile.imwrite(tmp_path / "planar.tif", np.ascontiguousarray(bands), photometric="minisblack", planarconfig="separate", tile=(64, 64))
    model = cached_model("bmshj2018-hyperprior")
    kw = dict(model=model, progress=False, num_workers=1)
    tilestream.encode(tmp_path / "planar.tif", tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "ref.tif", **kw)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.tif", resume=True, **kw)
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        assert tif.pages[0].planarconfig == 2 and tif.pages[0].shape == (3, 256, 320)
    assert np.array_equal(tifffile.imread(tmp_path / "o.tif"), tifffile.imread(tmp_path / "ref.tif"))


def test_a_decode_to_object_storage_resumes(tmp_path, monkeypatch):
    """Remote zarr outputs are written in place with their zarr.json held back: the journal
    lives beside the chunks, and the resumed output opens only when complete."""
    import fsspec

    model = cached_model("bmshj2018-factorized")
    kw = dict(model=model, progress=False, num_workers=1)
    tilestream.encode(_tall(), tmp_path / "c.tsz", block=64, chunk=64, **kw)
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "ref.zarr", **kw)
    url = f"memory://resume-{os.getpid()}/o.zarr"
    with monkeypatch.context() as m:
        _interrupt_after(m, 3)
        with pytest.raises(KeyboardInterrupt):
            tilestream.decode(tmp_path / "c.tsz", url, **kw)
    fs = fsspec.filesystem("memory")
    names = {p.rsplit("/", 1)[-1] for p in fs.find(url)}
    assert JOURNAL in names and "zarr.json" not in names  # not an array yet
    with pytest.raises(TilestreamError, match="already exists; pass --overwrite"):
        tilestream.decode(tmp_path / "c.tsz", url, **kw)  # a fresh decode does not clobber it silently
    tilestream.decode(tmp_path / "c.tsz", url, resume=True, **kw)
    got = zarr.open_array(url, mode="r")[:]
    assert np.array_equal(got, _zarr(tmp_path / "ref.zarr"))
    assert JOURNAL not in {p.rsplit("/", 1)[-1] for p in fs.find(url)}
    with pytest.raises(TilestreamError, match="nothing to resume: .* is complete already"):
        tilestream.decode(tmp_path / "c.tsz", url, resume=True, **kw)
    fs.rm(url, recursive=True)


def test_what_cannot_be_resumed_says_so(tmp_path, monkeypatch):
    model = cached_model("bmshj2018-factorized")
    kw = dict(model=model, progress=False, num_workers=1)
    tilestream.encode(_tall(), tmp_path / "c.tsz", block=64, chunk=64, **kw)
    with pytest.raises(TilestreamError, match="a TIFF on object storage .* cannot be resumed"):
        tilestream.decode(tmp_path / "c.tsz", f"memory://resume-{os.getpid()}/o.tif", resume=True, **kw)
    with pytest.raises(TilestreamError, match="--resume applies to whole-image decodes"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", resume=True, region=(0, 64, 0, 64), **kw)
    with pytest.raises(TilestreamError, match="cannot be combined with --on-damage fill"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", resume=True, on_damage="fill", **kw)
    with pytest.raises(TilestreamError, match="nothing to resume: no partial decode"):
        tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", resume=True, **kw)

    # a partial decode of another container (other weights) is refused, not mixed
    with monkeypatch.context() as m:
        _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", **kw)
    other = cached_model("bmshj2018-hyperprior")
    tilestream.encode(_tall(), tmp_path / "d.tsz", block=64, chunk=64, **{**kw, "model": other})
    with pytest.raises(TilestreamError, match="started from another container"):
        tilestream.decode(tmp_path / "d.tsz", tmp_path / "o.zarr", resume=True, **{**kw, "model": other})
    assert (tmp_path / "o.zarr.partial").is_dir()  # still there to be resumed rightly
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "o.zarr", **kw)  # without --resume: starts over
    assert not (tmp_path / "o.zarr.partial").exists()


def test_kill_9_then_resume_a_decode_through_the_cli(tmp_path):
    model = cached_model("mbt2018-mean")
    torch.save(model.state_dict(), tmp_path / "w.pt")
    tifffile.imwrite(tmp_path / "in.tif", photo("garden_520x777.png"), tile=(64, 64))
    weights = ["--checkpoint", str(tmp_path / "w.pt")]
    cli = [sys.executable, "-m", "tilestream"]
    subprocess.run([*cli, "encode", str(tmp_path / "in.tif"), str(tmp_path / "c.tsz"), "--model", "mbt2018-mean", *weights,
                    "--block", "64", "--chunk", "64", "--quiet"],
                   check=True, capture_output=True, timeout=600)
    decode = [*cli, "decode", str(tmp_path / "c.tsz")]
    subprocess.run([*decode, str(tmp_path / "ref.zarr"), *weights, "--quiet"], check=True, capture_output=True, timeout=600)

    out = tmp_path / "o.zarr"
    proc = subprocess.Popen([*decode, str(out), *weights, "--quiet"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    journal = tmp_path / "o.zarr.partial" / JOURNAL
    step, deadline = -1, time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            step = json.loads(journal.read_text())["step"]
        except (OSError, ValueError, KeyError):
            step = -1
        if step >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the decode finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL and not out.exists()

    done = subprocess.run([*decode, str(out), *weights, "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr and "Traceback" not in done.stderr
    assert int(done.stderr.split("wavefront step ")[1].split()[0]) >= 2
    assert np.array_equal(_zarr(out), _zarr(tmp_path / "ref.zarr"))

    again = subprocess.run([*decode, str(out), *weights, "--resume"], capture_output=True, text=True, timeout=600)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "complete already" in again.stderr
