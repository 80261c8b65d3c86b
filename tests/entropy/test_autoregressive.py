"""The serial-context codec: wavefront steps inside a tile decode exactly the raster order's ŷ."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import tilestream
from tests.conftest import cached_model, photo
from tilestream.container import ContainerError, ContainerReader
from tilestream.container.schema import ContainerMeta, meta_crc32
from tilestream.entropy.autoregressive import AutoregressiveCodec
from tilestream.pipeline import decode_latent
from tilestream.testing import container_chunks, small_model


@pytest.mark.parametrize("name", ["mbt2018", "cheng2020-anchor"])
def test_wavefront_order_decodes_the_raster_orders_latent_and_pixels(tmp_path, monkeypatch, name):
    model = cached_model(name)
    image = photo("garden_520x777.png")[:128, :192]
    tilestream.encode(image, tmp_path / "w.tsz", model=model, block=64, chunk=64, progress=False)
    with monkeypatch.context() as m:  # the order of containers before 1.5
        m.setattr(AutoregressiveCodec, "sample_order", "raster")
        tilestream.encode(image, tmp_path / "r.tsz", model=model, block=64, chunk=64, progress=False)
    wave, raster = (tilestream.open(tmp_path / f"{k}.tsz", model=model) for k in ("w", "r"))
    assert json.loads((tmp_path / "w.tsz" / "zarr.json").read_text())["attributes"]["sample_order"] == "wavefront"
    assert "sample_order" not in json.loads((tmp_path / "r.tsz" / "zarr.json").read_text())["attributes"]
    assert wave._reader.meta.format_version == "1.5" and raster._reader.meta.format_version == "1.4"
    assert wave._reader.summary()["sample_order"] == "wavefront" and raster._reader.summary()["sample_order"] == "raster"

    y_wave, y_raster = decode_latent(wave._ctx), decode_latent(raster._ctx)
    assert np.array_equal(y_wave, y_raster)
    assert (np.abs(y_wave) > 0.5).mean() > 0.3  # spread latents: most symbols are not zero
    assert np.array_equal(wave[:, :], raster[:, :])
    assert np.array_equal(wave[40:100, 70:150], wave[:, :][40:100, 70:150])  # a region too

    # same symbols, another order: the tiles' streams differ (and so would a raster decoder's reading)
    cw, cr = container_chunks(tmp_path / "w.tsz"), container_chunks(tmp_path / "r.tsz")
    assert cw.keys() == cr.keys()
    assert all(cw[k] == cr[k] for k in cw if k[0] == "z")
    tiles = [k for k in cw if k[0] == "y" and cw[k]]
    assert sum(cw[k] != cr[k] for k in tiles) >= len(tiles) // 2


def test_info_names_the_sample_order(tmp_path, capsys):
    from tilestream.cli import main

    tilestream.encode(photo("garden_520x777.png")[:64, :64], tmp_path / "c.tsz", model=cached_model("mbt2018"), block=64, chunk=64, progress=False)
    capsys.readouterr()
    assert main(["info", str(tmp_path / "c.tsz")]) == 0
    assert "sample order  wavefront" in capsys.readouterr().out


def test_a_raster_decoder_of_a_wavefront_stream_is_caught_by_the_guard(tmp_path):
    """The order is what the container says: read in the wrong order, the index checksum
    refuses the tile instead of passing garbage to g_s."""
    model = cached_model("mbt2018")
    image = photo("garden_520x777.png")[:128, :128]
    tilestream.encode(image, tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    img = tilestream.open(tmp_path / "c.tsz", model=model)
    from dataclasses import replace

    img._ctx = replace(img._ctx, sample_order="raster")
    with pytest.raises(tilestream.TilestreamError, match="index|checksum|CDF"):
        img[:, :]


def test_an_unknown_sample_order_is_refused_in_one_line(tmp_path):
    model = cached_model("mbt2018")
    tilestream.encode(photo("garden_520x777.png")[:64, :64], tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    attrs = ContainerReader(str(tmp_path / "c.tsz")).attrs
    attrs = {**attrs, "sample_order": "zigzag"}
    attrs["meta_crc32"] = meta_crc32(attrs)
    with pytest.raises(ContainerError, match="sample order 'zigzag'.*re-encode") as err:
        ContainerMeta.from_attrs(attrs, "c.tsz")
    assert "\n" not in str(err.value)


def test_the_cdf_tables_are_built_once_and_again_after_update():
    model = small_model("mbt2018")
    model.update(force=True)
    codec = AutoregressiveCodec(model)
    first = codec._tables()
    assert codec._tables() is first  # cached: a tile does not rebuild them
    gc = model.gaussian_conditional
    assert first[1] == gc.cdf_length.tolist() and first[0][5] == gc.quantized_cdf[5, : first[1][5]].tolist()
    model.update(scale_table=torch.exp(torch.linspace(math.log(0.2), math.log(20), 32)), force=True)
    again = codec._tables()
    assert again is not first and len(again[1]) == 32 == len(gc.cdf_length)
    assert again[0][7] == gc.quantized_cdf[7, : again[1][7]].tolist()
