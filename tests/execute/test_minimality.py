"""The reported halo is minimal: one input sample less on any side changes a block.

This is the paper's validation ("overlap − 1"): run every interior block from exactly the
input window the halo gives, then from that window shrunk by one sample on one side (the
missing samples are zeros, as a too-small overlap would make them), and compare with
full-image inference.
"""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import cached_model
from tilestream.execute import run_window
from tilestream.geometry import Interval, Window
from tilestream.models import analyse, transforms
from tilestream.overlap import transform_overlap
from tilestream.testing import input_channels


def aligned_input(direction: str, factor: int, a: int, b: int, before: int, after: int) -> Interval:
    if direction == "down":
        return Interval(a * factor - before, b * factor + after)
    return Interval(a - before, b + after)


def aligned_output(direction: str, factor: int, a: int, b: int) -> Interval:
    return Interval(a, b) if direction == "down" else Interval(a * factor, b * factor)


def block_results(module, x, report, blocks, shrink):
    """Max |block − full| over the given coarse blocks, with the halo shrunk by ``shrink``."""
    graph = analyse(module)
    shape = (int(x.shape[-2]), int(x.shape[-1]))
    with torch.no_grad():
        full = module(x)
    direction, factor = report["direction"], report["factor"]
    before, after = report["halo"]
    worst = 0.0
    for (ay, by), (ax, bx) in blocks:
        sy = aligned_input(direction, factor, ay, by, before - shrink[0], after - shrink[1])
        sx = aligned_input(direction, factor, ax, bx, before - shrink[2], after - shrink[3])
        window = Window(sy, sx)
        out = Window(aligned_output(direction, factor, ay, by), aligned_output(direction, factor, ax, bx))
        piece = x[..., sy.start : sy.stop, sx.start : sx.stop]
        with torch.no_grad():
            got = run_window(graph, piece, window, out, shape)
        ys, xs = out.to_slices()
        worst = max(worst, float((got - full[..., ys, xs]).abs().max()))
    return worst


HYPERPRIOR_FAMILY = ["bmshj2018-factorized", "bmshj2018-hyperprior", "mbt2018-mean", "mbt2018"]
DEEP = ["cheng2020-anchor", "cheng2020-attn", "cheng2020-anchor-checkerboard", "elic2022-official"]
# For the deep residual transforms (g_a / g_s of cheng2020 and ELIC) the edge of the receptive
# field is reached only through the longest chain of 3x3 convolutions; with random weights its
# influence is ~1e-14 even in float64, below what zero-filling can show. Their minimality is
# shown structurally by tests/models/test_halo_autograd.py (non-zero gradient at the edge).
CASES = [
    (n, t)
    for n in HYPERPRIOR_FAMILY
    for t in (("g_a", "g_s") if n == "bmshj2018-factorized" else ("g_a", "h_a", "h_s", "g_s"))
] + [
    (n, t) for n in DEEP for t in ("h_a", "h_s")
]


@pytest.mark.parametrize("name, tname", CASES)
def test_halo_is_sufficient_and_one_sample_less_breaks_it(name, tname):
    module = copy.deepcopy(transforms(cached_model(name))[tname]).double()
    report = transform_overlap(module, tname)
    factor, before, after = report["factor"], *report["halo"]
    down = report["direction"] == "down"
    # a 4x4 grid of blocks of 2 coarse samples, all far enough from the border
    margin = (max(before, after) // factor + 2) if down else max(before, after) + 2
    coarse = 2 * margin + 8
    size = coarse * factor if down else coarse
    torch.manual_seed(1)
    x = torch.randn(1, input_channels(module), size, size, dtype=torch.float64) * 3
    if tname in ("h_s", "g_s"):
        x = torch.round(x)
    starts = range(margin, margin + 8, 2)
    blocks = [((a, a + 2), (c, c + 2)) for a in starts for c in starts]
    assert block_results(module, x, report, blocks, (0, 0, 0, 0)) <= 1e-10
    for side in range(4):
        shrink = [0, 0, 0, 0]
        shrink[side] = 1
        worst = block_results(module, x, report, blocks, tuple(shrink))
        assert worst > 1e-3, f"{name}.{tname}: halo minus one on side {side} still exact"
