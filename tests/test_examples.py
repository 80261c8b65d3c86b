"""Every example in examples/ runs, on small real inputs (the corpus files are large)."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest
import zarr

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def _example(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "examples" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_slide_to_ome_zarr(tmp_path, capsys):
    out = _example("slide_to_ome_zarr").main(DATA / "sample.tif", tmp_path, block=64, chunk=64)
    assert "5 levels" in capsys.readouterr().out
    assert zarr.open_group(str(out), mode="r")["4"].shape == (3, 33, 49)


def test_satellite_to_cog(tmp_path, capsys):
    pytest.importorskip("rio_cogeo")
    _example("satellite_to_cog").main(DATA / "rasters" / "landsat8_uint16_3band_256x320.tif", tmp_path, block=64, chunk=64)
    assert "valid COG: True" in capsys.readouterr().out


def test_cluster_job(tmp_path):
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=None) as cluster:
        with distributed.Client(cluster) as client:
            out = _example("cluster_job").main(client, str(DATA / "sample.tif"), f"file://{tmp_path}", block=64, chunk=64)
    decoded = zarr.open_array(out.removeprefix("file://"), mode="r")[:]
    assert decoded.shape == (520, 777, 3) and decoded.std() > 10


def test_xarray_region(tmp_path, capsys):
    pytest.importorskip("xarray")
    import tilestream

    tilestream.encode(DATA / "rasters" / "landsat8_uint16_3band_256x320.tif", tmp_path / "s.tsz", block=64, chunk=64, progress=False)
    region = _example("xarray_region").main(tmp_path / "s.tsz")
    assert region.shape == (3, 256, 256)
    assert "preview (64, 80, 3)" in capsys.readouterr().out
    with tilestream.open(tmp_path / "s.tsz") as img:
        assert np.array_equal(np.moveaxis(region, 0, -1), img[:256, :256])
