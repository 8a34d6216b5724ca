"""FLOAT -> CANONICAL: structure and the folds of SPEC.md §2 lif, by hand."""

from __future__ import annotations

import numpy as np
import pytest

from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.errors import ImportFailed
from snncc.ir import (
    LIF,
    AvgPool2d,
    BatchNorm,
    Const,
    Conv2d,
    Dense,
    Flatten,
    GraphBuilder,
    GraphMeta,
    Input,
    Output,
    Stage,
    verify,
)
from snncc.passes.canonicalize import canonicalize


def float_graph(*, gain=0.5, v_reset=0.2, beta=0.5, amplitude=1.0, alpha=0.0):
    b = GraphBuilder()
    b.add("input", Input(shape=(1, 4, 4)))
    b.add(
        "conv",
        Conv2d(shape=(2, 4, 4), weight=Const(np.ones((2, 1, 3, 3))), bias=Const([0.1, -0.1]), padding=1),
        ["input"],
    )
    b.add(
        "bn",
        BatchNorm(
            shape=(2, 4, 4),
            mean=Const([0.0, 1.0]),
            var=Const([1.0, 4.0]),
            weight=Const([1.0, 1.0]),
            bias=Const([0.0, 0.5]),
            eps=0.0,
        ),
        ["conv"],
    )
    b.add(
        "lif1",
        LIF(
            shape=(2, 4, 4),
            beta=beta,
            gain=gain,
            threshold=1.0,
            v_reset=v_reset,
            v_init=Const(v_reset),
            amplitude=amplitude,
            alpha=alpha,
        ),
        ["bn"],
    )
    b.add("pool", AvgPool2d(shape=(2, 2, 2), kernel=2, stride=2), ["lif1"])
    b.add("flat", Flatten(shape=(8,)), ["pool"])
    b.add("fc", Dense(shape=(3,), weight=Const(np.arange(24.0).reshape(3, 8)), bias=Const([1.0, 2.0, 3.0])), ["flat"])
    b.add("lif2", LIF(shape=(3,), spiking=False), ["fc"])
    b.add("output", Output(shape=(3,), readout="v_last"), ["lif2"])
    return verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=3)))


def test_structure_is_one_synapse_per_neuron_layer():
    g = verify(canonicalize(float_graph()))
    assert g.meta.stage is Stage.CANONICAL
    assert [op.OP for _, op in g.nodes] == ["input", "conv2d", "lif", "dense", "lif", "output"]
    assert g.names == ("input", "conv", "lif1", "fc", "lif2", "output")  # names of the user's layers survive


def test_bias_gain_and_reset_folds_by_hand():
    g = canonicalize(float_graph(gain=0.5, v_reset=0.2, beta=0.5))
    conv, lif1 = g["conv"], g["lif1"]
    # BN channel 1: scale 1/sqrt(4) = 0.5, shift 0.5 - 1*0.5 = 0; conv bias -0.1 -> -0.05; times gain 0.5
    np.testing.assert_allclose(conv.weight.array[1], 0.5 * 0.5 * np.ones((1, 3, 3)))
    # neuron bias = gain*synapse bias - (1 - beta)*v_reset = 0.5*(-0.05) - 0.5*0.2 = -0.125 (channel 1)
    np.testing.assert_allclose(lif1.bias.array[1], -0.125)
    np.testing.assert_allclose(lif1.bias.array[0], 0.5 * 0.1 - 0.1)
    assert lif1.threshold == pytest.approx(0.8) and lif1.v_reset == 0.0 and lif1.gain == 1.0
    np.testing.assert_allclose(lif1.v_init.array, 0.0)  # started at v_reset -> 0 after the shift


def test_pool_folds_into_the_dense_and_amplitude_into_its_weights():
    g = canonicalize(float_graph(amplitude=2.0))
    fc = g["fc"]
    assert fc.weight.shape == (3, 32)  # reads the 2x4x4 neuron layer directly
    w = np.arange(24.0).reshape(3, 2, 2, 2)
    # pooled cell (c, i, j) averages neurons (c, 2i..2i+1, 2j..2j+1): weight/4, times amplitude 2
    expected = np.repeat(np.repeat(w, 2, axis=2), 2, axis=3).reshape(3, 32) / 4 * 2.0
    np.testing.assert_allclose(fc.weight.array, expected)
    np.testing.assert_allclose(g["lif2"].bias.array, [1.0, 2.0, 3.0])


def test_neuron_reading_a_neuron_gets_an_identity_synapse():
    b = GraphBuilder()
    b.add("input", Input(shape=(3,)))
    b.add("fc", Dense(shape=(3,), weight=Const(np.eye(3))), ["input"])
    b.add("a", LIF(shape=(3,)), ["fc"])
    b.add("b", LIF(shape=(3,)), ["a"])
    b.add("output", Output(shape=(3,)), ["b"])
    g = verify(canonicalize(verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=2)))))
    assert g.predecessors("b") == ("b.identity",)
    np.testing.assert_array_equal(g["b.identity"].weight.array, np.eye(3))


def test_bias_into_a_decaying_current_becomes_a_voltage_bias_and_an_initial_current():
    g = canonicalize(float_graph(gain=0.5, v_reset=0.0, alpha=0.5))
    lif1 = g["lif1"]
    # channel 0: conv bias 0.1 (BN: scale 1, shift 0) times gain 0.5 is a current bias 0.05; its
    # steady state 0.05/(1 - 0.5) = 0.1 enters the voltage, and the current starts at -0.1 instead
    np.testing.assert_allclose(lif1.bias.array[0], 0.1)
    np.testing.assert_allclose(lif1.i_init.array[0], -0.1)
    # exact: the float model and its canonical form step to the same potentials
    x = {"input": np.random.default_rng(0).random((4, 1, 4, 4))}
    record = Record(spikes=True, v=True)
    a, b = (FloatSim().run(graph, x, record=record) for graph in (float_graph(v_reset=0.0, alpha=0.5), verify(g)))
    for layer in ("lif1", "lif2"):
        np.testing.assert_allclose(a.v[layer], b.v[layer], atol=1e-12)
        np.testing.assert_array_equal(a.spikes[layer], b.spikes[layer])


def test_bias_into_a_current_without_decay_is_refused():
    with pytest.raises(ImportFailed) as err:
        canonicalize(float_graph(alpha=1.0))
    assert err.value.code == "IMT013" and err.value.diagnostics[0].node == "lif1"


def test_a_flatten_between_neurons_becomes_an_identity_synapse():
    b = GraphBuilder()
    b.add("input", Input(shape=(2, 2, 2)))
    b.add("conv", Conv2d(shape=(2, 2, 2), weight=Const(np.ones((2, 2, 1, 1)))), ["input"])
    b.add("a", LIF(shape=(2, 2, 2)), ["conv"])
    b.add("flat", Flatten(shape=(8,)), ["a"])
    b.add("b", LIF(shape=(8,)), ["flat"])
    b.add("output", Output(shape=(8,)), ["b"])
    g = verify(canonicalize(verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=2)))))
    np.testing.assert_array_equal(g["b.identity"].weight.array, np.eye(8))


def test_a_conv_flattened_into_a_neuron_layer_keeps_its_layout():
    b = GraphBuilder()
    b.add("input", Input(shape=(1, 4, 4)))
    b.add("conv", Conv2d(shape=(2, 4, 4), weight=Const(np.ones((2, 1, 3, 3))), padding=1), ["input"])
    b.add("flat", Flatten(shape=(32,)), ["conv"])
    b.add("lif", LIF(shape=(32,), bias=Const(np.arange(32.0))), ["flat"])
    b.add("output", Output(shape=(32,), readout="spike_count"), ["lif"])
    g = verify(canonicalize(verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=2)))))
    assert g["lif"].shape == (2, 4, 4) and g["output"].shape == (2, 4, 4)
    np.testing.assert_array_equal(g["lif"].bias.array.reshape(-1), np.arange(32.0))  # same neurons, C order
