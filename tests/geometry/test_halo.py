"""Halos from window planning against the paper's closed-form recursion."""

import pytest

from tilestream.geometry import Conv, ConvTranspose, Node, SpatialGraph, axis_halo, paper_conv_chain


def chain(ops) -> SpatialGraph:
    nodes = [Node("input", "", "input")]
    for i, op in enumerate(ops):
        nodes.append(Node(f"n{i}", f"layer{i}", op.kind, (i,), (op, op)))
    return SpatialGraph(tuple(nodes), len(nodes) - 1)


CHAINS = [
    [(5, 2)] * 4,  # bmshj2018 g_a
    [(3, 1), (5, 2), (5, 2)],  # bmshj2018 h_a
    [(3, 2), (3, 1), (3, 2), (3, 1), (3, 2), (3, 1), (3, 2)],
    [(7, 1), (4, 2), (3, 3)],
    [(9, 4), (5, 1)],
]


@pytest.mark.parametrize("layers", CHAINS)
def test_window_planning_matches_the_paper_where_its_clamp_is_inactive(layers):
    graph = chain([Conv(k, s, (k - 1) // 2) for k, s in layers])
    halo = axis_halo(graph)
    paper = paper_conv_chain(layers)
    assert halo.direction == "down"
    ours = [(layer.before, layer.after) for layer in halo.layers]
    assert len(ours) == len(paper)
    for (l_ours, r_ours), (l_paper, r_paper) in zip(ours, paper):
        assert l_ours == l_paper
        # the paper clamps a negative right overlap to zero; exact windows never exceed it
        assert r_ours <= r_paper
    assert (halo.before, halo.after) == (max(0, ours[0][0]), ours[0][1]) or halo.after <= paper[0][1]


def test_clamp_case_shows_the_exact_window_is_smaller():
    # a 1x1 stride-2 convolution reads input 2a … 2b-2: one sample less than [2a, 2b)
    halo = axis_halo(chain([Conv(1, 2, 0)]))
    assert (halo.before, halo.after) == (0, -1)
    assert paper_conv_chain([(1, 2)]) == [(0, 0)]


def test_upsampling_halo_of_transposed_convolutions():
    # bmshj2018 g_s: four 5x5 stride-2 transposed convolutions, padding 2, output_padding 1
    graph = chain([ConvTranspose(5, 2, 2, 1)] * 4)
    halo = axis_halo(graph)
    assert (halo.direction, halo.factor) == ("up", 16)
    # output [16a, 16b) needs latent [a-1, b+2): derived by hand with the paper's recursion
    assert (halo.before, halo.after) == (1, 2)
