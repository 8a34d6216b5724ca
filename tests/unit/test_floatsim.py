"""floatsim: neuron traces by hand (SPEC.md §lif), linear ops against torch, the Trace/Record contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from snncc.backends import Record, get_backend
from snncc.backends.floatsim import FloatSim
from snncc.errors import BackendError
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
    IntInput,
    Output,
    Stage,
    SumPool2d,
    verify,
)
from snncc.ir import float_steps as step


def neuron_graph(lif: LIF, *, steps: int, readout: str = "spike_count", scale: float = 1.0, n: int = 1):
    """input (n,) -> identity dense -> lif -> output."""
    b = GraphBuilder()
    b.add("input", Input(shape=(n,)))
    b.add("syn", Dense(shape=(n,), weight=Const(np.eye(n))), ["input"])
    b.add("lif", lif, ["syn"])
    b.add("output", Output(shape=(n,), readout=readout, scale=scale), ["lif"])
    return verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=steps)))


def run_neuron(lif: LIF, x_per_step: list[float], **kw):
    graph = neuron_graph(lif, steps=len(x_per_step), **kw)
    x = np.array(x_per_step, dtype=np.float64).reshape(1, -1, 1)
    return FloatSim().run(graph, {"input": x}, record=Record(spikes=True, v=True, u=True))


def test_hard_reset_to_v_reset_with_bias_and_init():
    # h = 0.5 v + x + 0.1, v0 = -0.2, fire h >= 1, reset to -0.2
    lif = LIF(shape=(1,), beta=0.5, bias=Const(0.1), threshold=1.0, v_reset=-0.2, v_init=Const(-0.2))
    tr = run_neuron(lif, [1.0, 0.95, 0.0])
    # t1: -0.1 + 1 + 0.1 = 1.0 -> spike, v = -0.2; t2: -0.1 + 0.95 + 0.1 = 0.95; t3: 0.475 + 0.1 = 0.575
    assert tr.spikes["lif"][0, :, 0].tolist() == [1, 0, 0]
    assert tr.v["lif"][0, :, 0] == pytest.approx([-0.2, 0.95, 0.575], abs=1e-15)


def test_strict_fire_subtract_reset_current_and_floor():
    # i = 0.5 i + 2x; h = v + i, floor -1; fire h > 1; subtract 1
    lif = LIF(shape=(1,), beta=1.0, alpha=0.5, gain=2.0, threshold=1.0, fire=">", reset="subtract", v_floor=-1.0)
    tr = run_neuron(lif, [0.25, 0.125, -3.0, 0.0])
    # i: 0.5, 0.5, -5.75, -2.875; h: 0.5, 1.0 (not > 1), -4.75 -> -1 (floor), -3.875 -> -1
    assert tr.u["lif"][0, :, 0] == pytest.approx([0.5, 0.5, -5.75, -2.875])
    assert tr.v["lif"][0, :, 0] == pytest.approx([0.5, 1.0, -1.0, -1.0])
    assert tr.spikes["lif"].sum() == 0
    tr = run_neuron(lif, [0.75, 0.0])  # i 1.5, 0.75: h 1.5 -> spike, v 0.5; h 1.25 -> spike, v 0.25
    assert tr.spikes["lif"][0, :, 0].tolist() == [1, 1]
    assert tr.v["lif"][0, :, 0] == pytest.approx([0.5, 0.25])


def test_readouts_and_scale():
    lif = LIF(shape=(1,), beta=1.0, threshold=1.0)  # IF, hard reset to 0
    x = [0.6, 0.6, 0.6, 0.6]  # v: 0.6, 0 (spike), 0.6, 0 (spike)
    assert run_neuron(lif, x, readout="spike_count", scale=0.25).outputs["output"][0, 0] == pytest.approx(0.5)
    assert run_neuron(lif, x, readout="v_last").outputs["output"][0, 0] == pytest.approx(0.0)
    assert run_neuron(lif, x, readout="v_mean", scale=2.0).outputs["output"][0, 0] == pytest.approx(0.6)
    integrator = LIF(shape=(1,), beta=1.0, spiking=False, threshold=0.1)  # never fires
    tr = run_neuron(integrator, [1.0, 2.0, 3.0], readout="v_last")
    assert tr.outputs["output"][0, 0] == pytest.approx(6.0) and tr.spikes["lif"].sum() == 0


def test_amplitude_scales_what_the_next_layer_receives():
    b = GraphBuilder()
    b.add("input", Input(shape=(1,)))
    b.add("a", LIF(shape=(1,), beta=1.0, threshold=0.5, amplitude=3.0), ["input"])
    b.add("b", LIF(shape=(1,), beta=1.0, spiking=False), ["a"])
    b.add("output", Output(shape=(1,), readout="v_last"), ["b"])
    graph = verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=3)))
    # a fires at every step on input 0.5 (h = 0.5 >= 0.5): b integrates 3 per step
    assert FloatSim().run(graph, {"input": np.array([[0.5]])}).outputs["output"][0, 0] == pytest.approx(9.0)


def rand(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize(
    ("stride", "padding", "dilation", "groups"),
    [
        ((1, 1), (1, 1), (1, 1), 1),
        ((2, 1), (0, 2), (1, 1), 1),
        ((1, 2), (2, 1), (2, 1), 2),
        ((2, 2), (1, 1), (1, 1), 4),
    ],
)
def test_conv2d_matches_torch(stride, padding, dilation, groups):
    x, w, b = rand(3, 4, 9, 8), rand(8, 4 // groups, 3, 2, seed=1), rand(8, seed=2)
    ours = step.conv2d(x, w, b, stride, padding, dilation, groups)
    theirs = F.conv2d(torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(b), stride, padding, dilation, groups)
    np.testing.assert_allclose(ours, theirs.numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize(("kernel", "stride", "padding"), [((2, 2), (2, 2), (0, 0)), ((3, 2), (1, 2), (1, 1))])
def test_pooling_matches_torch(kernel, stride, padding):
    x = rand(2, 3, 7, 6)
    theirs = F.avg_pool2d(torch.from_numpy(x), kernel, stride, padding, count_include_pad=True).numpy()
    np.testing.assert_allclose(step.avgpool2d(x, kernel, stride, padding), theirs, rtol=0, atol=1e-12)
    np.testing.assert_allclose(step.sumpool2d(x, kernel, stride, padding), theirs * kernel[0] * kernel[1], atol=1e-12)


def test_dense_and_batchnorm_match_torch():
    x, w, b = rand(5, 2, 3), rand(4, 6, seed=1), rand(4, seed=2)
    np.testing.assert_allclose(
        step.dense(x, w, b),
        F.linear(torch.from_numpy(x).reshape(5, 6), torch.from_numpy(w), torch.from_numpy(b)).numpy(),
        atol=1e-12,
    )
    mean, var, gamma, beta = rand(2, seed=3), np.abs(rand(2, seed=4)), rand(2, seed=5), rand(2, seed=6)
    x = rand(5, 2, 3, 4)
    theirs = F.batch_norm(*(torch.from_numpy(a) for a in (x, mean, var, gamma, beta)), training=False, eps=1e-3)
    np.testing.assert_allclose(step.batchnorm(x, mean, var, gamma, beta, 1e-3), theirs.numpy(), atol=1e-12)


def small_graph(steps=3):
    """input (1, 4, 4) -> conv -> bn -> lif1 -> sumpool -> flatten -> dense -> lif2 -> output."""
    b = GraphBuilder()
    b.add("input", Input(shape=(1, 4, 4)))
    b.add(
        "conv",
        Conv2d(shape=(2, 4, 4), weight=Const(rand(2, 1, 3, 3)), bias=Const([0.5, 0.2]), padding=1),
        ["input"],
    )
    b.add(
        "bn",
        BatchNorm(
            shape=(2, 4, 4),
            mean=Const([0.1, 0.0]),
            var=Const([1.0, 2.0]),
            weight=Const([1.0, 1.5]),
            bias=Const([0.3, 0.0]),
        ),
        ["conv"],
    )
    b.add("lif1", LIF(shape=(2, 4, 4), beta=0.5, gain=0.5), ["bn"])
    b.add("pool", SumPool2d(shape=(2, 2, 2), kernel=2, stride=2), ["lif1"])
    b.add("flat", Flatten(shape=(8,)), ["pool"])
    b.add("fc", Dense(shape=(3,), weight=Const(rand(3, 8, seed=1))), ["flat"])
    b.add("lif2", LIF(shape=(3,), beta=1.0, reset="subtract"), ["fc"])
    b.add("output", Output(shape=(3,), readout="spike_count"), ["lif2"])
    b.add("pool2", AvgPool2d(shape=(2, 2, 2), kernel=2, stride=2), ["lif1"])  # a second reader, unused by outputs
    return verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=steps)))


def test_trace_contract_counts_and_recording():
    graph = small_graph()
    x = np.abs(rand(4, 1, 4, 4, seed=7)) * (rand(4, 1, 4, 4, seed=8) > 0)  # about half the pixels zero
    tr = FloatSim().run(graph, {"input": x}, record=Record(spikes=True, layers=("lif2",)))
    assert (tr.batch, tr.steps) == (4, 3)
    assert set(tr.spikes) == {"lif2"} and tr.v == {} and tr.u == {}
    assert tr.spikes["lif2"].dtype == np.uint8 and tr.spikes["lif2"].shape == (4, 3, 3)
    assert tr.outputs["output"].dtype == np.float64 and tr.outputs["output"].shape == (4, 3)
    np.testing.assert_array_equal(tr.outputs["output"], tr.spikes["lif2"].sum(axis=1))
    np.testing.assert_array_equal(tr.spike_counts["lif2"], tr.spikes["lif2"].sum(axis=(0, 1)))
    assert tr.stats["lif2"].spikes == int(tr.spikes["lif2"].sum())
    assert tr.spike_counts["lif1"].shape == (2, 4, 4) and tr.spike_counts["lif1"].dtype == np.int64
    assert 0 < tr.stats["lif1"].spikes < 4 * 3 * 32  # the test network is neither silent nor saturated
    np.testing.assert_array_equal(tr.input_events["input"], np.count_nonzero(x, axis=0) * 3)
    full = FloatSim().run(graph, {"input": x}, record=Record(spikes=True, v=True))
    assert set(full.spikes) == set(full.v) == {"lif1", "lif2"}
    assert full.v["lif1"].dtype == np.float64 and full.v["lif1"].shape == (4, 3, 2, 4, 4)


def test_per_step_input_equals_repeated_direct_input():
    graph = small_graph()
    x = rand(2, 1, 4, 4, seed=3)
    direct = FloatSim().run(graph, {"input": x}, record=Record(v=True))
    repeated = FloatSim().run(graph, {"input": np.repeat(x[:, None], 3, axis=1)}, record=Record(v=True))
    np.testing.assert_array_equal(direct.v["lif1"], repeated.v["lif1"])
    # one sample at a time gives the same as the batch: every sample starts from a reset state
    single = FloatSim().run(graph, {"input": x[1:]}, record=Record(v=True))
    np.testing.assert_array_equal(single.v["lif1"][0], direct.v["lif1"][1])


def test_errors_name_the_problem():
    graph = small_graph()
    sim = get_backend("floatsim")
    assert isinstance(sim, FloatSim) and sim.name == "floatsim"
    with pytest.raises(BackendError) as err:
        sim.run(graph, {"input": rand(2, 1, 4, 4)}, record=Record(spikes=True, layers=("fc",)))
    assert err.value.code == "BKD021"
    with pytest.raises(BackendError) as err:
        sim.run(graph, {"input": rand(2, 16)})
    assert err.value.code == "BKD024"
    with pytest.raises(BackendError) as err:
        sim.run(graph, {"x": rand(2, 1, 4, 4)})
    assert err.value.code == "BKD023"
    b = GraphBuilder()
    b.add("input", IntInput(shape=(2,), bits=8))
    int_graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=1))
    assert {d.code for d in sim.check(int_graph)} == {"BKD020"}
    with pytest.raises(BackendError):
        sim.run(int_graph, {"input": np.zeros((1, 2), np.int64)})


@st.composite
def neurons_and_inputs(draw):
    reset = draw(st.sampled_from(["zero", "subtract"]))
    threshold = draw(st.floats(0.1, 2.0))
    lif = LIF(
        shape=(1,),
        beta=draw(st.floats(0.0, 1.0)),
        alpha=draw(st.floats(0.0, 1.0)),
        gain=draw(st.floats(0.1, 2.0)),
        bias=Const(draw(st.floats(-0.5, 0.5))),
        threshold=threshold,
        fire=draw(st.sampled_from([">=", ">"])),
        reset=reset,
        v_reset=draw(st.floats(-1.0, threshold - 0.05)) if reset == "zero" else 0.0,
        v_init=Const(draw(st.floats(-1.0, 1.0))),
        v_floor=draw(st.none() | st.floats(-2.0, -0.5)),
        spiking=draw(st.booleans()),
    )
    return lif, draw(st.lists(st.floats(-2.0, 2.0), min_size=1, max_size=12))


@given(neurons_and_inputs())
def test_lif_matches_a_scalar_transcription_of_the_spec(case):
    lif, xs = case
    i, v = 0.0, float(lif.v_init.array)
    expected_s, expected_v = [], []
    for x in xs:  # SPEC.md §lif, one neuron, plain Python floats
        i = lif.alpha * i + lif.gain * x
        h = lif.beta * v + i + float(lif.bias.array)
        if lif.v_floor is not None:
            h = max(h, lif.v_floor)
        s = lif.spiking and (h >= lif.threshold if lif.fire == ">=" else h > lif.threshold)
        v = (lif.v_reset if lif.reset == "zero" else h - lif.threshold) if s else h
        expected_s.append(int(s))
        expected_v.append(v)
    tr = run_neuron(lif, xs, readout="v_last")
    assert tr.spikes["lif"][0, :, 0].tolist() == expected_s
    assert tr.v["lif"][0, :, 0].tolist() == expected_v
