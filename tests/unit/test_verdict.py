"""Ties and silent outputs are no decision: they cannot make a deployment PASS (issue 15, item 8)."""

from __future__ import annotations

import dataclasses

import numpy as np

from snncc.ir import LIF, LOIHI, Const, Dense, GraphBuilder, GraphMeta, Input, Output, Stage, verify
from snncc.passes.calibrate import calibrate
from snncc.passes.quantize import Quantize, quantize
from snncc.verify import compare, predict, undecided, verdict

rng = np.random.default_rng(5)


def network(readout_threshold: float):
    b = GraphBuilder()
    b.add("x", Input(shape=(6,)))
    b.add("fc1", Dense(shape=(8,), weight=Const(rng.normal(0.4, 0.5, size=(8, 6)))), ["x"])
    b.add("lif1", LIF(shape=(8,), beta=0.75, threshold=1.0), ["fc1"])
    b.add("fc2", Dense(shape=(4,), weight=Const(rng.normal(0.3, 0.6, size=(4, 8)))), ["lif1"])
    b.add("lif2", LIF(shape=(4,), beta=0.9, threshold=readout_threshold), ["fc2"])
    b.add("out", Output(shape=(4,), readout="spike_count"), ["lif2"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=6)))


def lively_network():
    """Output class i follows input i (plus a little of the others): decisions vary with the input."""
    b = GraphBuilder()
    b.add("x", Input(shape=(6,)))
    w1 = np.eye(8, 6) * 1.5 + rng.normal(0, 0.05, size=(8, 6))
    b.add("fc1", Dense(shape=(8,), weight=Const(w1)), ["x"])
    b.add("lif1", LIF(shape=(8,), beta=0.75, threshold=1.0), ["fc1"])
    w2 = np.eye(4, 8) * 1.2 + rng.normal(0, 0.05, size=(4, 8))
    b.add("fc2", Dense(shape=(4,), weight=Const(w2)), ["lif1"])
    b.add("lif2", LIF(shape=(4,), beta=0.9, threshold=1.0), ["fc2"])
    b.add("out", Output(shape=(4,), readout="spike_count"), ["lif2"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=6)))


def deployed(graph, x):
    return quantize(graph, Quantize(numerics=LOIHI), calibrate(graph, {"x": x}, max_steps=255))[0]


def test_tied_and_all_zero_outputs_are_undecided():
    counts = np.array([[0, 0, 0], [2, 2, 1], [0, 3, 1], [1, 0, 1]])
    assert undecided(counts, "spike_count").tolist() == [True, True, False, True]
    assert predict(counts, "spike_count").tolist() == [0, 0, 1, 0]  # accuracy scores as torch's argmax does


def test_a_silent_output_layer_fails_verification_instead_of_agreeing_on_class_0():
    graph = network(readout_threshold=1e6)  # lif2 can never reach its threshold: every sample is silent
    x = rng.integers(0, 17, size=(30, 6)) / 16
    v = compare(graph, deployed(graph, x), {"x": x}, labels=np.zeros(30, dtype=int)).verification
    assert v.silence_layers == ("lif2",)
    assert v.float_silent == v.deployed_silent == 30 and v.float_ties == v.deployed_ties == 30
    assert v.output_agreement == 0.0  # argmax would say 100 %: class 0 on both sides
    passed, reasons = verdict(v, 0.95)
    assert not passed
    assert any("silent on 30 of 30" in r for r in reasons)


def test_a_lively_network_passes():
    graph = lively_network()
    x = rng.integers(0, 17, size=(40, 6)) / 16
    v = compare(graph, deployed(graph, x), {"x": x}).verification
    assert v.float_silent < 10 and v.deployed_silent < 10
    assert v.same_readout is not None and 0 < v.same_readout <= 1
    assert verdict(v, 0.8)[0], verdict(v, 0.8)[1]


def test_lava_mismatch_fails_the_verdict():
    graph = lively_network()
    x = rng.integers(0, 17, size=(20, 6)) / 16
    v = compare(graph, deployed(graph, x), {"x": x}).verification
    v = dataclasses.replace(v, output_agreement=1.0, float_silent=0, deployed_silent=0)
    assert verdict(v, 0.95, {"bit_exact": True})[0]
    assert verdict(v, 0.95, {"bit_exact": False}) == (False, ["Lava differs from the reference backend"])


def constant_network():
    """The output layer's bias alone fires it: class 2 whatever the input (the hidden layer is cut off)."""
    b = GraphBuilder()
    b.add("x", Input(shape=(6,)))
    b.add("fc1", Dense(shape=(8,), weight=Const(np.abs(rng.normal(0.4, 0.5, size=(8, 6))))), ["x"])
    b.add("lif1", LIF(shape=(8,), beta=0.75, threshold=1.0), ["fc1"])
    bias = np.array([0.1, 0.2, 0.6, 0.3])
    b.add("fc2", Dense(shape=(4,), weight=Const(np.zeros((4, 8)))), ["lif1"])
    b.add("lif2", LIF(shape=(4,), beta=0.9, threshold=1.0, bias=Const(bias)), ["fc2"])
    b.add("out", Output(shape=(4,), readout="spike_count"), ["lif2"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=6)))


def test_one_class_whatever_the_input_is_degenerate_with_or_without_labels():
    graph = constant_network()
    x = rng.integers(0, 17, size=(30, 6)) / 16
    int_graph = deployed(graph, x)
    v = compare(graph, int_graph, {"x": x}).verification
    assert v.float_predictions.tolist() == [2] * 30 and v.output_agreement == 1.0 and v.float_silent == 0
    passed, reasons = verdict(v, 0.95)
    assert not passed and any("decides class 2 on 30 of 30 samples whatever the input" in r for r in reasons)
    labelled = compare(graph, int_graph, {"x": x}, labels=np.arange(30) % 4).verification
    assert any("while the labels vary" in r for r in verdict(labelled, 0.95)[1])
    one_label = compare(graph, int_graph, {"x": x}, labels=np.full(30, 2)).verification
    assert verdict(one_label, 0.95) == (True, [])  # a test set of one class may be answered with one class
