"""Window arithmetic of each layer kind against a brute-force dependency definition."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tilestream.errors import GeometryError
from tilestream.geometry import Conv, ConvTranspose, Interval, PixelShuffle, PixelUnshuffle, Pointwise


def conv_taps(op: Conv, o: int) -> set[int]:
    return {o * op.stride - op.padding + j * op.dilation for j in range(op.kernel)}


def conv_out_size_bruteforce(op: Conv, n: int) -> int:
    # outputs whose taps all lie in [-p, n + p)
    count, o = 0, 0
    while max(conv_taps(op, o)) < n + op.padding:
        count, o = count + 1, o + 1
    return count


def tconv_sources(op: ConvTranspose, o: int, n: int) -> set[int]:
    return {
        i for i in range(-100, n + 100)
        for j in range(op.kernel)
        if i * op.stride - op.padding + j * op.dilation == o
    }


convs = st.builds(
    Conv,
    kernel=st.integers(1, 7),
    stride=st.integers(1, 4),
    padding=st.integers(0, 4),
    dilation=st.integers(1, 3),
)


@st.composite
def tconvs(draw):
    stride = draw(st.integers(1, 4))
    dilation = draw(st.integers(1, 3))
    return ConvTranspose(
        kernel=draw(st.integers(1, 7)),
        stride=stride,
        padding=draw(st.integers(0, 3)),
        output_padding=draw(st.integers(0, max(stride, dilation) - 1)),
        dilation=dilation,
    )


@given(convs, st.integers(1, 40), st.data())
def test_conv_needed_is_the_hull_of_the_taps_and_produced_inverts_it(op, n, data):
    try:
        m = op.out_size(n)
    except GeometryError:
        assert n + 2 * op.padding < op.span
        return
    assert m == conv_out_size_bruteforce(op, n)
    a = data.draw(st.integers(0, m - 1))
    b = data.draw(st.integers(a + 1, m))
    taps = set().union(*(conv_taps(op, o) for o in range(a, b)))
    need = op.needed(Interval(a, b))
    assert (need.start, need.stop) == (min(taps), max(taps) + 1)
    assert op.produced(op.feed(Interval(a, b))) == Interval(a, b)


@given(tconvs(), st.integers(1, 30), st.data())
def test_tconv_needed_is_the_hull_of_contributing_inputs(op, n, data):
    try:
        m = op.out_size(n)
    except GeometryError:
        return
    assert m == (n - 1) * op.stride - 2 * op.padding + op.dilation * (op.kernel - 1) + op.output_padding + 1
    a = data.draw(st.integers(0, m - 1))
    b = data.draw(st.integers(a + 1, m))
    sources = set().union(*(tconv_sources(op, o, n) for o in range(a, b)))
    need = op.needed(Interval(a, b))
    if sources:
        assert (need.start, need.stop) == (min(sources), max(sources) + 1)
    feed = op.feed(Interval(a, b))
    assert feed.contains(need)
    assert op.produced(feed).contains(Interval(a, b))


@given(st.integers(1, 5), st.integers(0, 30), st.integers(1, 10))
def test_pixel_shuffle_windows(r, a, length):
    op = PixelShuffle(r)
    need = op.needed(Interval(a, a + length))
    assert {o // r for o in range(a, a + length)} == set(range(need.start, need.stop))
    assert op.produced(need).contains(Interval(a, a + length))
    inv = PixelUnshuffle(r)
    assert inv.needed(Interval(a, a + length)) == Interval(a * r, (a + length) * r)
    assert inv.produced(inv.needed(Interval(a, a + length))) == Interval(a, a + length)


def test_pointwise_is_identity():
    assert Pointwise().needed(Interval(3, 9)) == Interval(3, 9)
    assert Pointwise().out_size(17) == 17


@pytest.mark.parametrize(
    "build, match",
    [
        (lambda: Conv(0), "kernel must be an integer >= 1"),
        (lambda: Conv(3, stride=0), "stride must be an integer >= 1"),
        (lambda: Conv(3, padding=-1), "padding must be an integer >= 0"),
        (lambda: ConvTranspose(5, 2, 2, output_padding=2), "output_padding 2 must be smaller"),
        (lambda: Conv(5).out_size(3), "too small"),
        (lambda: PixelUnshuffle(2).out_size(7), "divisible by 2"),
        (lambda: Conv(3, stride=2).produced(Interval(1, 5)), "not a multiple of 2"),
    ],
)
def test_invalid_layers_are_refused(build, match):
    with pytest.raises(GeometryError, match=match):
        build()
