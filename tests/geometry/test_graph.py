import pytest

from tilestream.errors import GeometryError
from tilestream.geometry import Conv, Interval, Node, SpatialGraph


def diamond() -> SpatialGraph:
    wide, narrow = Conv(5, 1, 2), Conv(1, 1, 0)
    return SpatialGraph(
        (
            Node("input", "", "input"),
            Node("a", "a", "conv", (0,), (wide, wide)),
            Node("b", "b", "conv", (0,), (narrow, narrow)),
            Node("add", "add", "add", (1, 2)),
        ),
        3,
    )


def test_a_node_read_twice_covers_the_hull_of_both_needs():
    g = diamond()
    sizes = g.sizes_along(0, 20)
    windows = g.plan_along(0, sizes, Interval(5, 8))
    assert windows[3] == windows[1] == windows[2] == Interval(5, 8)
    assert windows[0] == Interval(3, 10)  # the wide branch dominates


def test_windows_are_clipped_at_the_border():
    g = diamond()
    windows = g.plan_along(0, g.sizes_along(0, 20), Interval(0, 2))
    assert windows[0] == Interval(0, 4)


def test_merging_maps_of_different_sizes_is_refused_with_the_sizes():
    strided = Conv(3, 2, 1)
    g = SpatialGraph(
        (
            Node("input", "", "input"),
            Node("s", "s", "conv", (0,), (strided, strided)),
            Node("add", "block.add", "add", (0, 1)),
        ),
        2,
    )
    with pytest.raises(GeometryError, match=r"add at 'block.add' merges feature maps of different sizes \[10, 20\]"):
        g.sizes_along(0, 20)


def test_output_window_outside_the_map_is_refused():
    g = diamond()
    with pytest.raises(GeometryError, match="outside the output of 20 samples"):
        g.plan_along(0, g.sizes_along(0, 20), Interval(18, 21))


def test_graph_must_be_topological():
    with pytest.raises(GeometryError, match="not before it"):
        SpatialGraph((Node("input", "", "input"), Node("x", "x", "add", (1,))), 1)
