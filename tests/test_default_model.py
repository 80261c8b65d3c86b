"""The bundled default model: offline, compact, recorded, and it actually compresses."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np
import pytest
import tifffile

import tilestream
import tilestream.testing
import tilestream.weights
from tests.conftest import DATA, photo
from tilestream.cli import main
from tilestream.models.spec import WeightsError, spec_for
from tilestream.weights import DEFAULT_MODEL, manifest


def psnr(a, b):
    mse = np.mean((a.astype(float) - b.astype(float)) ** 2)
    return 10 * np.log10(255**2 / mse)


def test_bundled_files_match_the_manifest_and_fit_in_15_mb():
    man = manifest()
    assert set(man["files"]) >= {"q1", "q2", "q3"}
    folder = os.path.dirname(tilestream.weights.__file__)
    total = 0
    for key, entry in man["files"].items():
        data = Path(folder, entry["file"]).read_bytes()
        total += len(data)
        assert hashlib.sha256(data).hexdigest() == entry["file_sha256"], key
        spec, _ = spec_for(None, quality=int(key[1:]))
        assert spec.sha256 == entry["weights_sha256"], key
    assert total <= 15 * 2**20


def test_default_model_round_trip_offline_via_the_cli(tmp_path, capsys):
    image = photo("garden_520x777.png")
    assert main(["encode", str(DATA / "sample.tif"), str(tmp_path / "s.tsz"), "--quiet"]) == 0
    assert main(["decode", str(tmp_path / "s.tsz"), str(tmp_path / "s.tif"), "--quiet"]) == 0
    decoded = tifffile.imread(tmp_path / "s.tif")
    assert decoded.shape == image.shape
    assert psnr(image, decoded) > 25  # a trained model (untrained weights give ~10 dB)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "s.tsz"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["model"]["name"] == DEFAULT_MODEL and info["model"]["bundled"] is True
    assert info["model"]["quality"] == 2 and len(info["model"]["sha256"]) == 64
    assert 0 < info["bpp"] < 2


def test_rate_points_are_ordered(tmp_path):
    image = photo("ladybird_213x317.png")
    results = []
    for q in (1, 2, 3):
        res = tilestream.encode(image, tmp_path / f"q{q}.tsz", quality=q, progress=False)
        decoded = tilestream.open(tmp_path / f"q{q}.tsz")[:, :]
        results.append((res.bpp, psnr(image, decoded)))
    assert results[0][0] < results[1][0] < results[2][0]
    assert results[0][1] < results[1][1] < results[2][1]


def test_decoding_with_other_weights_is_refused(tmp_path):
    tilestream.encode(photo("cups_190x250.png"), tmp_path / "c.tsz", quality=1, progress=False)
    other = tilestream.testing.small_model("mbt2018-mean")
    with pytest.raises(WeightsError, match="was encoded with weights"):
        tilestream.open(tmp_path / "c.tsz", model=other)


def test_unknown_default_quality_is_refused():
    with pytest.raises(tilestream.TilestreamError, match="has no quality 7 .*available: 1, 2, 3"):
        spec_for(None, quality=7)


def test_pretrained_offline_and_not_cached_says_where_to_put_the_file(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "hub"))
    status = main(["encode", str(DATA / "sample.tif"), str(tmp_path / "p.tsz"),
                   "--model", "bmshj2018-hyperprior", "--quality", "1", "--pretrained", "--quiet"])
    if status == 0:
        pytest.skip("this machine can download CompressAI's weights; the offline path was not exercised")
    err = capsys.readouterr().err.strip().splitlines()
    assert status == 2 and len(err) == 1
    assert "put bmshj2018-hyperprior-1-7eb97409.pth.tar at " in err[0]
    assert str(tmp_path / "hub") in err[0] and "--checkpoint" in err[0]
    assert not (tmp_path / "p.tsz").exists()
