"""Models of C ≠ 3 image channels: built for every family, loaded from their weights alone,
run block-wise exactly as on the whole image, and coded C bands at a time."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch
from torch import nn

import tilestream
from tests.conftest import DATA, compressai_reference, record_flips
from tilestream import blockwise
from tilestream.container import ContainerReader
from tilestream.errors import UnknownModelError
from tilestream.models import build_model, transforms
from tilestream.models.registry import model_channels, set_channels
from tilestream.models.spec import ModelSpec, WeightsError, spec_for, weights_sha256
from tilestream.pipeline import decode_latent
from tilestream.testing import SMALL_CONFIGS, small_model, smooth_image

RGBN = DATA / "rasters" / "rgbn_4band_128x160.tif"
LANDSAT = DATA / "rasters" / "landsat7band_128x160.tif"


def four_channel_model(name: str = "mbt2018-mean") -> nn.Module:
    model = small_model(name, channels=4)
    model.update(force=True)
    return model


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
@pytest.mark.parametrize("channels", [1, 4, 7])
def test_every_family_builds_for_c_channels(name, channels):
    torch.manual_seed(0)
    model = build_model(name, channels=channels, **SMALL_CONFIGS[name])
    found = transforms(model)
    assert model_channels(model) == channels
    # same kind, kernel, stride and padding as the RGB architecture's layers
    rgb = transforms(build_model(name, **SMALL_CONFIGS[name]))
    for tname in ("g_a", "g_s"):
        ours = [(type(m), m.kernel_size, m.stride, m.padding) for m in found[tname].modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        theirs = [(type(m), m.kernel_size, m.stride, m.padding) for m in rgb[tname].modules() if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d))]
        assert ours == theirs
    with torch.no_grad():
        y = found["g_a"](torch.rand(1, channels, 64, 64))
        assert found["g_s"](y).shape == (1, channels, 64, 64)


def test_block_wise_equals_full_image_for_a_four_channel_model():
    model = four_channel_model()
    x = smooth_image(131, 200, seed=7, channels=4)
    found = transforms(model)
    with torch.no_grad():
        y = found["g_a"](x)
        inputs = {"g_a": x, "h_a": y, "h_s": torch.round(found["h_a"](y)), "g_s": torch.round(y)}
    assert float((torch.round(y) != 0).float().mean()) > 0.5  # not vacuous
    for tname, block in (("g_a", 48), ("h_a", 3), ("h_s", 12), ("g_s", 48)):
        with torch.no_grad():
            full = found[tname](inputs[tname])
        got = blockwise(found[tname], inputs[tname], block)
        assert got.shape == full.shape
        assert float((got - full).abs().max()) <= 1e-4, tname
    assert found["g_s"](inputs["g_s"]).shape[1] == 4


def test_a_four_band_raster_is_one_group_and_decodes_as_compressai_on_the_whole_image(tmp_path):
    model = four_channel_model()
    image = tifffile.imread(RGBN)
    assert image.shape == (128, 160, 4) and image.dtype == np.uint8
    torch.save({"state_dict": model.state_dict()}, tmp_path / "c4.pt")
    tilestream.encode(RGBN, tmp_path / "c.tsz", model="mbt2018-mean", checkpoint=tmp_path / "c4.pt", block=64, chunk=64, progress=False)
    with ContainerReader(str(tmp_path / "c.tsz")) as reader:
        assert reader.pixel_format.model_channels == 4
        assert reader.pixel_format.band_groups() == [(0, 1, 2, 3)]
        assert reader.meta.streams == ("z", "y")  # one group: no b0/, b1/ prefixes
    tilestream.decode(tmp_path / "c.tsz", tmp_path / "out.tif", model="mbt2018-mean", checkpoint=tmp_path / "c4.pt", progress=False)
    decoded = tifffile.imread(tmp_path / "out.tif")
    assert decoded.shape == image.shape and decoded.dtype == np.uint8
    ref_pixels, _, y_hat_ref = compressai_reference(model, image, 64)
    ours = decode_latent(tilestream.open(tmp_path / "c.tsz", model=model)._ctx)
    assert float((np.round(ours) != 0).mean()) > 0.5  # not vacuous
    flips = int((np.abs(ours - y_hat_ref[0].numpy()) > 0.5).sum())
    record_flips("roundtrip mbt2018-mean 4-channel rgbn", flips)
    assert flips == 0
    diff = np.abs(decoded.astype(int) - ref_pixels.astype(int))
    assert int(diff.max()) <= 1 and int((diff != 0).sum()) <= max(1, diff.size // 10_000)
    assert decoded.std() > 5  # not a flat image


def test_seven_bands_with_a_four_channel_model_are_two_groups_each_as_coded_alone(tmp_path):
    model = four_channel_model("bmshj2018-hyperprior")
    image = tifffile.imread(LANDSAT)
    assert image.shape[-1] == 7
    tilestream.encode(image, tmp_path / "all.tsz", model=model, block=64, chunk=64, progress=False)
    with ContainerReader(str(tmp_path / "all.tsz")) as reader:
        assert reader.pixel_format.band_groups() == [(0, 1, 2, 3), (4, 5, 6)]
        assert {s.split("/")[0] for s in reader.meta.streams} == {"b0", "b1"}
    every = tilestream.open(tmp_path / "all.tsz", model=model)[:, :]
    for bands in ([0, 1, 2, 3], [4, 5, 6]):
        tilestream.encode(np.ascontiguousarray(image[..., bands]), tmp_path / "g.tsz", model=model, block=64, chunk=64,
                          progress=False, overwrite=True)
        alone = tilestream.open(tmp_path / "g.tsz", model=model)[:, :]
        np.testing.assert_array_equal(every[..., bands], alone)


def test_a_grayscale_image_with_a_four_channel_model_repeats_its_band(tmp_path):
    model = four_channel_model("bmshj2018-factorized")
    gray = tifffile.imread(RGBN)[..., 3]
    tilestream.encode(gray, tmp_path / "g.tsz", model=model, block=64, chunk=64, progress=False)
    decoded = tilestream.open(tmp_path / "g.tsz", model=model)[:, :]
    assert decoded.shape == gray.shape and decoded.dtype == np.uint8


@pytest.mark.parametrize("name", ["mbt2018-mean", "bmshj2018-hyperprior", "bmshj2018-factorized", "cheng2020-anchor"])
def test_a_c_channel_checkpoint_loads_without_saying_c(tmp_path, name):
    model = build_model(name, channels=4, **SMALL_CONFIGS[name])
    model.update(force=True)
    torch.save(model.state_dict(), tmp_path / "m.pt")
    loaded = ModelSpec(name, checkpoint=str(tmp_path / "m.pt")).build()
    assert type(loaded) is type(model) and model_channels(loaded) == 4
    assert weights_sha256(loaded) == weights_sha256(model)
    spec, _ = spec_for(model)  # a model object: its state, rebuilt on a worker
    assert spec.state is not None and model_channels(spec.build()) == 4


def test_a_zoo_quality_checkpoint_of_four_channels_loads(tmp_path):
    model = build_model("bmshj2018-factorized", 1, channels=4)
    torch.save(model.state_dict(), tmp_path / "q1.pt")
    loaded = ModelSpec("bmshj2018-factorized", 1, checkpoint=str(tmp_path / "q1.pt")).build()
    assert model_channels(loaded) == 4


def test_mismatches_are_refused_in_one_line(tmp_path):
    with pytest.raises(UnknownModelError, match=r"model channels 0 must be an integer >= 1.*channels=C") as err:
        build_model("mbt2018-mean", channels=0, N=8, M=12)
    assert "\n" not in str(err.value)
    torch.save(build_model("mbt2018-mean", channels=4, N=8, M=12).state_dict(), tmp_path / "m.pt")
    with pytest.raises(WeightsError, match=r"does not fit the architecture bmshj2018-hyperprior for 4 channels") as err:
        ModelSpec("bmshj2018-hyperprior", checkpoint=str(tmp_path / "m.pt")).build()
    assert "\n" not in str(err.value)

    class Odd(nn.Module):  # g_a does not start with a convolution
        def __init__(self):
            super().__init__()
            self.g_a = nn.Sequential(nn.Identity(), nn.Conv2d(3, 4, 3))
            self.g_s = nn.Sequential(nn.ConvTranspose2d(4, 3, 3))

    with pytest.raises(UnknownModelError, match="cannot be built for 4 channels; use channels=3"):
        set_channels(Odd(), 4)
