"""Lava and the reference simulator agree bit for bit: every u, v and spike at every step.

Named cases cover the traps of loihi-lava-semantics.md §1 and §7 and every integer op and
encoding; a hypothesis test covers random small networks.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lava_compare import assert_bit_exact

from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntConv2d, IntDense, IntInput, IntLIF, Output, Stage


def neuron(n, *, du=4095, dv=0, vth=100, bias=0, bias_exp=0, v_init=0, **kw):
    def full(value):
        return Const(np.broadcast_to(np.asarray(value, dtype=np.int32), n).copy())

    shape = n if isinstance(n, tuple) else (n,)
    return IntLIF(
        shape=shape, du=du, dv=dv, vth=vth, bias_mant=full(bias), bias_exp=full(bias_exp), v_init=full(v_init), **kw
    )


def chain(layers, *, steps=6, in_shape=(3,), bits=8, encoding="graded", readout="spike_count"):
    """layers: list of (synapse op, neuron op)."""
    b = GraphBuilder()
    prev = b.add("x", IntInput(shape=in_shape, bits=bits, encoding=encoding))
    for i, (syn, lif) in enumerate(layers):
        prev = b.add(f"lif{i}", lif, [b.add(f"syn{i}", syn, [prev])])
    last = layers[-1][1]
    b.add("out", Output(shape=last.shape, readout=readout if last.spiking else "v_last"), [prev])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=LOIHI))


def dense(w, exp=0):
    w = np.asarray(w, dtype=np.int32)
    return IntDense(shape=(w.shape[0],), weight=Const(w), weight_exp=exp)


def x(*rows):
    return {"x": np.array(rows, dtype=np.int64)}


def test_du_zero_still_decays_the_current():
    g = chain([(dense([[1, 0, 0]]), neuron(1, du=0, vth=2**17 - 1))], steps=4)
    ref, _ = assert_bit_exact(g, {"x": np.array([[[64, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]]])})
    assert ref.u["lif0"][0, :, 0].tolist() == [4096, 4095, 4094, 4093]


def test_strict_threshold_with_bias():
    # bias 640 never exceeds vth*64 = 640; bias 641 does on the first step
    for bias, fires in ((640, False), (641, True)):
        g = chain([(dense([[0, 0, 0]]), neuron(1, vth=10, bias=bias, dv=4096))], steps=3)
        ref, _ = assert_bit_exact(g, x([0, 0, 0]))
        assert bool(ref.spikes["lif0"].any()) is fires


def test_odd_mixed_weights_lose_their_lsb_and_latency_is_aligned():
    g = chain([(dense([[3, -3, 1], [-1, 5, 7]]), neuron(2, vth=3)), (dense([[3, 1], [1, -5]]), neuron(2, vth=1))])
    assert_bit_exact(g, x([1, 2, 3], [7, 0, 5]))


def test_current_wrap_and_voltage_saturation():
    g = chain([(dense([[255, 255, 255]], exp=7), neuron(1, du=-1, vth=2**17 - 1, spiking=False))], steps=5)
    ref, _ = assert_bit_exact(g, x([255, 255, 255]))
    assert ref.v["lif0"].max() == 2**23 - 1 or ref.v["lif0"].min() == -(2**23 - 1)


def test_weight_exp_applies_to_the_sum():
    g = chain([(dense([[-3, 5, 9], [7, -1, -11]], exp=-3), neuron(2, du=-1, vth=2**17 - 1))])
    assert_bit_exact(g, x([1, 1, 0], [0, 1, 1], [3, 7, 2]))


def test_every_sample_starts_from_reset_state():
    g = chain([(dense([[4, 1, 2]]), neuron(1, dv=300, du=1000, vth=40, bias=77, bias_exp=3))], steps=4)
    ref, _ = assert_bit_exact(g, x([0, 0, 0], [9, 9, 9], [0, 0, 0]))
    np.testing.assert_array_equal(ref.v["lif0"][0], ref.v["lif0"][2])


def test_bitplane_input_and_three_layers():
    layers = [
        (dense(np.arange(-6, 6).reshape(4, 3) * 9), neuron(4, vth=60, dv=500)),
        (dense([[20, -8, 14, 2], [6, 6, -30, 16]], exp=1), neuron(2, vth=25)),
        (dense([[10, -6]]), neuron(1, vth=2**17 - 1, spiking=False)),
    ]
    assert_bit_exact(chain(layers, encoding="bitplane", bits=5), x([31, 0, 17], [5, 9, 30]))


def test_conv_with_stride_padding_and_groups():
    rng = np.random.default_rng(1)
    w1 = rng.integers(-40, 40, size=(4, 1, 3, 3)).astype(np.int32)
    conv1 = IntConv2d(shape=(4, 3, 3), weight=Const(w1), stride=2, padding=1, weight_exp=1)
    w2 = rng.integers(-40, 40, size=(4, 2, 2, 2)).astype(np.int32)
    conv2 = IntConv2d(shape=(4, 2, 2), weight=Const(w2), groups=2)
    layers = [
        (conv1, neuron((4, 3, 3), vth=30)),
        (conv2, neuron((4, 2, 2), vth=4)),
        (dense(rng.integers(-9, 9, (2, 16))), neuron(2, vth=3)),
    ]
    g = chain(layers, in_shape=(1, 5, 5), bits=4, encoding="bitplane")
    assert_bit_exact(g, {"x": rng.integers(0, 16, size=(2, 1, 5, 5))})


def test_own_neuron_features_soft_reset_floor_and_initial_potential():
    layers = [
        (
            dense([[9, -4, 2], [-7, 3, 8]]),
            neuron(2, vth=20, reset="subtract", v_floor=-900, v_init=[500, -300], dv=100),
        ),
        (dense([[5, 5]]), neuron(1, vth=2, reset="subtract")),
    ]
    assert_bit_exact(chain(layers, readout="v_mean"), x([30, 0, 10], [0, 90, 0]))


def test_initial_current():
    # u starts each sample at u_init and decays by (4096 - du - 1)/4096 = 1/2 per step: -1280, -640 + 64·a
    lif = neuron(2, du=2047, vth=3, u_init=Const(np.array([-1280, 640], np.int32)))
    ref, _ = assert_bit_exact(chain([(dense([[4, 0, 0], [0, 1, 0]]), lif)], steps=4), x([5, 5, 5], [0, 0, 0]))
    assert ref.u["lif0"][1, :, 0].tolist() == [-640, -320, -160, -80]


def test_per_step_inputs():
    g = chain([(dense([[2, 1, 0]]), neuron(1, vth=4))], steps=3)
    assert_bit_exact(g, {"x": np.array([[[1, 0, 0], [5, 5, 5], [0, 9, 0]]])})


@st.composite
def random_case(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    sizes = [int(rng.integers(1, 7)) for _ in range(int(rng.integers(2, 4)))]
    kind = str(rng.choice(["mixed", "excitatory", "inhibitory"]))
    layers = []
    for a, b in itertools.pairwise(sizes):
        lo, hi = {"mixed": (-256, 256), "excitatory": (0, 256), "inhibitory": (-255, 1)}[kind]
        w = rng.integers(lo, hi, size=(b, a))
        lif = neuron(
            b,
            du=int(rng.choice([-1, 0, 4095, int(rng.integers(0, 4096))])),
            dv=int(rng.choice([0, 4095, 4096, int(rng.integers(0, 4096))])),
            vth=int(rng.integers(0, 2**12)),
            bias=rng.integers(-4096, 4096, size=b),
            bias_exp=rng.integers(0, 8, size=b),
        )
        layers.append((dense(w, exp=int(rng.integers(-8, 8))), lif))
    encoding = str(rng.choice(["graded", "bitplane"]))
    g = chain(layers, steps=int(rng.integers(1, 7)), in_shape=(sizes[0],), encoding=encoding)
    inputs = {"x": rng.integers(0, 256, size=(int(rng.integers(1, 4)), sizes[0]))}
    return g, inputs


@settings(max_examples=30, deadline=None)
@given(random_case())
def test_random_networks(case):
    assert_bit_exact(*case)


def recurrent(layer_index, w, exp=0):
    """A dense from layer ``lif{i}`` back to itself, for chain(..., recurrent=[...])."""
    return layer_index, dense(w, exp)


def recurrent_chain(layers, loops, **kw):
    """chain() plus, for each (i, synapse) in ``loops``, lif{i} -> synapse -> lif{i}."""
    g = chain(layers, **kw)
    b = GraphBuilder()
    for name, op in g.nodes:
        b.add(name, op, list(g.predecessors(name)))
    for i, syn in loops:
        b.connect(b.add(f"rec{i}", syn, [f"lif{i}"]), f"lif{i}")
    return b.build(g.meta)


def test_recurrent_spikes_arrive_one_step_later_and_never_cross_samples():
    # the hand-computed case of tests/unit/test_refsim.py; its neuron 0 fires at the last step (6),
    # which on Lava's stream would reach step 1 of the next sample without the buffer clearing
    g = recurrent_chain(
        [(dense([[10], [0]]), neuron(2, vth=40))], [recurrent(0, [[0, -8], [40, 0]])], in_shape=(1,), steps=6
    )
    ref, _ = assert_bit_exact(g, x([3], [3], [0], [5]))
    assert ref.spikes["lif0"][0, -1, 0] == 1 and ref.spikes["lif0"][0, :, 1].tolist() == [0, 0, 0, 0, 1, 0]


def test_recurrent_layer_firing_during_the_pipeline_warm_up():
    # bias 3000 > vth·64 = 2560: the second layer also fires while Lava fills the pipeline (before
    # its first sample step); those spikes must not reach step 1 either
    layers = [(dense([[50]]), neuron(1, vth=10)), (dense([[20], [5]]), neuron(2, vth=40, bias=3000, dv=2000))]
    g = recurrent_chain(layers, [recurrent(1, [[10, -4], [6, 8]])], in_shape=(1,), steps=3)
    ref, _ = assert_bit_exact(g, x([1], [0]))
    assert ref.spikes["lif1"][:, 0].all()  # fires at step 1 on its bias alone


@st.composite
def random_recurrent_case(draw):
    """Random chains in which each layer may feed its spikes back to itself (any sign mix), with
    direct or per-step inputs and several samples streamed back to back."""
    rng = np.random.default_rng(draw(st.integers(0, 2**31)))
    sizes = [int(rng.integers(1, 7)) for _ in range(int(rng.integers(2, 4)))]
    layers, loops = [], []
    for i, (a, b) in enumerate(itertools.pairwise(sizes)):
        lif = neuron(
            b,
            du=int(rng.choice([-1, 0, 4095, int(rng.integers(0, 4096))])),
            dv=int(rng.choice([0, 4095, int(rng.integers(0, 4096))])),
            vth=int(rng.integers(0, 2**10)),
            bias=rng.integers(-2048, 2048, size=b),
            bias_exp=rng.integers(0, 4, size=b),
        )
        layers.append((dense(rng.integers(-256, 256, size=(b, a)), exp=int(rng.integers(-4, 4))), lif))
        if rng.random() < 0.7:
            lo, hi = {"mixed": (-256, 256), "excitatory": (0, 256), "inhibitory": (-255, 1)}[
                str(rng.choice(["mixed", "excitatory", "inhibitory"]))
            ]
            loops.append(recurrent(i, rng.integers(lo, hi, size=(b, b)), exp=int(rng.integers(-4, 4))))
    steps, batch = int(rng.integers(1, 7)), int(rng.integers(1, 4))
    g = recurrent_chain(
        layers, loops, steps=steps, in_shape=(sizes[0],), encoding=str(rng.choice(["graded", "bitplane"]))
    )
    shape = (batch, steps, sizes[0]) if rng.random() < 0.5 else (batch, sizes[0])
    return g, {"x": rng.integers(0, 256, size=shape)}


@settings(max_examples=8, deadline=None)
@given(random_recurrent_case())
def test_random_recurrent_networks(case):
    assert_bit_exact(*case)


@pytest.fixture(scope="module")
def digits():
    from snncc.data import BUNDLED_DIGITS, load_dataset
    from snncc.importers.torch import import_torch, load_torch_model
    from snncc.ir import verify
    from snncc.passes.calibrate import calibrate
    from snncc.passes.canonicalize import canonicalize

    model = load_torch_model(BUNDLED_DIGITS.parent / "model.pt")
    data = load_dataset(BUNDLED_DIGITS)
    graph = verify(canonicalize(import_torch(model, (1, 8, 8))))
    return graph, data, calibrate(graph, {"input": data.x[:128]}, max_steps=255)


@pytest.mark.parametrize("encoding", ["bitplane", "graded"])
def test_bundled_digits_model(digits, encoding):
    from snncc.passes.quantize import Quantize, quantize, quantize_inputs

    graph, data, calibration = digits
    int_graph, _ = quantize(graph, Quantize(numerics=LOIHI, input_encoding=encoding), calibration)
    ref, _ = assert_bit_exact(int_graph, quantize_inputs(int_graph, {"input": data.x[:4]}))
    assert ref.spike_counts["body.2"].sum() > 0 and ref.spike_counts["body.6"].sum() > 0


@pytest.mark.parametrize("readout", ["spike_steps", "spike_count"])
def test_per_step_and_count_readouts(readout):
    g = chain([(dense([[9, 4, -2], [1, 1, 12]]), neuron(2, vth=5, dv=900))], readout=readout)
    ref, _ = assert_bit_exact(g, x([20, 10, 5], [0, 3, 30]))
    expected_shape = (2, 6, 2) if readout == "spike_steps" else (2, 2)
    assert ref.outputs["out"].shape == expected_shape and ref.outputs["out"].sum() > 0


@pytest.mark.parametrize("biased", [False, True])
def test_braille_like_recurrent_graph_from_nir(biased):
    """The NIR paper's braille RNN forms (12 inputs -> CubaLIF with a recurrent Linear -> 7 CubaLIF;
    biased: Affine layers as in braille_noDelay_bias_zero.nir, whose biases into the decaying current
    become a voltage bias plus an initial current u_init), random mixed-sign weights, imported from
    NIR, quantized and run on spike trains."""
    import nir

    from snncc.importers.nir import import_nir
    from snncc.ir import verify
    from snncc.passes.calibrate import calibrate
    from snncc.passes.canonicalize import canonicalize
    from snncc.passes.quantize import Quantize, quantize, quantize_inputs

    rng = np.random.default_rng(7)

    def cuba(n, tau_syn, tau_mem):
        fields = dict(tau_syn=tau_syn, tau_mem=tau_mem, r=tau_mem / 1e-4, w_in=tau_syn / 1e-4, v_leak=0.0)
        return nir.CubaLIF(**{k: np.full(n, v) for k, v in fields.items()}, v_threshold=np.ones(n), v_reset=np.zeros(n))

    def synapse(w):
        return nir.Affine(w, rng.normal(0.0, 0.3, len(w))) if biased else nir.Linear(w)

    nodes = {
        "input": nir.Input({"input": np.array([12])}),
        "fc1": synapse(rng.normal(0.0, 0.6, (16, 12))),
        "lif1.lif": cuba(16, 4e-4, 6.667e-4),
        "lif1.w_rec": synapse(rng.normal(-0.3, 0.4, (16, 16))),
        "fc2": synapse(rng.normal(0.0, 0.5, (7, 16))),
        "lif2": cuba(7, 1.818e-4, 3.333e-4),
        "output": nir.Output({"output": np.array([7])}),
    }
    edges = [("input", "fc1"), ("fc1", "lif1.lif"), ("lif1.lif", "lif1.w_rec"), ("lif1.w_rec", "lif1.lif"),
             ("lif1.lif", "fc2"), ("fc2", "lif2"), ("lif2", "output")]  # fmt: skip
    steps = 24
    graph = verify(canonicalize(import_nir(nir.NIRGraph(nodes, edges), dt=1e-4, steps=steps, readout="sum")))
    spikes = (rng.random((6, steps, 12)) < 0.25).astype(np.float64)
    int_graph, _ = quantize(
        graph, Quantize(numerics=LOIHI, input_encoding="bitplane"), calibrate(graph, {"input": spikes}, max_steps=255)
    )
    assert int_graph.recurrent_layers() == ("lif1.lif",)
    assert (int_graph["lif2"].u_init is not None) is biased
    ref, _ = assert_bit_exact(int_graph, quantize_inputs(int_graph, {"input": spikes}))
    assert ref.spikes["lif1.lif"].mean() > 0.02 and ref.spikes["lif2"].sum() > 0
    assert ref.spikes["lif1.lif"][:-1, -1].any()  # a last-step spike that must not reach the next sample
