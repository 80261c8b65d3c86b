from hypothesis import given
from hypothesis import strategies as st

import pytest

from tilestream.errors import GeometryError
from tilestream.geometry import BlockGrid, Window, split_window


@given(st.integers(1, 60), st.integers(1, 60), st.integers(1, 20), st.integers(1, 20))
def test_blocks_cover_the_map_exactly_once(h, w, bh, bw):
    grid = BlockGrid((h, w), (bh, bw))
    seen = {}
    for index, win in grid:
        assert not win.empty
        for y in range(win.y.start, win.y.stop):
            for x in range(win.x.start, win.x.stop):
                assert (y, x) not in seen
                seen[(y, x)] = index
    assert len(seen) == h * w
    assert len(list(grid)) == len(grid)


@given(st.integers(1, 40), st.integers(1, 40), st.integers(1, 9), st.data())
def test_touching_lists_exactly_the_blocks_sharing_samples(h, w, b, data):
    grid = BlockGrid((h, w), b)
    y0 = data.draw(st.integers(-5, h))
    y1 = data.draw(st.integers(y0, h + 5))
    x0 = data.draw(st.integers(-5, w))
    x1 = data.draw(st.integers(x0, w + 5))
    region = Window.from_bounds(y0, y1, x0, x1)
    expected = {i for i, win in grid if not win.intersect(region).empty}
    assert set(grid.touching(region)) == expected


@pytest.mark.parametrize("block", [0, -3, (2,), (2, 0), 1.5, "8"])
def test_bad_blocks_are_refused(block):
    with pytest.raises(GeometryError, match="block must be a positive int"):
        BlockGrid((8, 8), block)


@given(st.integers(-30, 30), st.integers(1, 40), st.integers(-30, 30), st.integers(1, 40), st.integers(1, 12))
def test_split_window_tiles_a_window_along_the_global_grid(y0, h, x0, w, tile):
    window = Window.from_bounds(y0, y0 + h, x0, x0 + w)
    pieces = split_window(window, tile)
    covered = set()
    for piece in pieces:
        assert not piece.empty and window.contains(piece)
        # inside one square of the global grid of `tile`
        assert piece.y.start // tile == (piece.y.stop - 1) // tile
        assert piece.x.start // tile == (piece.x.stop - 1) // tile
        cells = {(y, x) for y in range(piece.y.start, piece.y.stop) for x in range(piece.x.start, piece.x.stop)}
        assert not cells & covered
        covered |= cells
    assert len(covered) == h * w
    assert pieces == sorted(pieces, key=lambda p: (p.y.start, p.x.start))  # row-major
    if window.y.start % tile == 0 and window.x.start % tile == 0 and h <= tile and w <= tile:
        assert pieces == [window]


@pytest.mark.parametrize("tile", [0, -4, 2.0, True])
def test_split_window_refuses_a_bad_tile(tile):
    with pytest.raises(GeometryError, match="tile must be a positive int"):
        split_window(Window.from_bounds(0, 4, 0, 4), tile)
