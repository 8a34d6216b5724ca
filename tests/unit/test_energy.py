"""Energy model: event counts and energies worked out by hand on tiny graphs."""

from __future__ import annotations

import numpy as np
import pytest

from snncc.backends import LayerStats, Trace
from snncc.energy import estimate
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage
from snncc.mapping import partition
from snncc.target import load_target


def lif(n):
    z = Const(np.zeros(n, dtype=np.int32))
    return IntLIF(shape=(n,), du=4095, dv=0, vth=10, bias_mant=z, bias_exp=z, v_init=z)


def graph(w0, w1):
    w0, w1 = np.array(w0, np.int32), np.array(w1, np.int32)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(w0.shape[1],), bits=8))
    b.add("fc0", IntDense(shape=(w0.shape[0],), weight=Const(w0)), ["x"])
    b.add("lif0", lif(w0.shape[0]), ["fc0"])
    b.add("fc1", IntDense(shape=(w1.shape[0],), weight=Const(w1)), ["lif0"])
    b.add("lif1", lif(w1.shape[0]), ["fc1"])
    b.add("out", Output(shape=(w1.shape[0],)), ["lif1"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=LOIHI))


def trace(input_events, counts0, counts1, active0, active1, batch=2):
    return Trace(
        batch=batch,
        steps=4,
        outputs={},
        spike_counts={"lif0": np.array(counts0), "lif1": np.array(counts1)},
        input_events={"x": np.array(input_events)},
        stats={"lif0": LayerStats(active_updates=active0), "lif1": LayerStats(active_updates=active1)},
    )


def test_counts_and_energy_by_hand():
    g = graph([[2, 0], [4, 6], [0, 0]], [[1, 1, 0], [0, 1, 1]])
    toy = load_target("toy")  # synop 1, active 1, idle 0.5, in-core 0.1 pJ
    p = partition(g, toy)
    assert p.cores_used == 1
    report = estimate(g, p, trace([3, 5], [2, 4, 0], [1, 1], 10, 6), toy).to_dict()
    # nonzero fan-out: x0 -> 2 synapses, x1 -> 1; lif0 neurons -> 1, 2, 1
    assert report["per_layer"]["lif0"]["synops"] == pytest.approx((3 * 2 + 5 * 1) / 2)
    assert report["per_layer"]["lif1"]["synops"] == pytest.approx((2 * 1 + 4 * 2 + 0 * 1) / 2)
    assert report["neuron_updates"] == pytest.approx((3 + 2) * 4)  # per sample: every neuron every step
    assert report["spike_messages"]["within_core"] == pytest.approx(6 / 2)  # lif0's spikes stay on core 0
    # lif0: 11 synops + 10 active + 14 idle * 0.5 + 6 messages * 0.1 = 28.6; lif1: 10 + 6 + 10 * 0.5 = 21
    assert report["total_pj"] == pytest.approx((28.6 + 21.0) / 2)
    assert report["coefficients"]["synop_pj"]["source"] == "made up for tests"
    assert report["ann_equivalent"]["macs"] == 3 * 2 + 2 * 3


def test_spikes_between_cores_count_mesh_hops():
    g = graph(np.ones((70, 20)), np.ones((5, 70)))
    toy = load_target("toy")
    p = partition(g, toy)
    # lif0 is cut into 64 + 6 neurons; lif1 packs next to the 6 on core 1, one mesh hop from core 0
    assert [(core, piece.box) for core, piece in p.pieces_of("lif0")] == [(0, ((0, 64),)), (1, ((64, 70),))]
    assert [core for core, _ in p.pieces_of("lif1")] == [1]
    assert p.cores[1].position == (1, 0)
    counts0 = [1] * 64 + [2] * 6
    report = estimate(g, p, trace(np.zeros(20), counts0, [0] * 5, 0, 0, batch=1), toy).to_dict()
    msgs = report["spike_messages"]
    assert (msgs["between_cores"], msgs["mesh_hops"], msgs["within_core"]) == (64, 64, 12)


def test_a_recurrent_synapse_counts_like_any_other():
    g = graph([[2, 0], [4, 6], [0, 0]], [[1, 1, 0], [0, 1, 1]])
    b = GraphBuilder()
    for name, op in g.nodes:
        b.add(name, op, list(g.predecessors(name)))
    b.connect(b.add("rec", IntDense(shape=(2,), weight=Const(np.array([[0, 3], [5, 7]], np.int32))), ["lif1"]), "lif1")
    g = b.build(g.meta)
    toy = load_target("toy")
    report = estimate(g, partition(g, toy), trace([3, 5], [2, 4, 0], [1, 3], 10, 6), toy).to_dict()
    # lif1 receives lif0's spikes (fan-out 1, 2, 1) and its own (rec columns: 1 and 2 nonzero weights)
    assert report["per_layer"]["lif1"]["synops"] == pytest.approx((2 * 1 + 4 * 2 + (1 * 1 + 3 * 2)) / 2)
    # its spikes go to its own core now: 4 spikes, one destination core, per 2 samples
    assert report["spike_messages"]["within_core"] == pytest.approx((6 + 4) / 2)
    assert report["ann_equivalent"]["macs"] == 3 * 2 + 2 * 3 + 2 * 2


def test_energy_by_event_type_is_count_times_coefficient_and_adds_up_to_the_total():
    g = graph([[2, 0], [4, 6], [0, 0]], [[1, 1, 0], [0, 1, 1]])
    toy = load_target("toy")  # synop 1, active 1, idle 0.5, in-core 0.1 pJ
    energy = estimate(g, partition(g, toy), trace([3, 5], [2, 4, 0], [1, 1], 10, 6), toy)
    by_event = energy.to_dict()["by_event"]
    # per sample (batch 2): 21 synops, 16 active and 24 idle updates, 6 spikes kept on the one core
    expected = {
        "synaptic_ops": (21 / 2, 1.0),
        "active_neuron_updates": (16 / 2, 1.0),
        "idle_neuron_updates": (24 / 2, 0.5),
        "spikes_within_core": (6 / 2, 0.1),
        "mesh_hops": (0.0, toy.energy.hop_pj.value),
        "between_chips": (0.0, toy.energy.chip_hop_pj.value),
    }
    assert list(by_event) == list(expected)
    for event, (count, pj_each) in expected.items():
        assert by_event[event]["count"] == pytest.approx(count), event
        assert by_event[event]["pj_each"] == pj_each, event
        assert by_event[event]["pj"] == pytest.approx(count * pj_each), event
    assert sum(row["pj"] for row in by_event.values()) == pytest.approx(energy.to_dict()["total_pj"], rel=1e-12)
    assert energy.to_dict()["total_pj"] == pytest.approx(24.8)
