"""Mapping: memory model by hand, conv connectivity against an unrolled matrix, one failing graph per rule."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from snncc.errors import MappingError
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntConv2d, IntDense, IntInput, IntLIF, Output, Stage
from snncc.mapping import check_design_rules, check_placement, partition
from snncc.mapping.connectivity import Projection, nonzero_fan_out, synapses_per_axon
from snncc.mapping.cost import loihi1_synapse_bits
from snncc.target import load_target

rng = np.random.default_rng(5)


def lif(shape, **kw):
    z = Const(np.zeros(shape, dtype=np.int32))
    return IntLIF(shape=shape, du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=kw.pop("v_init", z), **kw)


def mlp(sizes, *, encoding="bitplane", bits=8, **neuron):
    b = GraphBuilder()
    prev = b.add("x", IntInput(shape=(sizes[0],), bits=bits, encoding=encoding))
    for i, n in enumerate(sizes[1:]):
        w = rng.integers(-100, 100, size=(n, sizes[i])).astype(np.int32) * 2
        prev = b.add(f"fc{i}", IntDense(shape=(n,), weight=Const(w)), [prev])
        prev = b.add(f"lif{i}", lif((n,), **neuron), [prev])
    b.add("out", Output(shape=(sizes[-1],)), [prev])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))


def test_memory_model_by_hand():
    # 64 synapses of 8 bits + 10 header bits = 522 bits -> 9 words; a 65th starts a block of 18 bits -> 1 word
    assert loihi1_synapse_bits(np.array([0, 1, 64, 65]), 8, 0).tolist() == [0, 64, 576, 640]
    # sparse: 8 weight + 6 index bits: 10 synapses = 150 bits -> 3 words
    assert loihi1_synapse_bits(np.array([10]), 8, 6).tolist() == [192]


def conv_matrix(w, in_shape, stride, pad):
    """The conv as an explicit (out, in) 0/1 connectivity matrix, by loops."""
    c_out, c_in, kh, kw = w.shape
    _, h, wd = in_shape
    oh, ow = (h + 2 * pad - kh) // stride + 1, (wd + 2 * pad - kw) // stride + 1
    m = np.zeros((c_out, oh, ow, c_in, h, wd), dtype=np.int64)
    for o in range(c_out):
        for y in range(oh):
            for x in range(ow):
                for c in range(c_in):
                    for i in range(kh):
                        for j in range(kw):
                            yy, xx = y * stride - pad + i, x * stride - pad + j
                            if 0 <= yy < h and 0 <= xx < wd and w[o, c, i, j] != 0:
                                m[o, y, x, c, yy, xx] = 1
    return m


def test_conv_connectivity_matches_the_unrolled_matrix():
    w = rng.integers(1, 5, size=(3, 2, 3, 3)).astype(np.int32)
    w[0, 1, 0, 0] = 0
    op = IntConv2d(shape=(3, 3, 3), weight=Const(w), stride=2, padding=1)
    p = Projection("c", op, "x", (2, 6, 6), 1, False)
    m = conv_matrix(w, (2, 6, 6), 2, 1)
    box = ((1, 3), (0, 2), (1, 3))  # channels 1-2, rows 0-1, cols 1-2
    expected = (conv_matrix(np.ones_like(w), (2, 6, 6), 2, 1)[1:3, 0:2, 1:3]).sum(axis=(0, 1, 2))
    np.testing.assert_array_equal(synapses_per_axon(p, op.shape, box), expected)
    np.testing.assert_array_equal(nonzero_fan_out(p), m.sum(axis=(0, 1, 2)))


def test_dense_layer_is_split_and_every_neuron_placed_once():
    g = mlp([20, 150, 10], encoding="graded")
    toy = load_target("toy")
    p = partition(g, toy)
    assert check_placement(g, p, toy) == []
    assert sum(c.usage.neurons for c in p.cores) == 160
    assert all(c.usage.neurons <= 64 for c in p.cores)
    assert p.cores_used >= p.lower_bound_cores == 3  # ceil(160 / 64)
    assert len(p.pieces_of("lif0")) == 3


def test_conv_layers_are_tiled_spatially():
    w = rng.integers(-50, 50, size=(16, 4, 3, 3)).astype(np.int32) * 2
    b = GraphBuilder()
    b.add("x", IntInput(shape=(4, 8, 8), bits=4, encoding="bitplane"))
    b.add("conv", IntConv2d(shape=(16, 8, 8), weight=Const(w), padding=1), ["x"])
    b.add("lif", lif((16, 8, 8)), ["conv"])
    b.add("out", Output(shape=(16, 8, 8)), ["lif"])
    g = b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))
    toy = load_target("toy")
    with pytest.raises(MappingError) as err:  # 1024 neurons on 4 cores of 64
        partition(g, toy)
    assert {d.code for d in err.value.diagnostics} == {"MAP005"}
    loihi = load_target("loihi")
    p = partition(g, loihi)
    assert check_placement(g, p, loihi) == []
    boxes = [piece.box for _, piece in p.pieces_of("lif")]
    assert all(box[0] == (0, 16) for box in boxes)  # every tile keeps all channels


@pytest.mark.slow  # maps a 57k-neuron network
def test_vgg_sized_network_maps_quickly_and_validly():
    def conv(cin, cout, hw, stride):
        out = hw // stride
        w = rng.integers(-60, 60, size=(cout, cin, 3, 3)).astype(np.int32) * 2
        return IntConv2d(shape=(cout, out, out), weight=Const(w), stride=stride, padding=1), out

    b = GraphBuilder()
    prev, hw, c = b.add("x", IntInput(shape=(3, 32, 32), bits=8, encoding="bitplane")), 32, 3
    for i, (cout, stride) in enumerate([(32, 1), (32, 2), (64, 1), (64, 2), (128, 1), (128, 2)]):
        op, hw = conv(c, cout, hw, stride)
        prev = b.add(f"lif{i}", lif(op.shape), [b.add(f"conv{i}", op, [prev])])
        c = cout
    for i, n in enumerate([512, 10]):
        w = rng.integers(-60, 60, size=(n, int(np.prod(b._nodes[-1][1].shape)))).astype(np.int32) * 2
        prev = b.add(f"lif_fc{i}", lif((n,)), [b.add(f"fc{i}", IntDense(shape=(n,), weight=Const(w)), [prev])])
    b.add("out", Output(shape=(10,)), [prev])
    g = b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))
    one_chip = load_target("loihi")
    with pytest.raises(MappingError) as err:  # conv weights are not shared in Loihi 1 synapse memory
        partition(g, one_chip)
    assert err.value.code == "MAP013"
    four_chips = dataclasses.replace(one_chip, chips=dataclasses.replace(one_chip.chips, value=4))
    p = partition(g, four_chips)
    assert check_placement(g, p, four_chips) == []
    assert p.lower_bound_cores <= p.cores_used <= 512
    assert {c.chip for c in p.cores} == set(range(max(c.chip for c in p.cores) + 1))


@pytest.mark.parametrize(
    ("graph", "target", "code", "layer"),
    [
        (lambda: mlp([300, 10], encoding="graded"), "toy", "MAP003", "lif0"),  # 300 input axons > 256
        (lambda: mlp([4, 4], reset="subtract"), "loihi", "MAP002", "lif0"),
        (lambda: mlp([4, 4], v_floor=0), "loihi", "MAP002", "lif0"),
        (lambda: mlp([4, 4], v_init=Const(np.ones(4, np.int32))), "loihi", "MAP002", "lif0"),
        (lambda: mlp([4, 4], encoding="graded"), "loihi", "MAP001", "x"),
        (lambda: mlp([10, 200, 200], encoding="graded"), "toy", "MAP005", "lif0"),
    ],
)
def test_each_design_rule_fails_its_graph(graph, target, code, layer):
    diags = [d for d in check_design_rules(graph(), load_target(target)) if d.severity == "error"]
    assert [(d.code, d.node) for d in diags] == [(code, layer)]
    assert diags[0].hint


def test_fan_in_of_bit_plane_input_says_why_it_is_large():
    # 40 values x 8 bit planes = 320 axons > the toy core's 256; graded input would need only 40
    diags = check_design_rules(mlp([40, 10], encoding="bitplane", bits=8), load_target("toy"))
    (fan_in,) = [d for d in diags if d.code == "MAP003"]
    assert "320 input axons" in fan_in.message and "8 bit planes" in fan_in.message
    assert "graded spikes" in fan_in.hint
    graded = check_design_rules(mlp([300, 10], encoding="graded"), load_target("toy"))
    assert "bit planes" not in next(d for d in graded if d.code == "MAP003").message


def test_a_layer_cut_by_its_output_axons_says_so():
    toy = load_target("toy")
    narrow = dataclasses.replace(
        toy,
        per_core=dataclasses.replace(
            toy.per_core, fan_out_axons=dataclasses.replace(toy.per_core.fan_out_axons, value=16)
        ),
    )
    p = partition(mlp([4, 40, 4], encoding="graded"), narrow)
    split = next(s for s in p.layers if s.layer == "lif0")
    # 40 neurons, one destination core each, 16 output axons per core: pieces of at most 16 neurons
    assert split.neurons_per_piece <= 16 and split.pieces >= 3
    assert split.binding == "output axons" and split.binding_use == 1.0


def test_all_violations_are_reported_at_once():
    g = mlp([5000, 300, 10], reset="subtract", encoding="graded")
    with pytest.raises(MappingError) as err:
        partition(g, load_target("loihi"))
    assert sorted(d.code for d in err.value.diagnostics) == ["MAP001", "MAP002", "MAP002", "MAP003"]


def test_uncertain_limits_give_a_warning():
    diags = check_design_rules(mlp([4, 4]), load_target("loihi2"))
    assert [d.code for d in diags if d.severity == "warning"] == ["MAP030"]
    assert diags[-1].source == "loihi2.yaml"  # it goes into every report: never the install path


@given(st.lists(st.integers(1, 150), min_size=2, max_size=4))
def test_partition_is_valid_or_refuses(sizes):
    g = mlp(sizes, encoding="graded")
    toy = load_target("toy")
    try:
        p = partition(g, toy)
    except MappingError as err:
        assert err.diagnostics and all(d.code.startswith("MAP") for d in err.diagnostics)
    else:
        assert check_placement(g, p, toy) == []


def test_placement_round_trips_through_json():
    from snncc.mapping import Placement

    p = partition(mlp([20, 150, 10], encoding="graded"), load_target("toy"))
    assert Placement.from_dict(p.to_dict()) == p


def test_snake_mesh_keeps_consecutive_cores_adjacent():
    from snncc.mapping.arrange import mesh_position

    loihi = load_target("loihi")  # 8 columns
    positions = [mesh_position(k, loihi) for k in range(24)]
    assert positions[7] == (7, 0) and positions[8] == (7, 1) and positions[16] == (0, 2)
    assert all(abs(a[0] - b[0]) + abs(a[1] - b[1]) == 1 for a, b in itertools.pairwise(positions))
    assert mesh_position(128, loihi) == (0, 0)  # the next chip starts over


def test_arrangement_never_costs_more_than_the_topological_order_and_uses_rates():
    import dataclasses

    from snncc.mapping.arrange import cost, traffic

    g = mlp([20, 150, 150, 10], encoding="graded")
    toy = load_target("toy")
    two_chips = dataclasses.replace(toy, chips=dataclasses.replace(toy.chips, value=3))
    rates = {"lif0": np.linspace(0, 1, 150), "lif1": np.full(150, 0.1), "lif2": np.zeros(10)}
    p = partition(g, two_chips, firing_rates=rates)
    summary = dict(p.traffic)
    assert summary["rates"] == "measured"
    assert summary["cost"] <= summary["cost_topological_order"]
    assert check_placement(g, p, two_chips) == []
    # recompute the cost of the chosen arrangement independently from the placement's pieces
    bins = [list(c.pieces) for c in p.cores]
    flows = traffic(g, bins, rates)
    assert cost(list(range(len(bins))), flows, two_chips)[0] == pytest.approx(summary["cost"], abs=1e-3)


def test_regroup_swaps_cores_so_that_busy_pairs_share_a_chip():
    from snncc.mapping.arrange import cost, regroup

    loihi = load_target("loihi")  # 128 cores a chip
    n = 2 * 128 + 40
    # core b talks to core b + 128 only: in the given order every one of these pairs crosses chips
    flows = {(b, b + 128): 1.0 for b in range(128)} | {(b + 256, b + 128): 5.0 for b in range(40)}
    order = list(range(n))
    assert cost(order, flows, loihi)[2] == 128 + 40 * 5
    grouped = regroup(order, flows, loihi)
    assert sorted(grouped) == order  # a permutation: every chip as full as before
    # the heavier pairs (weight 5) now share chips; at most the light ones cross
    assert cost(grouped, flows, loihi)[2] < 128 + 40 * 5
    chip = {b: k // 128 for k, b in enumerate(grouped)}
    assert all(chip[b + 256] == chip[b + 128] for b in range(40))


def test_weighted_median_is_where_the_weighted_distances_are_fewest():
    from snncc.mapping.arrange import _weighted_median

    assert _weighted_median([0, 5, 9], [1.0, 1.0, 1.0]) == 5
    assert _weighted_median([0, 5, 9], [1.0, 1.0, 3.0]) == 9  # 3 spikes to 9 outweigh 2 elsewhere
    assert _weighted_median([7, 2], [1.0, 4.0]) == 2


def test_shared_conv_memory_by_hand():
    from snncc.mapping.cost import shared_conv_bits

    # 4 output channels x 2 input channels x 3x3 x 8 bits = 576 bits, + 10 axons x 32-bit pointers = 896 bits
    assert shared_conv_bits(4, 2, (3, 3), 10, 8) == 896
    assert shared_conv_bits(4, 2, (3, 3), 11, 8) == 960  # 928 bits round up to 15 words


def test_a_recurrent_layer_takes_its_own_neurons_as_input_axons():
    from snncc.mapping.resources import piece_inputs

    g = mlp([6, 4], encoding="graded")
    b = GraphBuilder()
    for name, op in g.nodes:
        b.add(name, op, list(g.predecessors(name)))
    w_rec = np.array([[0, 2, 0, 0], [0, 0, 0, 0], [4, 0, 0, 6], [0, 0, 0, 8]], np.int32)
    b.connect(b.add("rec", IntDense(shape=(4,), weight=Const(w_rec)), ["lif0"]), "lif0")
    rec = b.build(g.meta)
    toy = load_target("toy")
    (piece,) = [p for _, p in partition(rec, toy).pieces_of("lif0")]
    axons, bits = piece_inputs(rec, toy, piece)
    plain_axons, plain_bits = piece_inputs(g, toy, piece)
    # a dense projection reaches every neuron of the piece from every source neuron: 4 more axons
    # and their synapses
    assert axons == plain_axons + 4
    assert bits > plain_bits
    assert [d for d in check_placement(rec, partition(rec, toy), toy) if d.severity == "error"] == []


def test_a_fill_may_cut_across_channels_where_that_fills_the_core_closer():
    from snncc.mapping.partition import _fill
    from snncc.mapping.placement import CoreUsage, Piece

    toy = load_target("toy")  # 65,536 bits of memory a core
    piece = Piece("conv", ((0, 4), (0, 3), (0, 1)))  # 4 channels x 3 rows x 1 column

    def usage_of(p):
        return CoreUsage(p.neurons, 5000 * p.neurons, 0, 0)

    used = CoreUsage(0, 65536 - 30000, 0, 0)  # room for 6 of its 12 neurons
    (head, _), rest = _fill(used, piece, toy, usage_of)  # rows only: 1 row of 4 neurons fits
    assert head.box == ((0, 4), (0, 1), (0, 1)) and rest.box == ((0, 4), (1, 3), (0, 1))
    (head, _), rest = _fill(used, piece, toy, usage_of, any_axis=True)  # 2 channels x 3 rows: all 6
    assert head.box == ((0, 2), (0, 3), (0, 1)) and rest.box == ((2, 4), (0, 3), (0, 1))
