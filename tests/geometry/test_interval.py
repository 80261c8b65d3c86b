import pytest
from hypothesis import given
from hypothesis import strategies as st

from tilestream.errors import GeometryError
from tilestream.geometry import Interval, Window

bounds = st.integers(-50, 50)


@st.composite
def intervals(draw):
    a, b = draw(bounds), draw(bounds)
    return Interval(min(a, b), max(a, b))


@given(intervals(), intervals())
def test_hull_contains_both_and_intersection_is_inside_both(a, b):
    h = a.hull(b)
    assert h.contains(a) and h.contains(b)
    i = a.intersect(b)
    assert a.contains(i) and b.contains(i)
    assert set(range(i.start, i.stop)) == set(range(a.start, a.stop)) & set(range(b.start, b.stop))


@given(intervals(), st.integers(1, 40))
def test_clip_keeps_exactly_the_samples_inside_the_map(a, n):
    c = a.clip(n)
    assert set(range(c.start, c.stop)) == {i for i in range(a.start, a.stop) if 0 <= i < n}


@pytest.mark.parametrize("bad", [(3, 2), (1.0, 2), (True, 3), ("0", 1)])
def test_invalid_intervals_are_refused_with_the_value(bad):
    with pytest.raises(GeometryError, match="interval|must be an int"):
        Interval(*bad)


def test_window_slices_relative_to_origin():
    have = Window.from_bounds(10, 20, 5, 9)
    want = Window.from_bounds(12, 15, 6, 9)
    assert want.to_slices(have) == (slice(2, 5), slice(1, 4))
    assert have.contains(want) and not want.contains(have)
    assert Window.full((4, 7)).shape == (4, 7)
