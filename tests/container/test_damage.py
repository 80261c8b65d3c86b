"""Damaged containers, for every model family: one line naming the chunk or file and exit 2;
``tilestream verify`` finds every damaged chunk; ``decode --on-damage fill`` fills exactly the
halo closure of the damage (exit 3) and every other pixel equals an undamaged decode."""

from __future__ import annotations

import json
import os
import re
import shutil

import numpy as np
import pytest
import torch
import zarr

import tilestream
from tests.conftest import cached_model, photo
from tilestream.cli import main
from tilestream.container import ContainerReader
from tilestream.container.fuzz import container_files
from tilestream.geometry import Window
from tilestream.pipeline import coded_context, decode_latent
from tilestream.pipeline.damage import damage_map
from tilestream.pipeline.stages import decode_stages
from tilestream.testing import SMALL_CONFIGS

FAMILIES = list(SMALL_CONFIGS)
#: a real photo, 3 × 4 blocks of 64 (cheng2020's g_s reads 7 latent samples around a pixel:
#: the damage of one chunk must leave pixels outside its closure)
IMAGE = "cups_190x250.png"


#: ELIC with the small configuration's channel groups cannot be rebuilt from a checkpoint
#: (CompressAI's from_state_dict assumes the zoo's groups): its table runs through the API
NO_CHECKPOINT = {"elic2022-official"}


@pytest.fixture(scope="module")
def coded(tmp_path_factory):
    """Per family: a container, the weights (a checkpoint path for the CLI, or the model),
    and the undamaged decode."""
    tmp = tmp_path_factory.mktemp("damage")
    made = {}

    def get(name: str):
        if name not in made:
            model = cached_model(name)
            path = tmp / f"{name}.tsz"
            if name in NO_CHECKPOINT:
                tilestream.encode(photo(IMAGE), path, model=model, block=64, chunk=64, progress=False)
                weights = model
            else:
                weights = tmp / f"{name}.pt"
                torch.save({"state_dict": model.state_dict()}, weights)
                tilestream.encode(photo(IMAGE), path, model=name, checkpoint=weights, block=64, chunk=64, progress=False)
            with tilestream.open(path, **_weights(weights)) as img:
                reference = img[:, :]
            made[name] = (path, weights, reference)
        return made[name]

    return get


def _weights(weights):
    return {"model": weights} if isinstance(weights, torch.nn.Module) else {"checkpoint": weights}


def _decode_fails(capsys, container, output, weights):
    """Decode through the CLI (through the API for weights without a checkpoint); return
    ``(exit status, stderr)``."""
    if isinstance(weights, torch.nn.Module):
        try:
            tilestream.decode(container, output, model=weights, progress=False)
        except tilestream.TilestreamError as exc:
            return 2, f"tilestream: error: {exc}\n"
        return 0, ""
    status, _, err = _cli(capsys, "decode", container, output, "--checkpoint", weights, "--quiet")
    return status, err


def _copy(path, tmp_path, name="d.tsz"):
    out = tmp_path / name
    shutil.copytree(path, out)
    return out


def _attrs(path):
    return json.loads((path / "zarr.json").read_text())["attributes"]


def _cli(capsys, *args):
    status = main([str(a) for a in args])
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def _chunk_file(path, stream, i, j):
    return path / stream / "c" / str(i) / str(j)


def _flip(file):
    data = bytearray(file.read_bytes())
    data[len(data) // 2] ^= 0x10
    file.write_bytes(bytes(data))


def _truncate(file):
    file.write_bytes(file.read_bytes()[:-3])


def _swap(a, b):
    da, db = a.read_bytes(), b.read_bytes()
    a.write_bytes(db)
    b.write_bytes(da)


def _set_attr(path, key, value):
    doc = json.loads((path / "zarr.json").read_text())
    doc["attributes"][key] = value
    (path / "zarr.json").write_text(json.dumps(doc))


# every damage: (id, function(container) → None, the message's pattern)
def _damages(stream, other):
    s = re.escape(stream)
    return [
        ("flipped-byte", lambda p: _flip(_chunk_file(p, stream, 1, 1)), rf"chunk {s}\[1, 1\] fails its CRC-32 checksum"),
        ("truncated-chunk", lambda p: _truncate(_chunk_file(p, stream, 0, 1)), rf"chunk {s}\[0, 1\] has a damaged or truncated header"),
        ("empty-chunk", lambda p: _chunk_file(p, stream, 0, 1).write_bytes(b""), rf"chunk {s}\[0, 1\] is truncated"),
        ("missing-chunk", lambda p: _chunk_file(p, stream, 1, 0).unlink(), rf"chunk {s}\[1, 0\] is missing or truncated"),
        ("swapped-chunks", lambda p: _swap(_chunk_file(p, stream, 0, 0), _chunk_file(p, stream, 1, 1)),
         rf"chunk {s}\[(0, 0|1, 1)\] fails its CRC-32 checksum \(damaged, or moved from another position\)"),
        ("chunk-from-another-stream-or-position",
         lambda p: shutil.copy(_chunk_file(p, other, 0, 0 if other != stream else 1), _chunk_file(p, stream, 0, 0)),
         rf"chunk {s}\[0, 0\] fails its CRC-32 checksum"),
        ("missing-stream-zarr.json", lambda p: (p / stream / "zarr.json").unlink(),
         rf"chunk {s}\[\d+, \d+\]: the metadata of stream {s} \({s}/zarr.json\) is missing or damaged"),
        ("bad-stream-zarr.json", lambda p: (p / stream / "zarr.json").write_text("{not json"),
         rf"the metadata of stream {s} \({s}/zarr.json\) is missing or damaged"),
        ("missing-zarr.json", lambda p: (p / "zarr.json").unlink(), r"d.tsz' is not a tilestream container"),
        ("bad-zarr.json", lambda p: (p / "zarr.json").write_text('{"zarr_format": 3, "node_type": "gr'),
         r"d.tsz' is not a tilestream container"),
        ("edited-metadata", lambda p: _set_attr(p, "image_shape", [189, 250]),
         r"its metadata \(zarr.json attributes\) fails its CRC-32 checksum"),
        ("newer-format", lambda p: _set_attr(p, "format_version", "1.9"), r"uses container format 1.9, .* upgrade tilestream"),
        ("other-format", lambda p: _set_attr(p, "format_version", "2.0"), r"uses container format 2.0"),
        ("incomplete", lambda p: _set_attr(p, "complete", False), r"is incomplete"),
    ]


def _last_stream(path):
    return _attrs(path)["streams"][-1]


@pytest.mark.parametrize("family", FAMILIES)
def test_every_damage_is_one_line_and_exit_2(coded, tmp_path, capsys, family):
    path, ck, reference = coded(family)
    # the model's latents are spread: most symbols of ŷ are not 0
    with ContainerReader(path) as reader:
        y_hat = decode_latent(coded_context(reader, **_weights(ck)))
    assert np.mean(np.round(y_hat) != 0) > 0.3
    stream = _last_stream(path)
    other = _attrs(path)["streams"][0]  # z, or y itself for the factorized prior
    for n, (what, damage, pattern) in enumerate(_damages(stream, other)):
        target = tmp_path / f"case-{n}" / "d.tsz"
        shutil.copytree(path, target)
        damage(target)
        status, err = _decode_fails(capsys, target, tmp_path / f"case-{n}" / "out.zarr", ck)
        lines = err.strip().splitlines()
        assert status == 2, (what, err)
        assert len(lines) == 1 and "Traceback" not in err, (what, err)
        assert lines[0].startswith("tilestream: error: "), (what, err)
        assert re.search(pattern, lines[0]), (what, pattern, lines[0])
    # a container made with other weights
    other = tilestream.testing.small_model(family, seed=7)
    if not isinstance(ck, torch.nn.Module):
        torch.save({"state_dict": other.state_dict()}, tmp_path / "other.pt")
        other = tmp_path / "other.pt"
    status, err = _decode_fails(capsys, path, tmp_path / "other.zarr", other)
    assert status == 2 and len(err.strip().splitlines()) == 1
    assert "was encoded with weights" in err and "pass the same weights to decode" in err


@pytest.mark.parametrize("family", FAMILIES)
def test_verify_finds_every_damaged_chunk_without_decoding(coded, tmp_path, capsys, family):
    path, _, _ = coded(family)
    status, out, _ = _cli(capsys, "verify", path)
    report = tilestream.verify(path)
    assert status == 0 and report.ok and report.position_bound and "all checksums match" in out
    assert report.chunks == sum(len(_files(path, s)) for s in _attrs(path)["streams"])
    bad = _copy(path, tmp_path)
    stream = _last_stream(path)
    _flip(_chunk_file(bad, stream, 1, 1))
    _swap(_chunk_file(bad, "z" if "z" in _attrs(path)["streams"] else stream, 0, 0),
          _chunk_file(bad, "z" if "z" in _attrs(path)["streams"] else stream, 0, 1))
    found = tilestream.verify(bad)
    names = sorted(d.name for d in found.damaged)
    swapped = "z" if "z" in _attrs(path)["streams"] else stream
    assert names == sorted([f"{stream}[1, 1]", f"{swapped}[0, 0]", f"{swapped}[0, 1]"])
    status, out, err = _cli(capsys, "verify", bad)
    assert status == 2 and len(err.strip().splitlines()) == 1 and f"3 of {found.chunks} chunks damaged" in err
    assert f"{stream}[1, 1]" in err


def _files(path, stream):
    return [f for f in container_files(path / stream) if not f.endswith("zarr.json")]


def _damage_chunk(family, path):
    """A chunk of the last coded stream whose closure leaves pixels outside it: the first
    one for the parallel families, the last tile for serial contexts (a damaged tile spoils
    every later tile its context reaches)."""
    attrs = _attrs(path)
    stream = attrs["streams"][-1]
    rows, cols = attrs["stream_grids"].get(stream, attrs["grid_shape"])
    return (stream, rows - 1, cols - 1) if stream in attrs["stream_grids"] else (stream, 0, 0)


@pytest.mark.parametrize("family", FAMILIES)
def test_fill_decodes_everything_outside_the_closure_exactly(coded, tmp_path, capsys, family):
    path, ck, reference = coded(family)
    bad = _copy(path, tmp_path)
    stream, i, j = _damage_chunk(family, path)
    _flip(_chunk_file(bad, stream, i, j))
    out = tmp_path / "out.zarr"
    if isinstance(ck, torch.nn.Module):
        done = tilestream.decode(bad, out, model=ck, on_damage="fill", progress=False)
        assert done.damage is not None
    else:
        status, _, err = _cli(capsys, "decode", bad, out, "--checkpoint", ck, "--on-damage", "fill", "--quiet")
        assert status == 3, err
        assert "Traceback" not in err and f"damaged chunk {stream}[{i}, {j}]" in err
    report = json.loads((tmp_path / "out.zarr.damage.json").read_text())
    assert [d["chunk"] for d in report["damaged"]] == [f"{stream}[{i}, {j}]"]
    got = np.asarray(zarr.open_array(out, mode="r")[...])
    assert got.shape == reference.shape
    # the halo closure, from the stages' declared deps and g_s's windows
    with ContainerReader(bad) as reader:
        ctx = coded_context(reader, **_weights(ck))
        dmap, _ = damage_map(ctx, decode_stages(ctx), tilestream.verify(bad).damaged)
    closure = dmap.pixels(Window.full(reference.shape[:2]))
    assert report["filled_pixels"] == closure.sum() > 0
    assert closure.mean() < 0.85, closure.mean()
    # inside: filled; outside: decoded with the spoiled samples as zeros, bit-identical
    assert (got[closure] == 0).all()
    np.testing.assert_array_equal(got[~closure], reference[~closure])
    y0, y1, x0, x1 = report["damaged"][0]["region"]
    assert closure[y0:y1, x0:x1].sum() == closure.sum()
    # the closure is not padded: the filled pixels are mostly not black in the undamaged decode
    assert (reference[closure] != 0).any(axis=-1).mean() > 0.9


def test_fill_closure_follows_z_and_is_the_same_through_the_api_and_a_region(coded, tmp_path):
    path, ck, reference = coded("mbt2018-mean")
    bad = _copy(path, tmp_path)
    _flip(_chunk_file(bad, "z", 0, 0))
    done = tilestream.decode(bad, tmp_path / "out.zarr", checkpoint=ck, on_damage="fill",
                             damage_report=tmp_path / "r.json", progress=False)
    assert done.damage is not None and done.damage.damaged[0]["chunk"] == "z[0, 0]"
    got = np.asarray(zarr.open_array(tmp_path / "out.zarr", mode="r")[...])
    filled = (got == 0).all(axis=-1)
    assert 0 < filled.mean() < 0.85
    np.testing.assert_array_equal(got[~filled], reference[~filled])
    # a region decode fills the same pixels
    done = tilestream.decode(bad, tmp_path / "region.zarr", checkpoint=ck, on_damage="fill",
                             damage_report=tmp_path / "r2.json", progress=False, region=(30, 150, 40, 200))
    part = np.asarray(zarr.open_array(tmp_path / "region.zarr", mode="r")[...])
    np.testing.assert_array_equal(part, got[30:150, 40:200])
    # an undamaged container decodes as usual, with no report
    done = tilestream.decode(path, tmp_path / "clean.zarr", checkpoint=ck, on_damage="fill", progress=False)
    assert done.damage is None and not os.path.exists(tmp_path / "clean.zarr.damage.json")
    np.testing.assert_array_equal(np.asarray(zarr.open_array(tmp_path / "clean.zarr", mode="r")[...]), reference)


def test_fill_uses_the_nodata_value_and_a_damaged_mask_fills_its_block(tmp_path):
    model = cached_model("bmshj2018-hyperprior")
    image = photo(IMAGE).copy()
    image[image.min(axis=-1) == 0] = 1
    image[:40, :50] = 0
    tilestream.encode(image, tmp_path / "c.tsz", model=model, block=64, chunk=64, nodata=0, progress=False)
    with tilestream.open(tmp_path / "c.tsz", model=model) as img:
        reference = img[:, :]
    bad = _copy(tmp_path / "c.tsz", tmp_path)
    _flip(_chunk_file(bad, "mask", 0, 0))
    _flip(_chunk_file(bad, "y", 2, 3))
    done = tilestream.decode(bad, tmp_path / "out.zarr", model=model, on_damage="fill", progress=False)
    got = np.asarray(zarr.open_array(tmp_path / "out.zarr", mode="r")[...])
    names = sorted(d["chunk"] for d in done.damage.damaged)
    assert names == ["mask[0, 0]", "y[2, 3]"]
    assert done.damage.damaged[0]["region"] == [0, 64, 0, 64] or done.damage.damaged[1]["region"] == [0, 64, 0, 64]
    filled = (got == 0).all(axis=-1)
    assert filled[:64, :64].all() and filled[150:, 220:].all()
    keep = ~filled
    assert keep.mean() > 0.5
    np.testing.assert_array_equal(got[keep], reference[keep])


def test_old_containers_still_verify(tmp_path):
    old = os.path.join(os.path.dirname(__file__), "..", "data", "containers-1.1")
    found = [os.path.join(old, n) for n in sorted(os.listdir(old)) if n.endswith(".tsz")]
    assert found
    for path in found:
        report = tilestream.verify(path)
        assert report.ok and not report.position_bound and report.chunks > 0
