"""The dendritic accumulator: Loihi 1 wraps q0 = a·2^6 at 21 bits + sign (nengo-loihi's emulator, checked
against the chip by nengo-loihi's test_uv_overflow); the reference backend applies it for `loihi` and counts
the overflows; Lava never applies it, so the Lava comparison runs the reference backend without it."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snncc.accumulator import worst_case_input
from snncc.backends import Record, first_mismatch, get_backend
from snncc.fidelity import known_difference, reference_for
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage
from snncc.target_loader import load

ALL = Record(spikes=True, v=True, u=True)
LOIHI1 = load("loihi").numerics


def neuron(n, *, du=4095, dv=0, vth=100_000, bias=0):
    def full(value):
        return Const(np.full(n, value, dtype=np.int32))

    return IntLIF(shape=(n,), du=du, dv=dv, vth=vth, bias_mant=full(bias), bias_exp=full(0), v_init=full(0))


def one_layer(w, exp, lif, *, steps, numerics):
    b = GraphBuilder()
    x = b.add("x", IntInput(shape=(w.shape[1],), bits=1, encoding="bitplane"))
    syn = b.add("syn0", IntDense(shape=(w.shape[0],), weight=Const(np.asarray(w, np.int32)), weight_exp=exp), [x])
    layer = b.add("lif0", lif, [syn])
    b.add("out", Output(shape=lif.shape, readout="spike_count"), [layer])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=numerics))


def test_targets_state_their_accumulator_with_sources():
    assert (LOIHI1.accumulator_bits, LOIHI1.accumulator_overflow) == (16, "wrap")
    assert load("nahuku32").numerics.accumulator_bits == 16
    loihi2 = load("loihi2")
    assert (loihi2.numerics.accumulator_bits, loihi2.numerics.accumulator_overflow) == (32, "unknown")
    assert "ResourceEstimatorSatScheduler" in dict(loihi2.accumulator)["bits"].source
    assert "Q_BITS = 21" in dict(load("loihi").accumulator)["bits"].source


def test_three_full_weights_at_exponent_6_wrap_q0_as_the_emulator_does():
    """a = 3·255·2^6 = 48,960 > 2^15 − 1: q0 = 64·a wraps at 21 bits + sign to 64·(48,960 − 65,536)."""
    pytest.importorskip("nengo_loihi.emulator.interface")
    w = np.full((1, 3), 255)
    x = np.ones((1, 2, 3), dtype=np.int64)
    graph = one_layer(w, 6, neuron(1), steps=2, numerics=LOIHI1)
    ref = get_backend("refsim").run(graph, {"x": x}, record=ALL)
    emu = get_backend("nengo-loihi").run(graph, {"x": x}, record=ALL)
    assert ref.u["lif0"][0, :, 0].tolist() == [64 * (48_960 - 65_536)] * 2
    assert first_mismatch(ref, emu) is None
    assert ref.stats["lif0"].acc_overflows == 2
    lava_like = get_backend("refsim").run(reference_for("lava", graph)[0], {"x": x}, record=ALL)
    assert lava_like.u["lif0"][0, 0, 0] == 64 * 48_960  # Lava's int32: no bound
    assert lava_like.stats["lif0"].acc_overflows == 0  # Lava's numerics: 32 bits, nothing outside


def test_saturating_and_unknown_accumulators():
    w, x = np.full((1, 3), 255), np.ones((1, 1, 3), dtype=np.int64)
    sat = dataclasses.replace(LOIHI1, accumulator_overflow="saturate")
    unknown = dataclasses.replace(LOIHI1, accumulator_overflow="unknown")
    for numerics, u in ((sat, 64 * 32_767), (unknown, 64 * 48_960)):
        run = get_backend("refsim").run(one_layer(w, 6, neuron(1), steps=1, numerics=numerics), {"x": x}, record=ALL)
        assert run.u["lif0"][0, 0, 0] == u
        assert run.stats["lif0"].acc_overflows == 1


def test_worst_case_bound_is_proved_or_not():
    w = np.array([[255, -254, 0], [10, 10, 10]])
    graph = one_layer(w, 6, neuron(2), steps=1, numerics=LOIHI1)
    # the row of largest sum of |w| as the chip stores it (mixed signs keep even mantissas: 255 -> 254)
    assert worst_case_input(graph, "lif0") == (254 + 254) * 64
    assert worst_case_input(one_layer(w, -1, neuron(2), steps=1, numerics=LOIHI1), "lif0") == 254 + 1  # floor


@st.composite
def networks_at_the_bound(draw):
    """One or two layers whose summed input reaches beyond 2^15 (q0 beyond 2^21): the wrap happens."""
    steps, n_in = draw(st.integers(2, 6)), draw(st.integers(2, 8))
    layers, n_prev = [], n_in
    for _ in range(draw(st.integers(1, 2))):
        n = draw(st.integers(1, 4))
        sign = draw(st.sampled_from([1, -1]))
        w = sign * np.array(draw(st.lists(st.integers(100, 255), min_size=n * n_prev, max_size=n * n_prev)))
        lif = neuron(
            n,
            du=draw(st.sampled_from([4095, draw(st.integers(2048, 4095))])),  # |u| stays below 2^22
            dv=draw(st.sampled_from([0, 4096, draw(st.integers(0, 4095))])),
            vth=draw(st.integers(1, 2**17 - 1)),
            bias=draw(st.integers(-4095, 4095)),
        )
        layers.append((w.reshape(n, n_prev), draw(st.integers(4, 7)), lif))
        n_prev = n
    b = GraphBuilder()
    prev = b.add("x", IntInput(shape=(n_in,), bits=1, encoding="bitplane"))
    for i, (w, exp, lif) in enumerate(layers):
        syn = IntDense(shape=(w.shape[0],), weight=Const(w.astype(np.int32)), weight_exp=exp)
        prev = b.add(f"lif{i}", lif, [b.add(f"syn{i}", syn, [prev])])
    b.add("out", Output(shape=layers[-1][2].shape, readout="spike_count"), [prev])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=LOIHI1))
    x = np.array(draw(st.lists(st.integers(0, 1), min_size=2 * steps * n_in, max_size=2 * steps * n_in)))
    return graph, x.reshape(2, steps, n_in)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(networks_at_the_bound())
def test_random_networks_at_the_bound_are_bit_exact_with_the_emulator(case):
    pytest.importorskip("nengo_loihi.emulator.interface")
    graph, x = case
    ref = get_backend("refsim").run(graph, {"x": x}, record=ALL)
    emu = get_backend("nengo-loihi").run(graph, {"x": x}, record=ALL)
    assert first_mismatch(ref, emu) is None
    # the overflow counter equals an independent count: u = q0 wherever du = 4095 (no memory), and the
    # Lava-semantics run's u is the unwrapped q0
    lava_like = get_backend("refsim").run(reference_for("lava", graph)[0], {"x": x}, record=ALL)
    for name, op in graph.of_type(IntLIF):
        if op.du == 4095 and name == "lif0":  # the first layer's input is the same in both runs
            q0 = lava_like.u[name]
            assert ref.stats[name].acc_overflows == int(((q0 < -(2**21)) | (q0 >= 2**21)).sum())


def test_the_strategy_reaches_the_bound():
    """Eight inputs of weight 255 at exponent 7: a = 8·255·128 = 261,120, far beyond 2^15."""
    w = np.full((1, 8), 255)
    graph = one_layer(w, 7, neuron(1), steps=1, numerics=LOIHI1)
    assert get_backend("refsim").run(graph, {"x": np.ones((1, 1, 8), np.int64)}).stats["lif0"].acc_overflows == 1


def test_lava_semantics_mismatch_is_named_as_the_accumulator():
    """An artifact whose numerics lack Loihi 1's bound (Lava's int32) differs from the emulator where q0
    overflows; the mismatch is named as the accumulator."""
    pytest.importorskip("nengo_loihi.emulator.interface")
    graph = one_layer(np.full((1, 3), 255), 6, neuron(1), steps=1, numerics=LOIHI)
    x = np.ones((1, 1, 3), dtype=np.int64)
    ref = get_backend("refsim").run(graph, {"x": x}, record=ALL)
    mismatch = first_mismatch(ref, get_backend("nengo-loihi").run(graph, {"x": x}, record=ALL))
    assert mismatch is not None and mismatch[0] == "u"
    assert known_difference(graph, mismatch, ref.u).startswith("dendritic accumulator")
