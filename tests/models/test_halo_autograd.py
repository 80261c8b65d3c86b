"""Reported halos agree with an independent check: autograd dependency probing.

The gradient of the sum of an output block with respect to the input is non-zero exactly
on the input samples the block depends on; its extent must equal the reported halo.
"""

from __future__ import annotations

import copy

import pytest
import torch

from tests.conftest import cached_model
from tilestream.models import transforms
from tilestream.overlap import transform_overlap
from tilestream.testing import SMALL_CONFIGS, input_channels


def probe(module, direction, factor, a, b, size, channels, seed):
    torch.manual_seed(seed)
    x = (torch.randn(1, channels, size, size, dtype=torch.float64) * 3).requires_grad_()
    out = module(x)
    if direction == "down":
        lo, hi = a, b
    else:
        lo, hi = a * factor, b * factor
    out[..., lo:hi, lo:hi].sum().backward()
    grad = x.grad.abs().sum(dim=(0, 1))
    rows = torch.nonzero(grad.sum(dim=1)).flatten()
    cols = torch.nonzero(grad.sum(dim=0)).flatten()
    return (int(rows.min()), int(rows.max()) + 1), (int(cols.min()), int(cols.max()) + 1)


@pytest.mark.parametrize("name", sorted(SMALL_CONFIGS))
def test_reported_halo_equals_autograd_dependency_extent(name):
    for tname, module in transforms(cached_model(name)).items():
        report = transform_overlap(module, tname)
        direction, factor = report["direction"], report["factor"]
        before, after = report["halo"]
        probe_module = copy.deepcopy(module).double()
        a, b = 12, 14
        size = 26 * factor if direction == "down" else 26
        extents = [
            probe(probe_module, direction, factor, a, b, size, input_channels(module), seed)
            for seed in (0, 1)
        ]
        lo = min(min(e[0][0], e[1][0]) for e in extents)
        hi = max(max(e[0][1], e[1][1]) for e in extents)
        base_lo, base_hi = (a * factor, b * factor) if direction == "down" else (a, b)
        assert (base_lo - lo, hi - base_hi) == (before, after), f"{name}.{tname}"
