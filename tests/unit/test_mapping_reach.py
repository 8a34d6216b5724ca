"""Counting reach by per-axis prefix sums gives the output axons the layer-sized masks give."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntConv2d, IntDense, IntInput, IntLIF, Output, Stage
from snncc.mapping import reach, resources
from snncc.mapping.connectivity import neuron_layers
from snncc.mapping.placement import Piece
from snncc.target import load_target


def lif(shape):
    z = Const(np.zeros(shape, dtype=np.int32))
    return IntLIF(shape=shape, du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z)


def net(rng):
    """Convs with strides, dilation and groups, a layer read by two others (a skip), and a dense head."""
    b = GraphBuilder()
    b.add("x", IntInput(shape=(2, 9, 9), bits=1, encoding="bitplane"))

    def conv(name, src, c_in, c_out, hw, k, stride=1, pad=1, dil=1, groups=1):
        w = rng.integers(1, 9, size=(c_out, c_in // groups, k, k)).astype(np.int32)
        op = IntConv2d(shape=(c_out, hw, hw), weight=Const(w), stride=stride, padding=pad, dilation=dil, groups=groups)
        return b.add(name, op, [src])

    b.add("a", lif((4, 9, 9)), [conv("ca", "x", 2, 4, 9, 3)])
    b.add("b", lif((4, 5, 5)), [conv("cb", "a", 4, 4, 5, 3, stride=2, pad=2, dil=2, groups=2)])
    b.add("c", lif((6, 5, 5)), [conv("cc", "b", 4, 6, 5, 3), conv("skip", "a", 4, 6, 5, 1, stride=2, pad=0)])
    w = rng.integers(1, 9, size=(3, 150)).astype(np.int32)
    b.add("d", lif((3,)), [b.add("fc", IntDense(shape=(3,), weight=Const(w)), ["c"])])
    b.add("out", Output(shape=(3,)), ["d"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))


def random_pieces(graph, rng):
    """Every layer cut into random boxes on random cores: most alone there, some sharing one."""
    out = []
    for name, op in neuron_layers(graph):
        cuts = []
        for size in op.shape:
            points = (
                sorted(rng.choice(np.arange(1, size), size=min(size - 1, int(rng.integers(0, 4))), replace=False))
                if size > 1
                else []
            )
            edges = [0, *map(int, points), size]
            cuts.append(list(itertools.pairwise(edges)))
        for box in np.array(np.meshgrid(*[range(len(c)) for c in cuts], indexing="ij")).reshape(len(cuts), -1).T:
            out.append(Piece(name, tuple(cuts[a][i] for a, i in enumerate(box))))
    cores = rng.integers(0, int(len(out) * rng.uniform(0.7, 2.0)), size=len(out))
    return [(int(c), p) for c, p in zip(cores, out, strict=True)]


@pytest.mark.parametrize("seed", range(12))
def test_separable_reach_counts_equal_the_masks(seed):
    rng = np.random.default_rng(seed)
    graph = net(rng)
    core_pieces = random_pieces(graph, rng)
    assert reach.fan_out(graph, core_pieces) == resources.fan_out(graph, core_pieces)


@pytest.mark.parametrize("seed", range(4))
def test_pieces_with_one_translation_key_cost_the_same(seed):
    rng = np.random.default_rng(seed)
    graph = net(rng)
    loihi = load_target("loihi")
    pieces = [p for _, p in random_pieces(graph, rng)]
    shifted = [  # every piece moved by one row and one column where it stays in the layer
        Piece(p.layer, (p.box[0], *((a + 1, b + 1) for a, b in p.box[1:])))
        for p in pieces
        if len(p.box) == 3 and all(b + 1 <= s for (_, b), s in zip(p.box[1:], graph[p.layer].shape[1:], strict=True))
    ]
    by_key: dict = {}
    for p in pieces + shifted:
        key = resources.translation_key(graph, p)
        if key is not None:
            by_key.setdefault(key, set()).add(resources.piece_inputs(graph, loihi, p))
    assert by_key and all(len(costs) == 1 for costs in by_key.values())
