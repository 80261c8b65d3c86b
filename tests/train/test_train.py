"""tilestream train: a few real optimisation steps on tiny crops, checkpoints, resume."""

from __future__ import annotations

import numpy as np
import pytest
import tifffile
import torch

import tilestream
from tests.conftest import DATA, photo
from tilestream.cli import main
from tilestream.models.spec import ModelSpec
from tilestream.train import CropSampler, TrainConfig, split_heldout, train
from tilestream.train.data import list_images


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
                      checkpoint=out, block=64, progress=False)
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
    ],
)
def test_train_user_errors(tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.chdir(tmp_path)
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0]
