"""tilestream compare: per-band errors in the data's units, nodata left out."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import tifffile

from tests.conftest import photo
from tilestream.cli import main
from tilestream.compare import compare


def _bands():
    return (photo("cups_190x250.png").astype(np.uint16) * 100 + 7)


def test_an_image_equals_itself():
    image = _bands()
    result = compare(image, image, block=64)
    assert all(b["rmse"] == 0 and b["psnr_db"] == math.inf for b in result["per_band"])
    assert result["spectral_angle_deg"] == pytest.approx(0, abs=1e-5) and result["valid_pixels"] == 190 * 250


def test_known_errors_are_measured_in_the_datas_units():
    image = _bands()
    decoded = image.copy()
    decoded[..., 0] += 3  # band 0 off by 3 everywhere
    decoded[10, 20, 1] -= 50  # band 1: one pixel off by 50
    result = compare(image, decoded, block=64)
    b0, b1, b2 = result["per_band"]
    span0 = float(image[..., 0].max() - image[..., 0].min())
    assert b0["rmse"] == pytest.approx(3) and b0["max_abs_error"] == 3
    assert b0["psnr_db"] == pytest.approx(20 * math.log10(span0 / 3))
    assert b1["max_abs_error"] == 50 and b1["rmse"] == pytest.approx(50 / math.sqrt(190 * 250))
    assert b2["rmse"] == 0 and result["spectral_angle_deg"] > 0


def test_nodata_pixels_are_left_out_and_the_cli_prints_json(tmp_path, capsys):
    image = _bands()
    image[:20, :30] = 0
    decoded = image.copy()
    decoded[:20, :30] = 999  # garbage where there is no data
    tifffile.imwrite(tmp_path / "a.tif", image, photometric="rgb")
    tifffile.imwrite(tmp_path / "b.tif", decoded, photometric="rgb")
    assert main(["compare", str(tmp_path / "a.tif"), str(tmp_path / "b.tif"), "--nodata", "0", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["valid_pixels"] == 190 * 250 - 20 * 30
    assert all(b["rmse"] == 0 for b in result["per_band"])
    assert main(["compare", str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) == 0
    assert "RMSE" in capsys.readouterr().out


def test_images_of_different_size_are_refused(tmp_path, capsys):
    tifffile.imwrite(tmp_path / "a.tif", _bands(), photometric="rgb")
    tifffile.imwrite(tmp_path / "b.tif", _bands()[:100], photometric="rgb")
    assert main(["compare", str(tmp_path / "a.tif"), str(tmp_path / "b.tif")]) == 2
    assert "images differ in size" in capsys.readouterr().err
