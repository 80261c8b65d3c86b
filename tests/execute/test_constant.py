"""The constant-input shortcut gives what computing the window gives, near every edge and
in the interior, for every transform of the down- and upsampling families."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import cached_model
from tilestream.execute import constant
from tilestream.execute.run import run_window
from tilestream.geometry import Window
from tilestream.models.graph import analyse
from tilestream.models.registry import transforms

#: input shapes per transform (g_a's padded to 64; odd latent shapes elsewhere), large enough
#: for a smaller constant image to exist
SHAPES = {"g_a": (384, 448), "h_a": (28, 36), "h_s": (19, 21), "g_s": (17, 19)}


def _setup(family: str, name: str):
    module = transforms(cached_model(family))[name]
    graph = analyse(module, name)
    first = next(m for m in module.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)))
    channels = first.in_channels
    shape = SHAPES[name]
    value = torch.linspace(-2.0, 3.0, channels).reshape(1, channels, 1, 1)
    x = value.expand(1, channels, *shape).contiguous()
    with torch.no_grad():
        full = module(x)
    return graph, x, shape, full


@pytest.mark.parametrize("family", ["mbt2018-mean", "cheng2020-anchor"])
@pytest.mark.parametrize("name", ["g_a", "h_a", "h_s", "g_s"])
@settings(max_examples=12, deadline=None)
@given(data=st.data())
def test_windows_of_a_constant_input_equal_full_inference(family, name, data):
    graph, x, shape, full = _setup(family, name)
    oh, ow = full.shape[2:]
    y0 = data.draw(st.integers(0, oh - 1))
    x0 = data.draw(st.integers(0, ow - 1))
    y1 = data.draw(st.integers(y0 + 1, oh))
    x1 = data.draw(st.integers(x0 + 1, ow))
    out = Window.from_bounds(y0, y1, x0, x1)
    constant.COUNTS.clear()
    with torch.no_grad():
        got = run_window(graph, x, Window.full(shape), out, shape)
    rows, cols = out.to_slices()
    expected = full[:, :, rows, cols]
    scale = float(full.abs().max())
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-6 * max(scale, 1.0))
    # the window was gathered, not computed (the only computed run: the small image, once)
    assert constant.COUNTS[(name, "constant")] == 1


def test_a_window_reading_one_other_value_is_computed():
    graph, x, shape, full = _setup("mbt2018-mean", "g_a")
    x = x.clone()
    x[0, 1, 150, 200] += 0.25  # one sample inside what y[9:11, 12:13] reads
    out = Window.from_bounds(9, 11, 12, 13)
    constant.COUNTS.clear()
    with torch.no_grad():
        got = run_window(graph, x, Window.full(shape), out, shape)
        expected = transforms(cached_model("mbt2018-mean"))["g_a"](x)[:, :, 9:11, 12:13]
    assert constant.COUNTS[("g_a", "computed")] == 1 and constant.COUNTS[("g_a", "constant")] == 0
    torch.testing.assert_close(got, expected, rtol=0, atol=1e-5)
    assert not torch.allclose(got, full[:, :, 9:11, 12:13], atol=1e-6)  # the change is visible
