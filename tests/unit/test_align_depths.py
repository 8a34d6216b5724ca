"""Relays for branches of unequal depth (passes/align_depths.py): structure, exactness, refusals.

Expected values come from outside the pass: the same network without relays, run by the float
simulator and by the reference simulator (neither has latency, so relays must change nothing
there), and the depths Lava's lowering computes on its own.
"""

from __future__ import annotations

import numpy as np
import pytest

from snncc.backends import Record, get_backend
from snncc.backends.refsim import RefSim
from snncc.errors import ImportFailed
from snncc.ir import LIF, LOIHI, Const, Dense, GraphBuilder, GraphMeta, Input, IntLIF, Output, Stage, verify
from snncc.ir.depths import layer_depths
from snncc.passes.align_depths import align_depths, relays_of
from snncc.passes.calibrate import calibrate
from snncc.passes.canonicalize import canonicalize
from snncc.passes.quantize import Quantize, quantize, quantize_inputs

ALL = Record(spikes=True, v=True, u=True)
STEPS = 12


def residual_graph(*, skip_from_input: bool = False):
    """x -> a -> b -> c -> d, with skips a -> c (one layer short) and a -> d (two layers short).

    With ``skip_from_input`` the skip into c starts at the input instead of at a.
    """
    rng = np.random.default_rng(0)

    def dense(n_out, n_in, scale=0.6):
        return Dense(shape=(n_out,), weight=Const(rng.uniform(-0.2, 1.0, (n_out, n_in)) * scale))

    def lif(n, **kw):
        return LIF(shape=(n,), beta=0.9, threshold=1.0, bias=Const(np.full(n, 0.05)), **kw)

    b = GraphBuilder()
    b.add("x", Input(shape=(4,)))
    b.add("a", lif(6, reset="subtract", amplitude=1.5), [b.add("w_a", dense(6, 4), ["x"])])
    b.add("b", lif(6), [b.add("w_b", dense(6, 6), ["a"])])
    skip = b.add("skip_c", dense(5, 4 if skip_from_input else 6), ["x" if skip_from_input else "a"])
    b.add("c", lif(5), [b.add("w_c", dense(5, 6), ["b"]), skip])
    b.add("d", lif(3), [b.add("w_d", dense(3, 5), ["c"]), b.add("skip_d", dense(3, 6), ["a"])])
    b.add("out", Output(shape=(3,), readout="spike_count"), ["d"])
    return verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=STEPS)))


def inputs(n=16):
    return {"x": np.random.default_rng(1).uniform(0, 1, (n, 4))}


def int_graph(canonical):
    calibration = calibrate(canonical, inputs(), max_steps=255)
    graph, _ = quantize(canonical, Quantize(numerics=LOIHI), calibration)
    return verify(graph)


@pytest.fixture(scope="module")
def graphs():
    plain = verify(canonicalize(residual_graph()))
    return plain, verify(align_depths(plain))


def test_relay_chains_equalize_every_path(graphs):
    plain, aligned = graphs
    assert relays_of(aligned) == {"a.relay1": "a", "a.relay2": "a"}  # one chain, shared by c and d
    assert relays_of(plain) == {}
    sources = {n: aligned.predecessors(aligned.predecessors(n)[0])[0] for n in ("a.relay1", "a.relay2")}
    assert sources == {"a.relay1": "a", "a.relay2": "a.relay1"}
    assert aligned.predecessors("skip_c") == ("a.relay1",) and aligned.predecessors("skip_d") == ("a.relay2",)
    # Lava's lowering counts connections itself: before, c and d are reached over paths of unequal length
    before, after = layer_depths(int_graph(plain)), layer_depths(int_graph(aligned))
    assert before["c"] == (2, 3) and before["d"] == (2, 4)
    assert all(shortest == longest for shortest, longest in after.values()), after
    assert after == {"a": (1, 1), "b": (2, 2), "a.relay1": (2, 2), "c": (3, 3), "a.relay2": (3, 3), "d": (4, 4)}


def test_a_chain_is_left_as_it_is():
    b = GraphBuilder()
    b.add("x", Input(shape=(2,)))
    b.add("n", LIF(shape=(2,)), [b.add("w", Dense(shape=(2,), weight=Const(np.eye(2))), ["x"])])
    b.add("out", Output(shape=(2,), readout="spike_count"), ["n"])
    chain = canonicalize(b.build(GraphMeta(stage=Stage.FLOAT, steps=3)))
    assert align_depths(chain) is chain


def test_relays_change_nothing_in_aligned_time_float(graphs):
    plain, aligned = graphs
    sim = get_backend("floatsim")
    a, b = sim.run(plain, inputs(), record=ALL), sim.run(aligned, inputs(), record=ALL)
    np.testing.assert_array_equal(a.outputs["out"], b.outputs["out"])
    for layer in plain.of_type(LIF):
        for var in ("spikes", "v", "u"):
            np.testing.assert_array_equal(getattr(a, var)[layer[0]], getattr(b, var)[layer[0]])
    spikes = a.spikes["a"]
    assert 0.05 < spikes.mean() < 0.9  # the source is neither silent nor saturated: the copy is tested
    np.testing.assert_array_equal(b.spikes["a.relay1"], spikes)  # a relay's spikes are its source's, every step
    np.testing.assert_array_equal(b.spikes["a.relay2"], spikes)


def test_relays_are_exact_in_the_integer_network(graphs):
    plain, aligned = graphs
    ip, ia = int_graph(plain), int_graph(aligned)
    relay = ia["a.relay1"]
    assert isinstance(relay, IntLIF) and relay.reset == "zero" and relay.du == 4095
    (syn,) = ia.predecessors("a.relay1")
    weight = int(ia[syn].weight.array.max()) << ia[syn].weight_exp
    assert 0 <= relay.vth < weight  # fires on one input spike, never without one
    ref_p = RefSim().run(ip, quantize_inputs(ip, inputs()), record=ALL)
    ref_a = RefSim().run(ia, quantize_inputs(ia, inputs()), record=ALL)
    np.testing.assert_array_equal(ref_p.outputs["out"], ref_a.outputs["out"])
    for name, _ in ip.of_type(IntLIF):  # every original layer: the same integer trace
        for var in ("spikes", "v", "u"):
            np.testing.assert_array_equal(getattr(ref_p, var)[name], getattr(ref_a, var)[name], err_msg=name)
    for name in ("a.relay1", "a.relay2"):
        np.testing.assert_array_equal(ref_a.spikes[name], ref_a.spikes["a"], err_msg=name)


def test_a_skip_from_the_analog_input_is_refused_naming_the_layers():
    with pytest.raises(ImportFailed) as info:
        align_depths(canonicalize(residual_graph(skip_from_input=True)))
    (d,) = info.value.diagnostics
    assert (d.code, d.node) == ("IMT014", "c")
    assert "'skip_c'" in d.message and "'x'" in d.message and "pass 2 neuron layer" in d.message  # x at depth 0, b at 2
    assert "after the first neuron layer" in d.hint
