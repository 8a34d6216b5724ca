"""Negative weight exponents (issue 24, item 3): with e < 0 Lava and snncc floor each step's summed input,
Loihi 1 (nengo-loihi's model) each weight, and a split layer each part.  The quantizer gives up one mantissa
bit to avoid such an exponent, and warns (QNT022) where it would have to give up more."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snncc.backends import Record
from snncc.backends.refsim import RefSim
from snncc.ir import LIF, Const, Dense, GraphBuilder, GraphMeta, Input, Output, Stage
from snncc.mapping.split import split_fan_in, splits_of
from snncc.passes.quantize import Quantize, quantize
from snncc.target import load_target

TOY_RELAY = load_target(Path(__file__).resolve().parents[1] / "targets" / "toy_relay.yaml")
ALL = Record(spikes=True, v=True, u=True)


def float_net(w1_scale: float):
    """x (16) -> fc0 -> h (600 spiking) -> fc1 (positive weights of about ``w1_scale``) -> o (10), threshold 1.
    At threshold 1 the voltage range sets o's scale s ~ 2^16, so fc1's exponent is ceil(log2(s·max w / 255))."""
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    b.add("x", Input(shape=(16,)))
    w0 = rng.uniform(-0.3, 0.6, size=(600, 16))
    b.add("h", LIF(shape=(600,)), [b.add("fc0", Dense(shape=(600,), weight=Const(w0)), ["x"])])
    w1 = rng.uniform(0.3, 1.0, size=(10, 600)) * w1_scale
    b.add("o", LIF(shape=(10,)), [b.add("fc1", Dense(shape=(10,), weight=Const(w1)), ["h"])])
    b.add("out", Output(shape=(10,), readout="spike_count"), ["o"])
    return b.build(GraphMeta(stage=Stage.CANONICAL, steps=4))


def quantized(graph, bits: int):
    options = Quantize(numerics=TOY_RELAY.numerics, input_encoding="graded", exp_bits_to_avoid_negative=bits)
    return quantize(graph, options)


def test_an_exponent_of_minus_one_becomes_zero_for_under_one_mantissa_bit_and_the_split_is_then_exact():
    """o's scale is set by the voltage range, s ~ 65,535: the largest weight 0.003 takes 196 of 255 at e = 0.
    Before, the quantizer halved s to fill the mantissa at e = -1 (255); now it keeps e = 0."""
    graph = float_net(0.003)
    before, report_before = quantized(graph, 0)  # as the quantizer chose before: e = -1, odd mantissas
    after, report_after = quantized(graph, 1)
    assert before["fc1"].weight_exp == -1 and np.any(before["fc1"].weight.array % 2)
    assert int(np.abs(before["fc1"].weight.array).max()) == 255
    assert [d.code for d in report_before.diagnostics] == ["QNT022"]
    assert after["fc1"].weight_exp == 0 and not report_after.diagnostics
    assert 128 < int(np.abs(after["fc1"].weight.array).max()) < 255  # the cost: under one bit

    # fc1 reads 600 spikes, more than the 256 axons of a toy_relay core: split into 3 parts
    x = {"x": np.random.default_rng(1).integers(0, 256, size=(8, 16))}
    for graph_int, exact in ((before, False), (after, True)):
        split = split_fan_in(graph_int, TOY_RELAY)
        assert len(splits_of(split)["o"]) == 3
        whole, parts = RefSim().run(graph_int, x, record=ALL), RefSim().run(split, x, record=ALL)
        assert whole.spike_counts["h"].sum() > 0
        same = np.array_equal(whole.u["o"], parts.u["o"])
        assert same == exact  # e = -1 floors each part: the split layer's input is lower


def test_an_exponent_that_would_cost_more_bits_is_kept_and_warned_with_the_share_of_weights_it_affects():
    graph = float_net(0.0003)  # e = -4 at this scale
    q, report = quantized(graph, 1)
    assert q["fc1"].weight_exp <= -2
    (warning,) = report.diagnostics
    assert warning.code == "QNT022" and warning.node == "o"
    share = np.mean(q["fc1"].weight.array % (1 << -q["fc1"].weight_exp) != 0)
    assert f"{share:.0%} of the weights are not multiples" in warning.message and share > 0.5


@pytest.mark.parametrize("bits", [0, 1])
def test_mixed_sign_weights_at_minus_one_are_even_so_the_exponent_stays(bits):
    """Lava keeps even mantissas only for mixed signs: at e = -1 every weight is a multiple of 2, so flooring
    the sum and each weight agree, and no bit is given up."""
    graph = float_net(0.003)
    w = graph["fc1"].weight.array.copy()
    w[:, ::2] *= -1
    graph = graph.replace_nodes(fc1=Dense(shape=(10,), weight=Const(w)))
    q, report = quantized(graph, bits)
    assert q["fc1"].weight_exp == -1 and not np.any(q["fc1"].weight.array % 2)
    assert not report.diagnostics
