"""Float-vs-deployed comparison: agreement counts and the first layer that diverges."""

from __future__ import annotations

import dataclasses

import numpy as np

from snncc.ir import LIF, LOIHI, Const, Dense, GraphBuilder, GraphMeta, Input, Output, Stage, verify
from snncc.passes.calibrate import calibrate
from snncc.passes.quantize import Quantize, quantize
from snncc.verify import compare

rng = np.random.default_rng(11)


def two_layer_graph():
    b = GraphBuilder()
    b.add("x", Input(shape=(6,)))
    b.add("fc1", Dense(shape=(8,), weight=Const(rng.normal(0.4, 0.5, size=(8, 6)))), ["x"])
    b.add("lif1", LIF(shape=(8,), beta=0.75, threshold=1.0), ["fc1"])
    b.add("fc2", Dense(shape=(3,), weight=Const(rng.normal(0.3, 0.6, size=(3, 8)))), ["lif1"])
    b.add("lif2", LIF(shape=(3,), beta=0.9, threshold=1.0), ["fc2"])
    b.add("out", Output(shape=(3,), readout="spike_count"), ["lif2"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=10)))


def deploy(graph, x):
    cal = calibrate(graph, {"x": x}, max_steps=255)
    return quantize(graph, Quantize(numerics=LOIHI), cal)[0]


def test_quantized_network_agrees_with_its_float_model():
    g = two_layer_graph()
    x = rng.integers(0, 17, size=(40, 6)) / 16
    v = compare(g, deploy(g, x), {"x": x}, labels=np.zeros(40, dtype=int)).verification
    assert v.samples == 40 and v.steps == 10
    assert [a.layer for a in v.layers] == ["lif1", "lif2"]
    assert all(a.spike_agreement > 0.97 for a in v.layers)
    assert v.output_agreement > 0.9
    assert 0 < v.layers[0].float_rate < 1  # the comparison is not trivially all-silent or all-firing
    assert v.float_accuracy is not None and v.deployed_accuracy is not None


def test_a_broken_layer_is_named_as_the_first_divergence():
    g = two_layer_graph()
    x = rng.integers(0, 17, size=(40, 6)) / 16
    ig = deploy(g, x)
    broken = ig.replace_nodes(lif2=dataclasses.replace(ig["lif2"], vth=ig["lif2"].vth * 4))
    v = compare(g, broken, {"x": x}, batch_size=16).verification
    good = compare(g, ig, {"x": x}).verification
    assert v.layers[0] == good.layers[0]  # the layer before is untouched
    assert v.layers[1].spike_agreement < good.layers[1].spike_agreement
    assert v.first_divergent_layer == "lif2"
    s, t, n = v.layers[1].first_mismatch
    assert 0 <= s < 40 and 0 <= t < 10 and 0 <= n < 3
