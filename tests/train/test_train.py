"""tilestream train: a few real optimisation steps on tiny crops, checkpoints, resume."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import tilestream
from tests.conftest import DATA, photo
from tilestream.cli import main
from tilestream.container import ContainerReader
from tilestream.errors import TilestreamError
from tilestream.models.registry import model_channels
from tilestream.models.spec import ModelSpec
from tilestream.train import CropSampler, TrainConfig, parse_arch, split_heldout, train
from tilestream.train.data import list_images

RGBN = DATA / "rasters" / "rgbn_4band_128x160.tif"
LANDSAT = DATA / "rasters" / "landsat7band_128x160.tif"


def test_cli_train_writes_a_usable_checkpoint_and_resumes(tmp_path, capsys):
    out = tmp_path / "m.pt"
    args = ["train", str(DATA), "--out", str(out), "--arch", "N=8,M=12", "--crop", "64",
            "--batch", "2", "--checkpoint-every", "2", "--lr", "1e-3", "--quiet"]
    assert main(args + ["--steps", "3", "--log", str(tmp_path / "train.log")]) == 0
    assert "3 steps" in capsys.readouterr().out
    assert (tmp_path / "train.log").read_text().startswith("step 3 loss ")
    state = torch.load(f"{out}.state", map_location="cpu", weights_only=True)
    assert state["step"] == 3
    # resume to 5 steps: the state continues from step 3
    assert main(args + ["--steps", "5", "--resume", f"{out}.state"]) == 0
    assert torch.load(f"{out}.state", map_location="cpu", weights_only=True)["step"] == 5
    # the output has CDF tables and works as --checkpoint for encode / decode
    model = ModelSpec("mbt2018-mean", checkpoint=str(out)).build()
    assert model.gaussian_conditional._quantized_cdf.numel() > 0
    tilestream.encode(photo("cups_190x250.png"), tmp_path / "c.tsz", model="mbt2018-mean",
                      checkpoint=out, block=64, chunk=64, progress=False)
    decoded = tilestream.open(tmp_path / "c.tsz", model="mbt2018-mean", checkpoint=out)[:, :]
    assert decoded.shape == (190, 250, 3)


def test_training_steps_change_the_weights_and_lower_the_loss(tmp_path):
    cfg = TrainConfig(model="mbt2018-mean", arch={"N": 8, "M": 12}, lmbda=0.01, steps=30, crop=64,
                      batch=4, lr=3e-3, checkpoint_every=100, seed=1)
    files = [str(DATA / "garden_520x777.png")]
    first = train(files, str(tmp_path / "a.pt"), TrainConfig(**{**cfg.__dict__, "steps": 1}))
    last = train(files, str(tmp_path / "b.pt"), cfg)
    assert last["loss"] < first["loss"]
    a = torch.load(tmp_path / "a.pt", weights_only=True)["state_dict"]["g_a.0.weight"]
    b = torch.load(tmp_path / "b.pt", weights_only=True)["state_dict"]["g_a.0.weight"]
    assert not torch.equal(a, b)


def test_crops_from_a_large_tiff_are_read_window_by_window(tmp_path):
    image = photo("garden_520x777.png")
    tifffile.imwrite(tmp_path / "big.tif", image, tile=(64, 64), photometric="rgb")
    sampler = CropSampler([str(tmp_path / "big.tif")], crop=64, seed=3)
    reads = []
    source = sampler._large[str(tmp_path / "big.tif")]
    original = source._read

    def spy(y0, y1, x0, x1):
        reads.append((y1 - y0) * (x1 - x0))
        return original(y0, y1, x0, x1)

    source._read = spy
    batch = sampler.batch(5)
    assert batch.shape == (5, 3, 64, 64) and batch.dtype == np.float32
    assert 0 <= batch.min() and batch.max() <= 1
    assert reads and max(reads) == 64 * 64  # never the whole image


def test_heldout_split_keeps_named_photos_out(tmp_path):
    for name in ("a_Kite_x.jpg", "b_Garden.jpg", "c_Path_2560.jpg"):
        (tmp_path / name).write_bytes(b"")
    train_files, held = split_heldout(list_images([tmp_path]))
    assert [p.split("/")[-1] for p in held] == ["a_Kite_x.jpg", "c_Path_2560.jpg"]
    assert [p.split("/")[-1] for p in train_files] == ["b_Garden.jpg"]


@pytest.mark.parametrize(
    "args, message",
    [
        (["train", "/no/such/folder", "--out", "x.pt"], "does not exist"),
        (["train", str(DATA), "--out", "x.pt", "--crop", "30"], "crop 30 must be a multiple of 64"),
        (["train", str(DATA), "--out", "x.pt", "--arch", "N64"], "--arch 'N64' is not NAME=INT"),
        (["train", str(DATA), "--out", "x.pt", "--lmbda", "0"], "--lmbda must be > 0"),
        (["train", str(DATA), "--out", "x.pt", "--arch", "channels=0,N=8,M=12"], "model channels 0 must be an integer >= 1"),
    ],
)
def test_train_user_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]


def test_arch_reads_the_models_channels():
    assert parse_arch("channels=4,N=64,M=96") == {"channels": 4, "N": 64, "M": 96}
    assert parse_arch("N=64,M=96") == {"N": 64, "M": 96}


def test_cli_trains_a_four_channel_model_on_a_4_band_raster_and_codes_it(tmp_path, capsys):
    out = tmp_path / "c4.pt"
    assert main(["train", str(RGBN), "--out", str(out), "--arch", "channels=4,N=8,M=12", "--crop", "64",
                 "--batch", "2", "--steps", "3", "--lr", "1e-3", "--quiet"]) == 0
    saved = torch.load(out, map_location="cpu", weights_only=True)
    assert saved["meta"]["channels"] == 4 and saved["state_dict"]["g_a.0.weight"].shape[1] == 4
    model = ModelSpec("mbt2018-mean", checkpoint=str(out)).build()  # channels from the weights alone
    assert model_channels(model) == 4 and model.gaussian_conditional._quantized_cdf.numel() > 0
    assert main(["encode", str(RGBN), str(tmp_path / "c.tsz"), "--model", "mbt2018-mean", "--checkpoint",
                 str(out), "--block", "64", "--chunk", "64"]) == 0
    with ContainerReader(str(tmp_path / "c.tsz")) as reader:
        assert reader.pixel_format.band_groups() == [(0, 1, 2, 3)]
    assert main(["decode", str(tmp_path / "c.tsz"), str(tmp_path / "d.tif"), "--checkpoint", str(out)]) == 0
    decoded = tifffile.imread(tmp_path / "d.tif")
    assert decoded.shape == (128, 160, 4) and decoded.dtype == np.uint8
    capsys.readouterr()
    # fine-tuning it as a 3-channel model is refused in one line
    with pytest.raises(TilestreamError, match=r"codes 4 channel\(s\) but the model built from --arch codes 3; pass --arch channels=4") as err:
        train([str(RGBN)], str(tmp_path / "x.pt"), TrainConfig(arch={"N": 8, "M": 12}, steps=1, crop=64, batch=1),
              init=str(out))
    assert "\n" not in str(err.value)


def _wide_raster(path, nodata_cols: int):
    """The real 7-band Landsat crop as uint16 (scaled into a 12-bit-like range), its left
    ``nodata_cols`` columns nodata (0, GDAL_NODATA)."""
    rasterio = pytest.importorskip("rasterio")
    with rasterio.open(LANDSAT) as src:
        bands, profile = src.read().astype(np.uint16) * 16 + 100, src.profile
    bands[:, :, :nodata_cols] = 0
    profile.update(dtype="uint16", nodata=0)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(bands)
    return bands


def test_crops_of_a_wide_multiband_raster_are_groups_mapped_as_the_encoder_maps_them(tmp_path):
    from tilestream.testing import small_model

    path = tmp_path / "wide.tif"
    bands = _wide_raster(path, nodata_cols=80)  # half the image is nodata
    sampler = CropSampler([str(path)], crop=64, seed=2, channels=4)
    fmt = sampler.formats[str(path)]
    # the encoder's own mapping: value ranges, nodata and its fill, band groups
    model = small_model("bmshj2018-factorized", channels=4)
    model.update(force=True)
    tilestream.encode(path, tmp_path / "c.tsz", model=model, block=64, chunk=64, progress=False)
    with ContainerReader(str(tmp_path / "c.tsz")) as reader:
        assert reader.pixel_format == fmt
    assert fmt.nodata == 0 and fmt.band_groups() == [(0, 1, 2, 3), (4, 5, 6)]
    valid = bands[:, :, 80:]
    assert [r[0] for r in fmt.value_range] == [float(b.min()) for b in valid]  # nodata left out
    source = sampler._large[str(path)]
    shares = []
    original = source.read_padded

    def spy(y0, y1, x0, x1):
        pixels = original(y0, y1, x0, x1)
        shares.append(float(fmt.mask(pixels).mean()))
        return pixels

    source.read_padded = spy
    batch = sampler.batch(16)
    assert batch.shape == (16, 4, 64, 64) and batch.dtype == np.float32
    assert np.isfinite(batch).all() and 0 <= batch.min() and batch.max() <= 1
    # some positions were mostly nodata and drawn again: each crop is the first read of
    # mostly data (a crop settles for the least nodata only after 20 draws, p ≈ 1e-6)
    assert max(shares) > 0.5 and len(shares) > 16
    assert sum(s <= 0.5 for s in shares) == 16
    repeated = [bool(np.array_equal(c[3], c[2])) for c in batch]  # group (4, 5, 6) repeats band 6
    assert any(repeated) and not all(repeated)


@pytest.mark.parametrize("name", ["srtm90_dem_128x160.tif", "co_elevation_f32_128x160.tif"])
def test_one_band_int16_and_float32_rasters_fill_a_four_channel_input(name):
    sampler = CropSampler([str(DATA / "rasters" / name)], crop=64, seed=0, channels=4)
    batch = sampler.batch(3)
    assert batch.shape == (3, 4, 64, 64) and 0 <= batch.min() and batch.max() <= 1
    assert all(np.array_equal(c[0], c[k]) for c in batch for k in (1, 2, 3))
    assert batch.std() > 0.01  # mapped by the band's own range, not the type's


def test_a_uint32_zarr_source_is_mapped_per_band(tmp_path):
    import zarr

    data = (tifffile.imread(RGBN).astype(np.uint32) * 1000 + 70_000).transpose(2, 0, 1)  # (4, H, W)
    z = zarr.create_array(str(tmp_path / "s.zarr"), shape=data.shape, dtype="uint32", dimension_names=("band", "y", "x"))
    z[:] = data
    sampler = CropSampler(list_images([tmp_path / "s.zarr"]), crop=64, seed=0, channels=4)
    batch = sampler.batch(2)
    assert batch.shape == (2, 4, 64, 64) and 0 <= batch.min() and batch.max() <= 1 and batch.max() > 0.5


def test_photo_crops_are_exactly_the_8_bit_mapping():
    sampler = CropSampler([str(DATA / "cups_190x250.png")], crop=64, seed=0)
    batch = sampler.batch(2)
    assert batch.shape == (2, 3, 64, 64)
    np.testing.assert_array_equal(np.round(batch * 255) / 255, batch)  # k / 255 in float32


def test_a_diverging_run_stops_in_one_line_and_saves_nothing_non_finite(tmp_path):
    """λ = 1e38 overflows the rate–distortion loss to inf on real crops: no step may reach
    the weights, the run stops after MAX_NONFINITE such batches naming the fix, and neither
    OUT nor OUT.state holds non-finite weights."""
    from tilestream.train.loop import MAX_NONFINITE, TrainingDiverged

    files = [str(DATA / "garden_520x777.png")]
    good = TrainConfig(model="mbt2018-mean", arch={"N": 8, "M": 12}, lmbda=0.01, steps=4, crop=64,
                       batch=2, lr=1e-3, checkpoint_every=2, seed=1)
    train(files, str(tmp_path / "m.pt"), good)
    state = tmp_path / "m.pt.state"
    before = torch.load(state, weights_only=True)["state_dict"]
    bad = TrainConfig(**{**good.__dict__, "lmbda": 1e38, "steps": 4 + MAX_NONFINITE + 5})
    with pytest.raises(TrainingDiverged, match=r"training diverged at step \d+ .*holds step 4; resume from it with a lower --lr"):
        train(files, str(tmp_path / "m.pt"), bad, resume=str(state))
    after = torch.load(state, weights_only=True)["state_dict"]
    assert all(torch.isfinite(v).all() for v in after.values() if v.is_floating_point())
    assert all(torch.equal(before[k], after[k]) for k in before)
