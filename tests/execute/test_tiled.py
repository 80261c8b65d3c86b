"""A transform run over a large window one tile at a time gives the window's output: each
tile on its own minimal window, as any window is computed, stitched together."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import cached_model, transform_inputs
from tilestream.execute import constant
from tilestream.execute.run import run_window
from tilestream.execute.tiled import run_tiled
from tilestream.geometry import Window
from tilestream.models.graph import analyse
from tilestream.models.registry import transforms


def _graph(family, name):
    return analyse(transforms(cached_model(family))[name], name)


@settings(max_examples=12, deadline=None)
@given(data=st.data())
@pytest.mark.parametrize("family", ["mbt2018-mean", "elic2022-official"])
@pytest.mark.parametrize("name", ["g_a", "g_s"])
def test_tiled_window_equals_the_window_in_one_piece(family, name, data):
    x = transform_inputs(family, 256, 320)[name]
    graph = _graph(family, name)
    shape = (int(x.shape[-2]), int(x.shape[-1]))
    out_h, out_w = graph.spatial.sizes(shape)[graph.spatial.output]
    unit = 1 if name == "g_a" else 16  # tiles: latent samples of g_a, pixels of g_s
    y0 = data.draw(st.integers(0, out_h - 1))
    y1 = data.draw(st.integers(y0 + 1, out_h))
    x0 = data.draw(st.integers(0, out_w - 1))
    x1 = data.draw(st.integers(x0 + 1, out_w))
    tile = unit * data.draw(st.integers(1, 6))
    out = Window.from_bounds(y0, y1, x0, x1)
    need = graph.spatial.plan(shape, out)[0]
    ys, xs = need.to_slices()
    feed = x[..., ys, xs].contiguous()
    with torch.no_grad():
        whole = run_window(graph, feed, need, out, shape)
        tiled = run_tiled(graph, feed, need, out, shape, tile, max_batch=data.draw(st.integers(1, 3)))
    assert tiled.shape == whole.shape
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5 * max(1.0, float(whole.abs().max())))


def test_tiles_are_computed_one_by_one_and_the_output_is_not_vacuous():
    x = transform_inputs("mbt2018-mean", 256, 320)["g_a"]
    graph = _graph("mbt2018-mean", "g_a")
    shape = (256, 320)
    out = Window.from_bounds(0, 16, 0, 20)  # all of y
    with torch.no_grad():
        constant.COUNTS.clear()
        tiled = run_tiled(graph, x, Window.full(shape), out, shape, 8)
        assert constant.COUNTS[("g_a", "computed")] == 2 * 3  # rows 0-8, 8-16 x cols 0-8, 8-16, 16-20
        whole = run_window(graph, x, Window.full(shape), out, shape)
    torch.testing.assert_close(tiled, whole, rtol=0, atol=1e-5 * float(whole.abs().max()))
    assert float((torch.round(whole) != 0).float().mean()) > 0.3  # latents spread over several units


def test_no_tile_runs_the_window_in_one_piece():
    x = transform_inputs("mbt2018-mean", 128, 128)["g_s"]
    graph = _graph("mbt2018-mean", "g_s")
    shape = (int(x.shape[-2]), int(x.shape[-1]))
    out = Window.from_bounds(0, 128, 0, 128)
    with torch.no_grad():
        constant.COUNTS.clear()
        run_tiled(graph, x, Window.full(shape), out, shape, None)
    assert constant.COUNTS[("g_s", "computed")] == 1
