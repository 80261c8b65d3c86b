"""blockwise(module, x, block) equals module(x) for every transform of every model."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from tests.conftest import cached_model, record_flips, transform_inputs
from tilestream import blockwise
from tilestream.errors import GeometryError, TilestreamError
from tilestream.models import transforms
from tilestream.testing import SMALL_CONFIGS

MODELS = sorted(SMALL_CONFIGS)
ATOL = 1e-4
TIE = 1e-4


def compare(name: str, tname: str, x: torch.Tensor, block: int) -> None:
    module = transforms(cached_model(name))[tname]
    with torch.no_grad():
        full = module(x)
    got = blockwise(module, x, block)
    assert got.shape == full.shape
    diff = float((got - full).abs().max())
    assert diff <= ATOL, f"{name}.{tname} block {block}: max abs difference {diff}"
    if tname in ("g_a", "h_a"):
        rounded_full, rounded_got = torch.round(full), torch.round(got)
        # the comparison must not be vacuous: most symbols are non-zero
        if rounded_full.numel() >= 64:
            assert float((rounded_full != 0).float().mean()) > 0.5
        flips = rounded_full != rounded_got
        frac = full - torch.floor(full)
        at_tie = (frac - 0.5).abs() <= TIE
        assert not bool((flips & ~at_tie).any()), f"{name}.{tname}: a rounded symbol differs away from a tie"
        record_flips(f"{name}.{tname}", int(flips.sum()))


def latent_block_px(tname: str, latent_block: int) -> int:
    """Block size in the transform's output samples for blocks of ``latent_block`` latents."""
    return latent_block * 16 if tname == "g_s" else latent_block * 4 if tname == "h_s" else latent_block


CASES = [
    # (height, width, blocks in latent samples): sides not multiples of 16 / 64 / the block
    (70, 93, 1),  # blocks of one latent sample
    (37, 45, 4),  # image smaller than one block
    (131, 200, 3),
]


@pytest.mark.parametrize("height, width, latent_block", CASES)
@pytest.mark.parametrize("tname", ["g_a", "h_a", "h_s", "g_s"])
@pytest.mark.parametrize("name", MODELS)
def test_blockwise_equals_full_image(name, tname, height, width, latent_block):
    inputs = transform_inputs(name, height, width)
    if tname not in inputs:
        pytest.skip(f"{name} has no {tname}")
    compare(name, tname, inputs[tname], latent_block_px(tname, latent_block))


@pytest.mark.parametrize("name", MODELS)
@settings(max_examples=8, deadline=None)
@given(
    height=st.integers(1, 150),
    width=st.integers(1, 150),
    tname=st.sampled_from(["g_a", "h_a", "h_s", "g_s"]),
    block=st.integers(1, 7),
)
def test_blockwise_equals_full_image_for_any_size_and_block(name, height, width, tname, block):
    inputs = transform_inputs(name, height, width)
    if tname not in inputs:
        tname = "g_a"
    compare(name, tname, inputs[tname], block if tname in ("g_a", "h_a") else block * 3)


def test_non_square_blocks_and_numpy_input():
    name = "bmshj2018-hyperprior"
    x = transform_inputs(name, 90, 77)["g_a"]
    g_a = transforms(cached_model(name))["g_a"]
    got = blockwise(g_a, x.numpy(), (2, 3))
    with torch.no_grad():
        torch.testing.assert_close(got, g_a(x), atol=ATOL, rtol=0)


def test_custom_cnn_with_dilation_groups_unshuffle_and_concat():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.a = nn.Conv2d(3, 6, 3, padding=2, dilation=2)
            self.b = nn.Conv2d(3, 6, (5, 3), stride=1, padding=(2, 1), groups=3)
            self.down = nn.PixelUnshuffle(2)
            self.mix = nn.Conv2d(48, 4, 1)
            self.gate = nn.Conv2d(48, 4, 3, padding=1)
            self.up = nn.ConvTranspose2d(4, 2, 4, stride=2, padding=1)

        def forward(self, x):
            a = torch.relu(self.a(x))
            b = self.b(x)
            joined = torch.cat([self.down(a), self.down(b)], dim=1)
            return self.up(self.mix(joined) * torch.sigmoid(self.gate(joined)))

    torch.manual_seed(3)
    net = Net().eval()
    x = torch.randn(1, 3, 38, 46)
    with torch.no_grad():
        full = net(x)
    for block in (1, 5, (3, 7)):
        torch.testing.assert_close(blockwise(net, x, block), full, atol=ATOL, rtol=0)


def test_bad_inputs_are_refused_with_advice():
    g_a = transforms(cached_model("bmshj2018-hyperprior"))["g_a"]
    with pytest.raises(TilestreamError, match=r"4 dimensions .*got shape \(3, 10, 10\); add a batch axis"):
        blockwise(g_a, torch.zeros(3, 10, 10), 2)
    with pytest.raises(GeometryError, match="block must be a positive int"):
        blockwise(g_a, torch.zeros(1, 3, 10, 10), 0)
    with pytest.raises(TilestreamError, match="device 'gpu0' is not a torch device"):
        blockwise(g_a, torch.zeros(1, 3, 10, 10), 2, device="gpu0")
