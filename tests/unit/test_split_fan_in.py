"""A layer whose fan-in exceeds a core's input axons is split into partial sums (issue 15, item 7).

Oracle: the same integer graph unsplit, run by refsim (SPEC.md §int_partial_sum: equal bit for bit
for a weight exponent >= 0; each part floored separately below 0).  The target is targets/toy.yaml
with graded relays and 16 cores (tests/targets/toy_relay.yaml): 256 input axons per core.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from snncc.backends import Record
from snncc.backends.refsim import RefSim
from snncc.energy import estimate, synaptic_ops
from snncc.errors import InvalidGraph, MappingError
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, IntPartialSum, Output, Stage
from snncc.ir import verify as verify_graph
from snncc.mapping import check_design_rules, check_placement, partition
from snncc.mapping.split import fan_in_axons, split_fan_in, splits_of
from snncc.target import load_target

TOY_RELAY = load_target(Path(__file__).resolve().parents[1] / "targets" / "toy_relay.yaml")
ALL = Record(spikes=True, v=True, u=True)


def lif(n: int, vth: int = 100) -> IntLIF:
    z = Const(np.zeros(n, dtype=np.int32))
    return IntLIF(shape=(n,), du=4095, dv=0, vth=vth, bias_mant=z, bias_exp=z, v_init=z)


def wide_net(hidden: int = 600, weight_exp: int = 0, seed: int = 0, extra_layer: bool = False):
    """x (16 graded) -> fc0 -> h (``hidden`` spiking) -> fc1 (exponent ``weight_exp``) -> o (10)."""
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(16,), bits=4, encoding="graded"))
    w0 = rng.integers(-30, 60, size=(hidden, 16)).astype(np.int32) * 2
    b.add("h", lif(hidden), [b.add("fc0", IntDense(shape=(hidden,), weight=Const(w0)), ["x"])])
    w1 = rng.integers(-120, 127, size=(10, hidden)).astype(np.int32) * 2
    vth = 100 << max(weight_exp, 0)
    b.add("o", lif(10, vth), [b.add("fc1", IntDense(shape=(10,), weight=Const(w1), weight_exp=weight_exp), ["h"])])
    b.add("out", Output(shape=(10,), readout="spike_count"), ["o"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=LOIHI))


def inputs(n: int = 6, seed: int = 1) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).integers(0, 16, size=(n, 16))}


def test_a_layer_too_wide_for_a_core_is_split_into_parts_that_each_fit_one():
    graph = wide_net()
    assert fan_in_axons(graph, TOY_RELAY, "o") == 600  # 600 > 256: the design rules refuse it unsplit
    assert [d.code for d in check_design_rules(graph, TOY_RELAY) if d.severity == "error"] == ["MAP003"]
    split = split_fan_in(graph, TOY_RELAY)
    verify_graph(split)
    assert splits_of(split) == {"o": ["o.part1", "o.part2", "o.part3"]}
    parts = [split[p] for p in splits_of(split)["o"]]
    assert [(p.start, p.weight.shape[1]) for p in parts] == [(0, 200), (200, 200), (400, 200)]
    assert all(fan_in_axons(split, TOY_RELAY, p) == 200 for p in splits_of(split)["o"])
    assert fan_in_axons(split, TOY_RELAY, "o") == 3  # one identity synapse per part
    placement = partition(split, TOY_RELAY)
    assert check_placement(split, placement, TOY_RELAY) == []
    assert {"o.part1", "o.part2", "o.part3"} <= {layer for core in placement.cores for layer in core.layers}
    assert split_fan_in(split, TOY_RELAY) is split  # nothing left to split


@pytest.mark.parametrize("weight_exp", [0, 2])
def test_the_split_layer_equals_the_unsplit_one_bit_for_bit(weight_exp):
    graph = wide_net(weight_exp=weight_exp)
    split = split_fan_in(graph, TOY_RELAY)
    ref, got = RefSim().run(graph, inputs(), record=ALL), RefSim().run(split, inputs(), record=ALL)
    assert ref.spike_counts["o"].sum() > 0 and ref.spike_counts["h"].sum() > 0  # the layers are active
    for var in ("u", "v", "spikes"):
        for layer in ("h", "o"):
            np.testing.assert_array_equal(getattr(ref, var)[layer], getattr(got, var)[layer])
    np.testing.assert_array_equal(ref.outputs["out"], got.outputs["out"])
    # each part's payload (recorded as its v) is its columns' sum; together they are the layer's input
    total = sum(got.v[p] for p in splits_of(split)["o"])
    np.testing.assert_array_equal(total << 6 << weight_exp, got.u["o"])  # du = 4095: u = a·2^6 each step


def test_a_negative_exponent_floors_each_part_so_the_input_can_be_at_most_parts_minus_one_lower():
    graph = wide_net(weight_exp=-3)
    split = split_fan_in(graph, TOY_RELAY)
    ref, got = RefSim().run(graph, inputs(), record=ALL), RefSim().run(split, inputs(), record=ALL)
    lower = (ref.u["o"] - got.u["o"]) >> 6  # in units of a (u = a·2^6)
    assert lower.min() >= 0 and lower.max() <= 2  # 3 parts
    assert lower.max() > 0  # the difference SPEC.md states is real


def test_graded_input_with_large_weights_gets_more_parts_so_that_sums_fit_the_payload():
    rng = np.random.default_rng(3)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(600,), bits=8, encoding="graded"))
    w = np.full((4, 600), 254, dtype=np.int32)
    w[:, ::7] = rng.integers(-127, 127, size=(4, 86)).astype(np.int32) * 2
    b.add("o", lif(4), [b.add("fc", IntDense(shape=(4,), weight=Const(w)), ["x"])])
    b.add("out", Output(shape=(4,)), ["o"])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))
    split = split_fan_in(graph, TOY_RELAY)
    parts = splits_of(split)["o"]
    assert len(parts) > 3  # 3 parts fit the axons, but 200 x 255 x 256 > 2^23
    verify_graph(split)  # the payload bound holds for every part (else GRF055)
    x = {"x": np.full((2, 600), 255)}
    ref, got = RefSim().run(graph, x, record=ALL), RefSim().run(split, x, record=ALL)
    np.testing.assert_array_equal(ref.u["o"], got.u["o"])


def test_a_partial_sum_whose_sum_can_exceed_its_payload_is_refused():
    graph = split_fan_in(wide_net(), TOY_RELAY)
    part = graph["o.part1"]
    narrow = dataclasses.replace(part, payload_bits=12)  # a row of 200 weights up to 254 sums past 2^11
    bad = dataclasses.replace(graph, nodes=tuple((n, narrow if n == "o.part1" else op) for n, op in graph.nodes))
    with pytest.raises(InvalidGraph) as err:
        verify_graph(bad)
    assert [d.code for d in err.value.diagnostics] == ["GRF055"]
    assert err.value.diagnostics[0].node == "o.part1"


def test_a_target_without_graded_relays_refuses_and_names_the_one_that_splits():
    graph = wide_net()
    toy = load_target("toy")
    assert split_fan_in(graph, toy) is graph
    (fan_in,) = [d for d in check_design_rules(graph, toy) if d.code == "MAP003"]
    assert "toy cannot split one neuron's inputs across cores" in fan_in.hint
    assert "loihi2 has graded spikes and snncc splits such layers there" in fan_in.hint
    assert "graded_relay" in load_target("loihi2").neuron_features
    assert "graded_relay" not in load_target("loihi").neuron_features


def test_a_split_that_would_delay_one_path_of_a_later_layer_is_refused():
    # q reads o (which the split delays one step) and r (x -> s -> r), as deep as o before the split
    graph = wide_net()
    b = GraphBuilder()
    for name, op in graph.nodes:
        if name != "out":
            b.add(name, op, graph.predecessors(name))
    eye = Const(np.eye(10, dtype=np.int32))
    b.add("s", lif(10), [b.add("fc_s", IntDense(shape=(10,), weight=Const(np.eye(10, 16, dtype=np.int32))), ["x"])])
    b.add("r", lif(10), [b.add("fc_r", IntDense(shape=(10,), weight=eye), ["s"])])
    b.add(
        "q",
        lif(10),
        [
            b.add("from_o", IntDense(shape=(10,), weight=eye), ["o"]),
            b.add("from_r", IntDense(shape=(10,), weight=eye), ["r"]),
        ],
    )
    b.add("out", Output(shape=(10,)), ["q"])
    graph = b.build(graph.meta)
    with pytest.raises(MappingError) as err:
        split_fan_in(graph, TOY_RELAY)
    (d,) = err.value.diagnostics
    assert d.code == "MAP006" and d.node == "q" and "delays it one step" in d.message


def test_parts_cost_synaptic_ops_and_messages_but_no_ann_macs():
    graph = wide_net()
    split = split_fan_in(graph, TOY_RELAY)
    ref, got = RefSim().run(graph, inputs()), RefSim().run(split, inputs())
    ops_ref, ops_split = synaptic_ops(graph, ref), synaptic_ops(split, got)
    parts = splits_of(split)["o"]
    # the parts do the unsplit layer's synaptic work between them; the join adds one op per payload sent
    assert sum(ops_split[p] for p in parts) == pytest.approx(ops_ref["o"])
    assert ops_split["o"] == pytest.approx(sum(got.spike_counts[p].sum() for p in parts) / got.batch)
    energy = estimate(split, partition(split, TOY_RELAY), got, TOY_RELAY).to_dict()
    unsplit_macs = 16 * 600 + 600 * 10
    assert energy["ann_equivalent"]["macs"] == unsplit_macs
    assert all(energy["per_layer"][p]["spikes"] > 0 for p in parts)  # graded spikes are messages


def test_an_int_partial_sum_must_read_a_neuron_layer_or_graded_input():
    b = GraphBuilder()
    b.add("x", IntInput(shape=(8,), bits=4, encoding="bitplane"))
    w = Const(np.ones((3, 8), dtype=np.int32))
    b.add("p", IntPartialSum(shape=(3,), weight=w, start=0), ["x"])
    b.add("o", lif(3), [b.add("j", IntDense(shape=(3,), weight=Const(np.eye(3, dtype=np.int32))), ["p"])])
    b.add("out", Output(shape=(3,)), ["o"])
    with pytest.raises(InvalidGraph) as err:
        verify_graph(b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI)))
    assert "GRF030" in [d.code for d in err.value.diagnostics]


def test_backends_and_exports_without_graded_partial_sums_refuse_a_split_graph(tmp_path):
    from snncc.backends.nengo_loihi import NengoLoihiBackend
    from snncc.errors import BackendError, OutputError
    from snncc.exporters.netx import write_netx
    from snncc.sanafe_export import refuse_unsupported

    split = split_fan_in(wide_net(), TOY_RELAY)
    with pytest.raises(OutputError) as netx:
        write_netx(split, tmp_path / "x.net")
    assert {(d.code, d.node) for d in netx.value.diagnostics} == {("OUT207", p) for p in splits_of(split)["o"]}
    assert not (tmp_path / "x.net").exists()
    with pytest.raises(BackendError, match=r"o\.part1: a partial sum of a split layer sends graded spikes"):
        refuse_unsupported(split)
    codes = {(d.code, d.node) for d in NengoLoihiBackend().check(split)}
    assert ("BKD040", "o.part1") in codes


def test_refsim_on_torch_tensors_runs_partial_sums_like_numpy():
    split = split_fan_in(wide_net(weight_exp=1), TOY_RELAY)
    a, b = RefSim().run(split, inputs(), record=ALL), RefSim(device="cpu").run(split, inputs(), record=ALL)
    assert set(a.v) == set(b.v) >= {"o.part1", "o.part2", "o.part3"}
    for name in a.v:
        np.testing.assert_array_equal(a.v[name], b.v[name])
    for name in a.spike_counts:
        np.testing.assert_array_equal(a.spike_counts[name], b.spike_counts[name])
