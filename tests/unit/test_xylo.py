"""The xylo numerics family without XyloSim: target file, IR checks, step functions, mapping, quantization.

The step-function cases are hand-worked from ir/SPEC.md §6 (the equations XyloSim's C++ neuron
implements); tests/xylo/ checks the whole simulator against XyloSim itself.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from snncc.errors import InvalidGraph, MappingError, QuantizationError
from snncc.ir import (
    LIF,
    LOIHI,
    XYLO,
    Const,
    Dense,
    GraphBuilder,
    GraphMeta,
    Input,
    IntDense,
    IntInput,
    IntXyloLIF,
    Output,
    Stage,
    verify,
)
from snncc.ir.ops.xylo_lif import decay, deliver, xylo_lif_step
from snncc.mapping import partition
from snncc.passes.quantize import Quantize, quantize
from snncc.target import load_target


def xylo_lif(n=1, **kw) -> IntXyloLIF:
    fields = dict(shape=(n,), dash_syn=1, dash_mem=1, vth=100, bias=Const(np.zeros(n, dtype=np.int32)))
    return IntXyloLIF(**{**fields, **kw})


def test_target_file_restates_the_ir_numerics_with_sources():
    t = load_target("xylo")
    assert t.numerics == XYLO
    assert (
        int(t.family_part.input_channels),
        int(t.family_part.hidden_neurons),
        int(t.family_part.output_neurons),
    ) == (16, 1000, 8)
    assert (
        int(t.family_part.max_hidden_spikes),
        int(t.family_part.max_output_spikes),
        int(t.family_part.max_input_events),
    ) == (31, 1, 15)
    assert t.input_encodings == ("events",) and "xylosim" in t.backends
    assert t.energy.synop_pj.confidence == "uncertain" and "Bos & Muir" in t.energy.synop_pj.source
    assert XYLO.weight_max == 127 and LOIHI.weight_max == 255  # int8 vs Lava's 8-bit magnitude


def test_decay_moves_at_least_one_lsb_toward_zero():
    x = np.array([100, 7, 1, 0, -1, -7, -100, -32768])
    np.testing.assert_array_equal(decay(x, 4), [6, 1, 1, 0, -1, -1, -7, -2048])
    np.testing.assert_array_equal(decay(x, 0), x)


def test_neuron_step_decays_the_new_current_then_integrates_and_fires_several_spikes():
    op = xylo_lif(dash_syn=2, dash_mem=1, vth=10)
    # i = 40 - (40 >> 2) = 30; v = 10 - (10 >> 1) + 30 = 35 -> three spikes, v = 5
    n, i, v, sat = xylo_lif_step(np.array([[40]]), np.array([[10]]), op, np.array([0]))
    assert (n.item(), i.item(), v.item(), sat.item()) == (3, 30, 5, False)
    capped = dataclasses.replace(op, vth=1, max_spikes=31)
    n, _, v, _ = xylo_lif_step(np.array([[400]]), np.array([[0]]), capped, np.array([0]))
    assert (n.item(), v.item()) == (31, 300 - 31)  # i = 300, at most 31 spikes, v keeps the rest


def test_neuron_step_saturates_at_int16_and_wraps_the_negated_decay():
    op = xylo_lif(dash_syn=15, dash_mem=15, vth=32767, spiking=False)
    n, _i, v, sat = xylo_lif_step(np.array([[32767]]), np.array([[32000]]), op, np.array([500]))
    assert (v.item(), sat.item(), n.item()) == (32767, True, 0)
    # dash_mem 0: −decay(−32768) = 32768 wraps to −32768 in int16, so v stays at the floor
    op0 = xylo_lif(dash_syn=1, dash_mem=0, vth=1)
    _, _, v, _ = xylo_lif_step(np.array([[0]]), np.array([[-32768]]), op0, np.array([0]))
    assert v.item() == -32768


def test_events_saturate_after_each_source_in_order():
    w = np.array([[20000, 20000, -20000]])
    i, sat = deliver(np.array([[0]]), np.array([[1, 1, 1]]), w)
    assert (i.item(), sat.item()) == (32767 - 20000, True)  # not the exact sum 20000
    i, sat = deliver(np.array([[0]]), np.array([[0, 3, 0]]), np.array([[100, 5, 7]]))
    assert (i.item(), sat.item()) == (15, False)  # 3 events of weight 5


def graph(hidden_bias=0, second_bias=0, channels=4, out=2, exps=(0, 0, 0), numerics=XYLO, encoding="events"):
    b = GraphBuilder()
    b.add("x", IntInput(shape=(channels,), bits=4, encoding=encoding))
    b.add("fc0", IntDense(shape=(3,), weight=Const(np.ones((3, channels), np.int32)), weight_exp=exps[0]), ["x"])
    b.add("h0", xylo_lif(3, bias=Const(np.full(3, hidden_bias, np.int32))), ["fc0"])
    b.add("fc1", IntDense(shape=(3,), weight=Const(np.ones((3, 3), np.int32)), weight_exp=exps[1]), ["h0"])
    b.add("h1", xylo_lif(3, bias=Const(np.full(3, second_bias, np.int32))), ["fc1"])
    b.add("fc2", IntDense(shape=(out,), weight=Const(np.ones((out, 3), np.int32)), weight_exp=exps[2]), ["h1"])
    b.add("o", xylo_lif(out, max_spikes=1), ["fc2"])
    b.add("out", Output(shape=(out,)), ["o"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=numerics))


def test_ir_keeps_the_two_families_apart():
    with pytest.raises(InvalidGraph) as err:
        verify(graph(numerics=LOIHI))
    assert {d.code for d in err.value.diagnostics} == {"GRF054"}
    with pytest.raises(InvalidGraph) as err:
        verify(graph(encoding="graded"))
    assert "graded input does not exist in the xylo family" in err.value.render()


def test_placement_is_one_core_with_the_layers_in_order():
    placement = partition(graph(hidden_bias=5), load_target("xylo"))
    assert placement.cores_used == 1 and placement.cores[0].layers == ("h0", "h1", "o")
    assert placement.cores[0].usage.neurons == 8 and placement.cores[0].usage.fan_in_axons == 4


@pytest.mark.parametrize(
    ("kwargs", "says"),
    [
        (dict(channels=17), "17 input channels; Xylo has 16"),
        (dict(out=9), "at most 8 neurons"),
        (dict(second_bias=3), "would integrate while Xylo's pipeline fills"),
    ],
)
def test_placement_refuses_what_one_core_cannot_run(kwargs, says):
    with pytest.raises(MappingError) as err:
        partition(graph(**kwargs), load_target("xylo"))
    assert err.value.diagnostics[0].code == "MAP050" and says in err.value.render()


def canonical(alpha=0.5, beta=0.75, reset="subtract", n_in=4):
    b = GraphBuilder()
    b.add("x", Input(shape=(n_in,)))
    b.add("fc", Dense(shape=(5,), weight=Const(np.linspace(-1, 1, 5 * n_in).reshape(5, n_in))), ["x"])
    b.add("h", LIF(shape=(5,), alpha=alpha, beta=beta, reset=reset, threshold=1.0), ["fc"])
    b.add("fo", Dense(shape=(2,), weight=Const(np.full((2, 5), 0.5))), ["h"])
    b.add("o", LIF(shape=(2,), alpha=alpha, beta=beta, reset=reset, threshold=1.0), ["fo"])
    b.add("out", Output(shape=(2,)), ["o"])
    return b.build(GraphMeta(stage=Stage.CANONICAL, steps=4))


def test_quantization_writes_bit_shift_decays_and_divides_the_weights_by_the_current_decay():
    int_graph, report = quantize(canonical(), Quantize(numerics=XYLO, input_encoding="events"))
    h = int_graph["h"]
    assert (h.dash_syn, h.dash_mem, h.max_spikes, int_graph["o"].max_spikes) == (1, 2, 31, 1)
    s = report.layers[0].scale
    w = int_graph["fc"].weight.array * 2.0 ** int_graph["fc"].weight_exp
    unit = int_graph["x"].scale  # inputs in [0, 1] as 15 events
    np.testing.assert_allclose(
        w, np.linspace(-1, 1, 20).reshape(5, 4) * unit * s / 0.5, atol=2.0 ** int_graph["fc"].weight_exp
    )
    assert h.vth == int(np.ceil(s)) and int_graph["x"].encoding == "events"


@pytest.mark.parametrize(
    ("kwargs", "code", "says"),
    [
        (dict(alpha=0.0), "QNT030", "alpha = 0"),
        (dict(reset="zero"), "QNT031", "reset to zero"),
    ],
)
def test_quantization_refuses_what_xylo_neurons_lack(kwargs, code, says):
    with pytest.raises(QuantizationError) as err:
        quantize(canonical(**kwargs), Quantize(numerics=XYLO, input_encoding="events"))
    assert err.value.diagnostics[0].code == code and says in err.value.render()


def test_the_silence_check_sees_xylo_layers_behind_a_membrane_readout():
    """A Xylo readout that does not spike decides by v; a sample whose spiking Xylo layers stay
    silent gets the same v every time, so those layers are the ones the verdict must watch."""
    from dataclasses import replace

    from snncc.verify import silence_layers

    g = graph()
    assert silence_layers(g, "out") == ("o",)
    membrane_readout = g.replace_nodes(o=replace(g["o"], spiking=False, vth=(1 << 15) - 1))
    assert silence_layers(membrane_readout, "out") == ("h1",)  # the spiking layer it reads (was none)
