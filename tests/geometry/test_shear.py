"""Sheared tiles: an exact partition whose causal dependencies form a wavefront DAG."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tilestream.errors import GeometryError
from tilestream.geometry import Window
from tilestream.geometry.shear import (
    ShearedGrid,
    context_slope,
    step_slope,
    wavefront_steps,
)

MASK_5X5 = [(-2, -2, 2), (-1, -2, 2), (0, -2, -1)]  # CompressAI's MaskedConv2d, type A
MASK_3X3 = [(-1, -1, 1), (0, -1, -1)]


def owner_map(grid: ShearedGrid) -> dict[tuple[int, int], tuple[tuple[int, int], int]]:
    """Every latent sample → (tile, position in the tile's coding order)."""
    owner = {}
    for tile in grid:
        for order, pos in enumerate(grid.positions(*tile)):
            assert pos not in owner, f"{pos} in {owner[pos][0]} and {tile}"
            owner[pos] = (tile, order)
    return owner


grids = st.builds(
    lambda h, w, sh, sw, ctx: ShearedGrid((h, w), (sh, sw), ctx),
    st.integers(1, 24), st.integers(1, 24), st.integers(2, 7), st.integers(1, 7),
    st.sampled_from([MASK_5X5, MASK_3X3]),
)


@settings(max_examples=60, deadline=None)
@given(grids)
def test_tiles_partition_the_latent_and_dependencies_point_backwards(grid):
    h, w = grid.shape
    owner = owner_map(grid)
    assert len(owner) == h * w
    for tile in grid:
        deps = set(grid.deps(*tile))
        i, j = tile
        for dep in deps:  # a wavefront: earlier strips, or the left neighbours in the strip
            assert dep[0] < i or (dep[0] == i and dep[1] < j), (tile, dep)
        box = grid.window(*tile)
        for order, (r, c) in enumerate(grid.positions(*tile)):
            assert box.contains(Window.from_bounds(r, r + 1, c, c + 1))
            for dy, lo, hi in grid.context:
                for dx in range(lo, hi + 1):
                    pos = (r + dy, c + dx)
                    if pos not in owner:
                        continue  # outside the latent: zero padding
                    src, src_order = owner[pos]
                    if src == tile:
                        assert src_order < order  # decoded earlier in the tile
                    else:
                        assert src in deps, (tile, (r, c), pos, src)


@settings(max_examples=40, deadline=None)
@given(grids, st.integers(0, 30), st.integers(1, 10), st.integers(0, 30), st.integers(1, 10))
def test_touching_finds_exactly_the_tiles_holding_a_window(grid, y0, dh, x0, dw):
    window = Window.from_bounds(y0, y0 + dh, x0, x0 + dw)
    owner = owner_map(grid)
    expected = {owner[(r, c)][0] for (r, c) in owner if window.contains(Window.from_bounds(r, r + 1, c, c + 1))}
    assert set(grid.touching(window)) == expected


def test_slope_and_refusals():
    assert context_slope(MASK_5X5) == 2
    assert context_slope(MASK_3X3) == 1
    assert context_slope([(-3, -1, 7)]) == 3
    with pytest.raises(GeometryError, match="not causal"):
        context_slope([(0, -1, 0)])
    with pytest.raises(GeometryError, match="not causal"):
        context_slope([(1, -1, 1)])
    with pytest.raises(GeometryError, match="use a larger block"):
        ShearedGrid((8, 8), (1, 4), MASK_5X5)


contexts = st.lists(
    st.tuples(st.integers(-3, -1), st.integers(-3, 3), st.integers(0, 3)).map(lambda t: (t[0], min(t[1], t[2]), t[2])),
    max_size=3,
).map(lambda rows: rows + [(0, -2, -1)])


@settings(max_examples=80, deadline=None)
@given(grids, contexts)
def test_wavefront_steps_partition_a_tile_and_read_only_earlier_steps(grid, context):
    """Within a tile, a step's samples read no sample of their own or a later step."""
    for tile in grid:
        positions = list(grid.positions(*tile))
        steps = wavefront_steps(positions, context)
        flat = [p for step in steps for p in step]
        assert sorted(flat) == sorted(positions) and len(flat) == len(positions)
        step_of = {p: k for k, step in enumerate(steps) for p in step}
        for (r, c), k in step_of.items():
            for dy, lo, hi in context:
                for dx in range(lo, hi + 1):
                    q = (r + dy, c + dx)
                    if q in step_of:
                        assert step_of[q] < k, f"{(r, c)} (step {k}) reads {q} (step {step_of[q]})"


def test_step_slope_of_compressai_masks():
    assert step_slope(MASK_5X5) == 3  # (-1, +2) must be on an earlier anti-diagonal than (0, 0)
    assert step_slope(MASK_3X3) == 2
    assert step_slope([(0, -1, -1)]) == 0  # a row-only context: a whole column is one step
    steps = wavefront_steps([(r, c) for r in range(4) for c in range(4)], MASK_5X5)
    assert len(steps) == 3 * 3 + 3 + 1 and max(map(len, steps)) == 2
    with pytest.raises(GeometryError, match="not causal"):
        step_slope([(0, -1, 0)])
