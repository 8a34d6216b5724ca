"""The lower bound on cores is a bound: never above the fewest cores an exhaustive search finds.

The search tries every cut of every layer into index ranges and every grouping of the pieces onto
cores, and checks each core with the cost model's per-piece functions (piece_inputs, fan_out), not
with anything the bound computes.
"""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntConv2d, IntDense, IntInput, IntLIF, Output, Stage
from snncc.mapping.bound import cheapest_bits_per_synapse, lower_bound
from snncc.mapping.connectivity import neuron_layers
from snncc.mapping.cost import loihi1_synapse_bits
from snncc.mapping.placement import CoreUsage, Piece
from snncc.mapping.resources import fan_out, memory_bits, piece_inputs
from snncc.target import CoreLimits, Sourced, load_target


def lif(shape):
    z = Const(np.zeros(shape, dtype=np.int32))
    return IntLIF(shape=shape, du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z)


def dense_net(sizes, seed):
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    prev = b.add("x", IntInput(shape=(sizes[0],), bits=1, encoding="bitplane"))
    for i, n in enumerate(sizes[1:]):
        w = rng.integers(1, 50, size=(n, sizes[i])).astype(np.int32) * 2
        prev = b.add(f"lif{i}", lif((n,)), [b.add(f"fc{i}", IntDense(shape=(n,), weight=Const(w)), [prev])])
    b.add("out", Output(shape=(sizes[-1],)), [prev])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))


def conv_net(width, seed):
    """A (1, 1, width) conv layer (3 taps, padding 1) into a dense layer of 2: index ranges are all its boxes."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(1, 1, width), bits=1, encoding="bitplane"))
    w = rng.integers(1, 50, size=(1, 1, 1, 3)).astype(np.int32) * 2
    b.add("conv", IntConv2d(shape=(1, 1, width), weight=Const(w), padding=(0, 1)), ["x"])
    b.add("lif0", lif((1, 1, width)), ["conv"])
    d = rng.integers(1, 50, size=(2, width)).astype(np.int32) * 2
    b.add("lif1", lif((2,)), [b.add("fc", IntDense(shape=(2,), weight=Const(d)), ["lif0"])])
    b.add("out", Output(shape=(2,)), ["lif1"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))


def tiny(neurons, fan_in, fan_out_axons, words, memory_model="loihi1_synapse_words"):
    toy = load_target("toy")
    limits = CoreLimits(*(Sourced(v, "test") for v in (neurons, fan_in, fan_out_axons, words * 64)))
    return dataclasses.replace(toy, per_core=limits, memory_model=memory_model)


def cuts(n):
    """Every way to cut range(n) into consecutive ranges."""
    for k in range(n):
        for points in itertools.combinations(range(1, n), k):
            edges = (0, *points, n)
            yield list(itertools.pairwise(edges))


def groupings(items):
    """Every set partition of ``items`` (lists of lists)."""
    if not items:
        yield []
        return
    first, rest = items[0], items[1:]
    for part in groupings(rest):
        for i in range(len(part)):
            yield [*part[:i], [first, *part[i]], *part[i + 1 :]]
        yield [[first], *part]


def fewest_cores(graph, target):
    layers = neuron_layers(graph)
    pc = target.per_core
    best = None
    per_layer = []
    for name, op in layers:
        axis = len(op.shape) - 1  # cut along the last axis, the others whole
        per_layer.append(
            [
                [Piece(name, tuple((0, s) if a != axis else r for a, s in enumerate(op.shape))) for r in cut]
                for cut in cuts(op.shape[axis])
            ]
        )
    for choice in itertools.product(*per_layer):
        pieces = [p for layer in choice for p in layer]
        cost = {p: piece_inputs(graph, target, p) for p in pieces}
        for cores in groupings(pieces):
            if best is not None and len(cores) >= best:
                continue
            ok = all(
                sum(p.neurons for p in core) <= pc.neurons.value
                and sum(cost[p][0] for p in core) <= pc.fan_in_axons.value
                and sum(cost[p][1] for p in core) <= pc.synapse_memory_bits.value
                for core in cores
            )
            if ok:
                outs = fan_out(graph, [(i, p) for i, core in enumerate(cores) for p in core])
                ok = max(outs.values()) <= pc.fan_out_axons.value and all(  # with the axon map, where it shares memory
                    memory_bits(CoreUsage(0, sum(cost[p][1] for p in core), 0, outs[i]), target)
                    <= pc.synapse_memory_bits.value
                    for i, core in enumerate(cores)
                )
            if ok:
                best = len(cores)
    return best


CASES = [  # (graph, (neurons, input axons, output axons, 64-bit words) per core)
    (lambda: dense_net((3, 4, 3), 0), (3, 8, 8, 4)),
    (lambda: dense_net((3, 4, 3), 1), (4, 4, 8, 8)),  # input axons bind as much as neurons
    (lambda: dense_net((2, 5, 2), 2), (2, 8, 3, 8)),
    (lambda: dense_net((2, 5, 2), 2), (5, 7, 2, 5)),  # output axons give the bound
    (lambda: conv_net(5, 3), (6, 6, 2, 5)),  # output axons, sparse (conv) synapses
    (lambda: conv_net(5, 4), (2, 8, 3, 8)),
    # Intel's Loihi 2 estimator: synapses, synapse map and axon map share one memory
    (lambda: dense_net((3, 4, 3), 0), (4, 8, 8, 4, "loihi2_estimator")),  # memory gives the bound, = optimum
    (lambda: dense_net((2, 5, 2), 2), (4, 8, 8, 4, "loihi2_estimator")),
    (lambda: conv_net(5, 3), (4, 8, 8, 5, "loihi2_estimator")),
    # a core holds few neurons of a layer whose synapses and synapse map fill its memory (caps 4 and 2)
    (lambda: dense_net((3, 4, 3), 0), (4, 12, 8, 3, "loihi2_estimator")),
    (lambda: dense_net((3, 4, 3), 0), (4, 8, 4, 3, "loihi2_estimator")),
]


@pytest.mark.parametrize(("graph", "limits"), CASES)
def test_bound_never_exceeds_the_exhaustive_optimum(graph, limits):
    g, target = graph(), tiny(*limits)
    optimum = fewest_cores(g, target)
    assert optimum is not None
    assert 1 <= lower_bound(g, target) <= optimum


def test_memory_caps_the_neurons_per_core_and_so_raises_the_axons_by_hand():
    from snncc.mapping.bound import _cap, _fewest_synapses, lower_bound_detail
    from snncc.mapping.connectivity import projections

    g, target = dense_net((3, 4, 3), 0), tiny(4, 12, 8, 3, "loihi2_estimator")  # 192 bits a core
    # lif0: 3 synapses x 8 bits + 3 map entries x 32 bits = 120 bits, 96 left: 4 neurons; lif1: 32 + 128, 2 neurons
    assert (_cap(g, "lif0", target), _cap(g, "lif1", target)) == (4, 2)
    # each lif0 neuron reaches 3 lif1 neurons, on >= 2 cores: 8 output axons, and 8 input axons into lif1
    # memory: 192 synapse bits + (3 + 8) x 32 map bits + 8 x 36 axon-map bits = 832 bits, 4.33 cores
    bound = lower_bound_detail(g, target)
    assert bound.binding == "synapse memory" and bound.cores == 5  # counting each axon once gave 3
    conv = conv_net(5, 3)  # 3 taps, padding 1: a border neuron has 2 synapses, a dense one all 5 inputs
    assert _fewest_synapses(projections(conv, "lif0")[0]) == 2
    assert _fewest_synapses(projections(conv, "lif1")[0]) == 5


def test_cheapest_bits_per_synapse_by_hand():
    # 8-bit dense: 62 synapses are 506 bits, 8 words (8.26 bits each; a full block of 64 is 522 bits, 9 words)
    assert cheapest_bits_per_synapse(8, 0) == pytest.approx(512 / 62)
    # 8 + 6 index bits: 45 synapses are 640 bits, exactly 10 words (14.22 bits each)
    assert cheapest_bits_per_synapse(8, 6) == pytest.approx(640 / 45)
    for n in range(1, 65):  # the memory model itself never charges less
        for index in (0, 6):
            assert loihi1_synapse_bits(np.array([n]), 8, index)[0] >= n * cheapest_bits_per_synapse(8, index) - 1e-9


def test_loihi2_estimator_memory_by_hand():
    """One core's memory on the estimator's model: 8 bits per synapse, 32 per input axon, 36 per output axon."""
    g = dense_net((3, 4, 3), 0)
    target = tiny(8, 16, 16, 64, "loihi2_estimator")
    # lif0: 3 input axons x 4 synapses = 12 synapses of 8 bits, and 3 synapse-map entries of 32 bits
    assert piece_inputs(g, target, Piece("lif0", ((0, 4),))) == (3, 12 * 8 + 3 * 32)
    # the axon map: 4 output axons of lif0 (one destination core each) at 36 bits
    assert memory_bits(CoreUsage(4, 192, 3, 4), target) == 192 + 4 * 36
