"""``encode --resume``: an interrupted encode continues and writes every chunk byte for byte
as an undisturbed one; a changed source is refused; damaged chunks are redone."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import warnings

import numpy as np
import pytest
import tifffile
import torch
import zarr

import tilestream
from tests.conftest import cached_model, photo
from tilestream import tasks
from tilestream.container import ContainerReader, ContainerWriter
from tilestream.container.store import frame
from tilestream.errors import TilestreamError
from tilestream.testing import SMALL_CONFIGS, container_chunks

SERIAL = {"mbt2018", "cheng2020-anchor", "cheng2020-attn"}


def _image(rows: int = 6, cols: int = 4) -> np.ndarray:
    """A real photo crop of ``rows × cols`` blocks of 64."""
    return np.ascontiguousarray(photo("garden_520x777.png")[: 64 * rows, : 64 * cols])


def _elements(path) -> dict[tuple[str, int, int], bytes | None]:
    """Every stored chunk element (framing included) of a container folder."""
    return container_chunks(path, stored=True)


def _interrupt_after(monkeypatch, step: int) -> list[int]:
    """Make the encode stop (as a killed process would) once wavefront step ``step`` is recorded."""
    seen: list[int] = []
    original = ContainerWriter.record_progress

    def record(self, t, nbytes, band):
        original(self, t, nbytes, band)
        seen.append(t)
        if t >= step:
            raise KeyboardInterrupt

    monkeypatch.setattr(ContainerWriter, "record_progress", record)
    return seen


def _count_g_a(monkeypatch) -> list[tuple[int, int]]:
    calls: list[tuple[int, int]] = []
    original = tasks.analyse_block

    def analyse(ctx, i, j):
        calls.append((i, j))
        return original(ctx, i, j)

    monkeypatch.setattr(tasks, "analyse_block", analyse)
    return calls


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_an_interrupted_encode_resumes_to_identical_chunks(name, tmp_path, monkeypatch):
    model = cached_model(name)
    image = _image()
    kw = dict(model=model, block=64, chunk=64, progress=False, num_workers=1)
    tilestream.encode(image, tmp_path / "ref.tsz", **kw)
    reference = _elements(tmp_path / "ref.tsz")
    nonzero = sum(len(v) > 8 for v in reference.values())
    assert nonzero > len(reference) // 2  # real symbols, not an all-zero latent

    out = tmp_path / "c.tsz"
    with monkeypatch.context() as m:
        seen = _interrupt_after(m, 1)
        with pytest.raises(KeyboardInterrupt):
            tilestream.encode(image, out, **kw)
    assert seen == [0, 1]
    partial = tmp_path / "c.tsz.partial"
    assert partial.is_dir() and not out.exists()  # kept for --resume, never looks finished
    attrs = json.loads((partial / "zarr.json").read_text())["attributes"]
    assert attrs["complete"] is False and attrs["progress"]["step"] == 1
    with pytest.raises(TilestreamError, match="incomplete"):
        ContainerReader(partial)

    calls = _count_g_a(monkeypatch)
    result = tilestream.encode(image, out, resume=True, **kw)
    assert _elements(out) == reference  # every chunk, byte for byte
    assert result.stream_bytes == ContainerReader(tmp_path / "ref.tsz").stream_bytes
    assert not partial.exists()
    assert len(calls) <= 6 * 4  # never more than an undisturbed encode


def test_resume_skips_finished_rows_redoes_a_damaged_chunk_and_refuses_another_source(tmp_path, monkeypatch):
    model = cached_model("bmshj2018-hyperprior")
    tall = np.concatenate([photo("garden_520x777.png")[:512], photo("garden_520x777.png")[:512, ::-1]])
    image = np.ascontiguousarray(tall[:, :256])  # 16 x 4 blocks: one row per wavefront step
    kw = dict(model=model, block=64, chunk=64, progress=False, num_workers=1)
    tilestream.encode(image, tmp_path / "ref.tsz", **kw)
    reference = _elements(tmp_path / "ref.tsz")
    out = tmp_path / "c.tsz"
    with monkeypatch.context() as m:
        _interrupt_after(m, 12)
        with pytest.raises(KeyboardInterrupt):
            tilestream.encode(image, out, **kw)
    with monkeypatch.context() as m:  # resumed: g_a runs on the unfinished rows and the few they read
        calls = _count_g_a(m)
        m.setattr(ContainerWriter, "commit", lambda self, extra=None: (_ for _ in ()).throw(KeyboardInterrupt()))
        with pytest.raises(KeyboardInterrupt):
            tilestream.encode(image, out, resume=True, **kw)
    # step 12 finished g_a up to row 12 but coded y only up to row 9; the z chunks that
    # rows 10-15 read look two rows up, and h_a reads y one row further: g_a from row 7
    assert len(calls) == (16 - 7) * 4 and min(i for i, _ in calls) == 7

    other = image.copy()
    other[:10, :10] ^= 0xFF
    with pytest.raises(TilestreamError, match="another source, other weights or other settings"):
        tilestream.encode(other, out, resume=True, **kw)
    other_weights = cached_model("mbt2018-mean")
    with pytest.raises(TilestreamError, match="cannot resume"):
        tilestream.encode(image, out, resume=True, **{**kw, "model": other_weights})

    # a torn chunk in a finished row (a flipped byte): found by its CRC and written again
    element = np.empty((1, 1), dtype=object)
    element[0, 0] = frame(b"\x00garbage")[:-1] + b"!"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        zarr.open_array(str(tmp_path / "c.tsz.partial" / "y"), mode="r+")[0:1, 2:3] = element
    tilestream.encode(image, out, resume=True, **kw)
    assert _elements(out) == reference


def _tall() -> np.ndarray:
    """16 × 4 blocks of 64 of a real photo."""
    tall = np.concatenate([photo("garden_520x777.png")[:512], photo("garden_520x777.png")[:512, ::-1]])
    return np.ascontiguousarray(tall[:, :256])


def test_a_serial_context_resumes_from_its_saved_state(tmp_path, monkeypatch):
    """mbt2018 reads its own row above, back to the first; the saved ``ŷ`` of the last
    finished row of tiles lets a resume redo only the rows in flight. A damaged state file
    is ignored: the resume then recomputes every earlier row, with the same bytes."""
    model = cached_model("mbt2018")
    image = _tall()
    kw = dict(model=model, block=64, chunk=64, progress=False, num_workers=1)
    tilestream.encode(image, tmp_path / "ref.tsz", **kw)
    reference = _elements(tmp_path / "ref.tsz")
    partial = tmp_path / "c.tsz.partial"

    def interrupted() -> dict:
        with monkeypatch.context() as m:
            _interrupt_after(m, 5)
            with pytest.raises(KeyboardInterrupt):
                tilestream.encode(image, tmp_path / "c.tsz", overwrite=True, **kw)
        return json.loads((partial / "zarr.json").read_text())["attributes"]["progress"]

    def resumed() -> list[tuple[int, int]]:
        with monkeypatch.context() as m:
            calls = _count_g_a(m)
            tilestream.encode(image, tmp_path / "c.tsz", resume=True, **kw)
        assert _elements(tmp_path / "c.tsz") == reference
        assert not (tmp_path / "c.tsz" / "resume").exists()  # the state goes with the commit
        return calls

    progress = interrupted()
    assert progress["step"] == 5 and progress["state"] == "resume/state-5.npz"
    assert [p.name for p in (partial / "resume").iterdir()] == ["state-5.npz"]  # earlier ones removed
    calls = resumed()
    # steps of 2 rows; step 5 coded tiles up to row 8 and ran g_a up to row 11; the tiles of
    # rows 9-15 read ẑ one row up, which reads y two rows up: g_a from row 6, never row 0
    assert len(calls) == (16 - 6) * 4 and min(i for i, _ in calls) == 6

    interrupted()
    state = partial / "resume" / "state-5.npz"
    data = bytearray(state.read_bytes())
    data[len(data) // 2] ^= 0xFF
    state.write_bytes(bytes(data))
    calls = resumed()
    assert min(i for i, _ in calls) == 0 and len(calls) == 16 * 4  # every earlier row replayed


@pytest.mark.parametrize("kind", ["numpy", "zarr"])
def test_a_source_changed_between_the_sampled_windows_is_refused(kind, tmp_path, monkeypatch):
    """The pixel sample of the fingerprint leaves rows out; a numpy array is identified by
    its whole content and a zarr array by its chunk files, so a change there is caught."""
    model = cached_model("bmshj2018-factorized")
    image = _tall()  # 1024 rows: the sampled windows start every 137 rows, 64 high
    kw = dict(model=model, block=64, chunk=64, progress=False, num_workers=1)

    def source(img):
        if kind == "numpy":
            return img
        path = tmp_path / f"src-{int(img.sum())}.zarr"
        zarr.create_array(str(path), data=img, chunks=(64, 64, 3))
        return str(path)

    first = source(image)
    with monkeypatch.context() as m:
        _interrupt_after(m, 2)
        with pytest.raises(KeyboardInterrupt):
            tilestream.encode(first, tmp_path / "c.tsz", **kw)
    changed = image.copy()
    changed[100, 10] ^= 0x01  # row 100: between the windows at rows 0-63 and 137-200
    if kind == "zarr":
        zarr.open_array(first, mode="r+")[100, 10] = changed[100, 10]
        changed = first
    else:
        changed = source(changed)
    with pytest.raises(TilestreamError, match="another source"):
        tilestream.encode(changed, tmp_path / "c.tsz", resume=True, **kw)


def test_nothing_to_resume_is_one_line(tmp_path):
    model = cached_model("bmshj2018-factorized")
    with pytest.raises(TilestreamError, match="nothing to resume: no partial container"):
        tilestream.encode(_image(), tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False, resume=True)
    tilestream.encode(_image(), tmp_path / "done.tsz", model=model, block=64, chunk=64, progress=False)
    with pytest.raises(TilestreamError, match="no partial container"):
        tilestream.encode(_image(), tmp_path / "done.tsz", model=model, block=64, chunk=64, progress=False, resume=True)


def test_kill_9_then_resume_through_the_cli(tmp_path):
    """The acceptance case: a real process killed with SIGKILL midway, then ``--resume``."""
    model = cached_model("mbt2018-mean")
    torch.save(model.state_dict(), tmp_path / "w.pt")
    tifffile.imwrite(tmp_path / "in.tif", photo("garden_520x777.png"), tile=(64, 64))
    base = [sys.executable, "-m", "tilestream", "encode", str(tmp_path / "in.tif")]
    opts = ["--model", "mbt2018-mean", "--checkpoint", str(tmp_path / "w.pt"), "--block", "64", "--chunk", "64", "--quiet"]
    subprocess.run([*base, str(tmp_path / "ref.tsz"), *opts], check=True, capture_output=True, timeout=600)
    reference = _elements(tmp_path / "ref.tsz")

    out = tmp_path / "c.tsz"
    proc = subprocess.Popen([*base, str(out), *opts], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    meta = tmp_path / "c.tsz.partial" / "zarr.json"
    step, deadline = -1, time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        try:
            step = json.loads(meta.read_text())["attributes"].get("progress", {}).get("step", -1)
        except (OSError, ValueError):
            step = -1
        if step >= 1:
            break
        time.sleep(0.02)
    assert proc.poll() is None, "the encode finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists() and (tmp_path / "c.tsz.partial").is_dir()

    done = subprocess.run([*base, str(out), *opts[:-1], "--resume"], capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert "resuming" in done.stderr and "Traceback" not in done.stderr
    assert _elements(out) == reference
    rows = -(-520 // 64)
    resumed_at = int(done.stderr.split("wavefront step ")[1].split()[0])
    assert 1 < resumed_at < rows + 2  # continued after the killed step, not from the start
