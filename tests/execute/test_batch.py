"""Windows run as batches give what each window gives alone: the same slices, pads and
layers on the same data. The backend may pick another kernel for a batch (oneDNN does for
small windows), so the values agree up to float summation order, like block-wise against
full-image inference; the pipeline tests check that bytes and pixels come out the same."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import cached_model, transform_inputs
from tilestream.execute import constant
from tilestream.execute.batch import run_windows
from tilestream.execute.run import run_window, signature
from tilestream.geometry import BlockGrid
from tilestream.models.graph import analyse
from tilestream.models.registry import transforms


def _items(graph, x, block):
    shape = (int(x.shape[-2]), int(x.shape[-1]))
    out_shape = graph.spatial.sizes(shape)[graph.spatial.output]
    items = []
    for _, window in BlockGrid(out_shape, (block, block)):
        need = graph.spatial.plan(shape, window)[0]
        ys, xs = need.to_slices()
        items.append((x[..., ys, xs].contiguous(), need, window))
    return shape, items


@pytest.mark.parametrize("family", ["mbt2018-mean", "cheng2020-anchor"])
@pytest.mark.parametrize("name", ["g_a", "g_s"])
def test_batched_windows_equal_single_windows(family, name):
    x = transform_inputs(family, 448, 512)[name]
    graph = analyse(transforms(cached_model(family))[name], name)
    block = 4 if name == "g_a" else 64
    shape, items = _items(graph, x, block)
    with torch.no_grad():
        single = [run_window(graph, *item, shape) for item in items]
        constant.COUNTS.clear()
        batched = run_windows(graph, items, shape, max_batch=4)
    assert len(batched) == len(items)
    for a, b in zip(single, batched):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5 * max(1.0, float(a.abs().max())))
    # not vacuous: the outputs vary, and interior windows share a signature (were batched)
    assert float(torch.cat([s.flatten() for s in single]).std()) > 0.1
    sigs = {signature(graph, tuple(it[0].shape), it[1], it[2], shape, graph.spatial.plan(shape, it[2])) for it in items}
    assert len(sigs) < len(items)
    assert constant.COUNTS[(name, "computed")] == len(items)


def test_signature_tells_edge_windows_from_interior_ones():
    graph = analyse(transforms(cached_model("mbt2018-mean"))["g_a"], "g_a")
    shape = (512, 512)
    out_shape = graph.spatial.sizes(shape)[graph.spatial.output]
    grid = BlockGrid(out_shape, (8, 8))

    def sig(i, j):
        w = grid.window(i, j)
        plan = graph.spatial.plan(shape, w)
        need = plan[0]
        return signature(graph, (1, 3, *need.shape), need, w, shape, plan)

    assert sig(1, 1) == sig(1, 2) == sig(2, 1)  # interior: translation-equivalent
    assert sig(0, 1) != sig(1, 1)  # the top edge pads with zeros
    assert sig(1, 0) != sig(1, 1)
    assert sig(3, 3) != sig(1, 1)


def test_constant_windows_take_the_shortcut_inside_a_batch():
    graph = analyse(transforms(cached_model("mbt2018-mean"))["g_a"], "g_a")
    x = transform_inputs("mbt2018-mean", 384, 448)["g_a"].clone()
    x[..., :, 224:] = 0.5  # the right half constant
    shape, items = _items(graph, x, 4)
    with torch.no_grad():
        single = [run_window(graph, *item, shape, shortcut=False) for item in items]
        constant.COUNTS.clear()
        batched = run_windows(graph, items, shape, max_batch=8)
    assert constant.COUNTS[("g_a", "constant")] > 0
    # every window once, either way (+ the shortcut's small constant image, once per process)
    assert constant.COUNTS[("g_a", "computed")] + constant.COUNTS[("g_a", "constant")] in (len(items), len(items) + 1)
    for a, b in zip(single, batched):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5 * max(1.0, float(a.abs().max())))


@settings(max_examples=10, deadline=None)
@given(block=st.integers(2, 9), max_batch=st.integers(1, 6), h=st.integers(3, 9), w=st.integers(3, 9))
def test_any_block_and_batch_size_gives_the_single_results(block, max_batch, h, w):
    graph = analyse(transforms(cached_model("bmshj2018-hyperprior"))["h_s"], "h_s")
    x = transform_inputs("bmshj2018-hyperprior", 64 * h, 64 * w)["h_s"]
    shape, items = _items(graph, x, block)
    with torch.no_grad():
        single = [run_window(graph, *item, shape) for item in items]
        batched = run_windows(graph, items, shape, max_batch=max_batch)
    for a, b in zip(single, batched):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5 * max(1.0, float(a.abs().max())))


def test_batch_size_must_be_positive():
    graph = analyse(transforms(cached_model("mbt2018-mean"))["h_s"], "h_s")
    with pytest.raises(ValueError, match="max_batch must be at least 1, got 0"):
        run_windows(graph, [], (8, 8), max_batch=0)
