"""Reference simulator: hand-computed integer trajectories (ir/SPEC.md §3).

Each expected value is worked out from the spec's equations in the comment next to it.
"""

from __future__ import annotations

import numpy as np
import pytest

from snncc.backends import Record
from snncc.backends.refsim import RefSim
from snncc.errors import DataError
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntConv2d, IntDense, IntInput, IntLIF, Output, Stage
from snncc.ir.arith import effective_weights, shift, t12, wrap_int32, wrap_u

ALL = Record(spikes=True, v=True, u=True)


def lif(shape, *, du=4095, dv=0, vth=100, bias=0, bias_exp=0, v_init=0, **kw):
    def full(value):
        return Const(np.full(shape, value, dtype=np.int32))

    return IntLIF(
        shape=shape, du=du, dv=dv, vth=vth, bias_mant=full(bias), bias_exp=full(bias_exp), v_init=full(v_init), **kw
    )


def chain(weight, neuron, *, steps=4, bits=8, encoding="graded", weight_exp=0, readout="spike_count"):
    w = np.array(weight, dtype=np.int32)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(w.shape[1],), bits=bits, encoding=encoding))
    b.add("fc", IntDense(shape=(w.shape[0],), weight=Const(w), weight_exp=weight_exp), ["x"])
    b.add("lif", neuron, ["fc"])
    b.add("out", Output(shape=(w.shape[0],), readout=readout), ["lif"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=LOIHI))


def run(graph, x, record=ALL):
    return RefSim().run(graph, {"x": np.array(x, dtype=np.int64)}, record=record)


# --- helpers ------------------------------------------------------------------------------------


def test_t12_truncates_toward_zero():
    assert t12(np.array([4097 * 4095, -4097 * 4095, 4095, -4095])).tolist() == [4095, -4095, 0, 0]


def test_shift_floors():
    assert shift(np.array([5, -5, 3]), -1).tolist() == [2, -3, 1]
    assert shift(np.array([5, -5]), 2).tolist() == [20, -20]


def test_wrap_int32():
    assert wrap_int32(np.array([2**31, -(2**31) - 1, 5])).tolist() == [-(2**31), 2**31 - 1, 5]


def test_wrap_u_is_one_conditional_asymmetric_correction():
    u, wrapped = wrap_u(np.array([2**23 + 5, 2**23, -(2**23), -(2**23) + 1]), LOIHI)
    # (-2^23, 2^23]: 2^23 stays, -2^23 becomes +2^23
    assert u.tolist() == [-(2**23) + 5, 2**23, 2**23, -(2**23) + 1]
    assert wrapped.tolist() == [True, False, True, False]


@pytest.mark.parametrize(
    ("w", "expected"),
    [
        ([[3, -3, 255, -1]], [[2, -4, 254, -2]]),  # mixed: LSB dropped
        ([[3, 300, 0]], [[3, 255, 0]]),  # excitatory: clipped to 255, odd values kept
        ([[-3, -300, 0]], [[-3, -255, 0]]),  # inhibitory: clipped to -255
        ([[-300, 300]], [[-256, 254]]),  # mixed clip to [-256, 255] then even
    ],
)
def test_effective_weights(w, expected):
    assert effective_weights(np.array(w), LOIHI).tolist() == expected


# --- neuron dynamics ----------------------------------------------------------------------------


def test_du_zero_still_decays_u():
    # du=0 -> u factor (4096-1)/4096; input 64 once: u = 64*64 = 4096 at step 1,
    # then t12(4096*4095) = 4095, then t12(4095*4095) = 4094 (4095*4095/4096 = 4094.0002)
    g = chain([[1]], lif((1,), du=0, vth=2**17 - 1), steps=3)
    tr = run(g, [[[64], [0], [0]]])
    assert tr.u["lif"][0, :, 0].tolist() == [4096, 4095, 4094]


def test_du_minus_one_keeps_u_and_4095_forgets_it():
    g = chain([[1]], lif((1,), du=-1, vth=2**17 - 1), steps=3)
    assert run(g, [[[2], [0], [0]]]).u["lif"][0, :, 0].tolist() == [128, 128, 128]
    g = chain([[1]], lif((1,), du=4095, vth=2**17 - 1), steps=3)
    assert run(g, [[[2], [0], [0]]]).u["lif"][0, :, 0].tolist() == [128, 0, 0]


def test_strict_threshold_and_hard_reset_of_v_only():
    # vth=10 -> threshold 640. du=-1 keeps u=640 from one input of 10; v grows by u each step:
    # step1 v=640 (not > 640, no spike); step2 v=1280 > 640 spike, v=0, u stays 640; step3 v=640.
    g = chain([[1]], lif((1,), du=-1, vth=10), steps=3)
    tr = run(g, [[[10], [0], [0]]])
    assert tr.spikes["lif"][0, :, 0].tolist() == [0, 1, 0]
    assert tr.v["lif"][0, :, 0].tolist() == [640, 0, 640]
    assert tr.u["lif"][0, :, 0].tolist() == [640, 640, 640]


def test_bias_and_voltage_leak():
    # bias 100*2^2 = 400 per step; dv=2048 halves v: v1 = 400, v2 = t12(400*2048) + 400 = 600, v3 = 700
    g = chain([[0]], lif((1,), dv=2048, bias=100, bias_exp=2, vth=2**17 - 1), steps=3)
    assert run(g, [[0]]).v["lif"][0, :, 0].tolist() == [400, 600, 700]


def test_soft_reset_subtracts_the_threshold():
    # input 15 -> u = 960 each step (no memory); vth=10 -> 640. v1 = 960 > 640 -> 320;
    # v2 = 320 + 960 = 1280 -> 640; v3 = 640 + 960 = 1600 -> 960
    g = chain([[1]], lif((1,), vth=10, reset="subtract"), steps=3)
    tr = run(g, [[15]])
    assert tr.spikes["lif"][0, :, 0].tolist() == [1, 1, 1]
    assert tr.v["lif"][0, :, 0].tolist() == [320, 640, 960]


def test_floor_and_v_init():
    # v_init 1000, input -10 -> u = -640: v1 = 360, v2 = -280 -> floor at -100
    g = chain([[1]], lif((1,), vth=2**17 - 1, v_init=1000, v_floor=-100), steps=2, bits=8)
    g = g.replace_nodes(x=IntInput(shape=(1,), bits=8, signed=True))
    assert run(g, [[-10]]).v["lif"][0, :, 0].tolist() == [360, -100]


def test_voltage_saturates_and_current_wraps():
    # input 127 with weight 255 and exp 7: a = 127*255*128 = 4145280; u = a*64 = 265297920 (int32 ok)
    # wraps once: 265297920 > 2^23 -> 265297920 - 2^24 = 248520704 (still out of range: Lava leaves it)
    g = chain([[255]], lif((1,), vth=2**17 - 1, spiking=False), steps=1, weight_exp=7, readout="v_last")
    tr = run(g, [[127]])
    assert tr.u["lif"][0, 0, 0] == 127 * 255 * 128 * 64 - 2**24
    assert tr.v["lif"][0, 0, 0] == 2**23 - 1
    assert tr.stats["lif"].u_wraps == 1 and tr.stats["lif"].v_saturations == 1
    # a spiking neuron at the largest vth still fires at saturation: 2^23 - 1 > (2^17 - 1)*64
    g = chain([[255]], lif((1,), vth=2**17 - 1), steps=1, weight_exp=7)
    tr = run(g, [[127]])
    assert tr.spikes["lif"][0, 0, 0] == 1 and tr.v["lif"][0, 0, 0] == 0


def test_weight_exp_applies_to_the_sum_with_flooring():
    # weights [-3 -> -4 (mixed), 5 -> 4]; both inputs spike-like graded 1: acc = 0? use -4*1 + 4*0 = -4
    # exp -3: floor(-4/8) = -1 -> u = -64 (per-synapse shifting would give 0)
    g = chain([[-3, 5]], lif((1,), vth=2**17 - 1), steps=1, weight_exp=-3)
    assert run(g, [[1, 0]]).u["lif"][0, 0, 0] == -64


def test_bitplane_equals_graded_for_nonnegative_exponents():
    w = [[7, 200, 0, 31], [255, 1, 2, 3]]
    x = np.array([[0, 1, 2, 3], [255, 128, 77, 6]])
    neuron = lif((2,), vth=500)
    graded = run(chain(w, neuron, encoding="graded", weight_exp=0, steps=3), x)
    planes = run(chain(w, neuron, encoding="bitplane", weight_exp=0, steps=3), x)
    for var in ("u", "v", "spikes"):
        np.testing.assert_array_equal(getattr(planes, var)["lif"], getattr(graded, var)["lif"])
    # events: set bits per input element summed over samples and steps (3 steps)
    assert planes.input_events["x"].tolist() == [3 * (0 + 8), 3 * (1 + 1), 3 * (1 + 4), 3 * (2 + 2)]


def test_conv_equals_an_unrolled_dense_matrix():
    rng = np.random.default_rng(3)
    w = rng.integers(-100, 100, size=(3, 2, 3, 3)) * 2  # even: unchanged by the mixed-sign pipeline
    stride, pad = (2, 1), (1, 0)
    h, wd = 5, 6
    oh, ow = (h + 2 * pad[0] - 3) // stride[0] + 1, (wd + 2 * pad[1] - 3) // stride[1] + 1
    dense = np.zeros((3 * oh * ow, 2 * h * wd), dtype=np.int64)
    for o in range(3):
        for y in range(oh):
            for xx in range(ow):
                for c in range(2):
                    for i in range(3):
                        for j in range(3):
                            yy, xi = y * stride[0] - pad[0] + i, xx * stride[1] - pad[1] + j
                            if 0 <= yy < h and 0 <= xi < wd:
                                dense[(o * oh + y) * ow + xx, (c * h + yy) * wd + xi] = w[o, c, i, j]
    neuron = lif((3, oh, ow), vth=300)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(2, h, wd), bits=4))
    b.add("conv", IntConv2d(shape=(3, oh, ow), weight=Const(w.astype(np.int32)), stride=stride, padding=pad), ["x"])
    b.add("lif", neuron, ["conv"])
    b.add("out", Output(shape=(3, oh, ow)), ["lif"])
    conv_graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=LOIHI))
    b2 = GraphBuilder()
    b2.add("x", IntInput(shape=(2, h, wd), bits=4))
    b2.add("fc", IntDense(shape=(3 * oh * ow,), weight=Const(dense.astype(np.int32))), ["x"])
    b2.add("lif", lif((3 * oh * ow,), vth=300), ["fc"])
    b2.add("out", Output(shape=(3 * oh * ow,)), ["lif"])
    dense_graph = b2.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=LOIHI))
    x = rng.integers(0, 16, size=(2, 2, h, wd))
    a, bb = run(conv_graph, x), run(dense_graph, x)
    for var in ("u", "v", "spikes"):
        np.testing.assert_array_equal(getattr(a, var)["lif"].reshape(2, 3, -1), getattr(bb, var)["lif"])


def test_samples_are_independent_and_reset():
    g = chain([[1, 2], [3, -4]], lif((2,), dv=100, vth=3, bias=7), steps=5)
    x = np.array([[5, 1], [0, 9], [3, 3]])
    together = run(g, x)
    for i in range(3):
        alone = run(g, x[i : i + 1])
        for var in ("u", "v", "spikes"):
            np.testing.assert_array_equal(getattr(together, var)["lif"][i], getattr(alone, var)["lif"][0])


def test_readouts():
    g = chain([[1]], lif((1,), vth=10, reset="subtract"), steps=3)
    tr = run(g, [[15]])  # spikes 1,1,1; v after reset 320, 640, 960 (see soft reset test)
    assert tr.outputs["out"].tolist() == [[3]]
    for readout, expected in (("v_last", 960), ("v_mean", (320 + 640 + 960) / 3)):
        g2 = chain([[1]], lif((1,), vth=10, reset="subtract"), steps=3, readout=readout)
        assert run(g2, [[15]], Record()).outputs["out"][0, 0] == expected


def test_record_only_what_was_asked():
    g = chain([[1]], lif((1,), vth=10), steps=3)
    tr = run(g, [[15]], Record(spikes=True))
    assert set(tr.spikes) == {"lif"} and tr.v == {} and tr.u == {}
    assert tr.spike_counts["lif"].tolist() == [int(tr.spikes["lif"].sum())]


@pytest.mark.parametrize(
    ("x", "code"), [(np.array([[1.5]]), "DAT021"), (np.array([[256]]), "DAT023"), (np.array([[1, 2]]), "DAT022")]
)
def test_bad_inputs(x, code):
    with pytest.raises(DataError) as err:
        RefSim().run(chain([[1]], lif((1,))), {"x": x})
    assert err.value.code == code and err.value.diagnostics[0].node == "x"


def test_recurrent_synapse_carries_the_previous_steps_spikes():
    # x = 3 through W = [10, 0]: a_ff = [30, 0]; du = 4095, dv = 0: u = 64·a, v accumulates u;
    # θ = 40·64 = 2560.  W_rec = [[0, -8], [40, 0]] (mixed signs, even: kept exactly).
    #   t  rec = W_rec·s_{t-1}   a          u             v before reset   s
    #   1  [0, 0] (s_0 = 0)      [30, 0]    [1920, 0]     [1920, 0]        [0, 0]
    #   2  [0, 0]                [30, 0]    [1920, 0]     [3840, 0]        [1, 0]
    #   3  [0, 40]               [30, 40]   [1920, 2560]  [1920, 2560]     [0, 0]  (2560 is not > θ)
    #   4  [0, 0]                [30, 0]    [1920, 0]     [3840, 2560]     [1, 0]
    #   5  [0, 40]               [30, 40]   [1920, 2560]  [1920, 5120]     [0, 1]
    #   6  [-8, 0]               [22, 0]    [1408, 0]     [3328, 0]        [1, 0]
    b = GraphBuilder()
    b.add("x", IntInput(shape=(1,), bits=8))
    b.add("fc", IntDense(shape=(2,), weight=Const(np.array([[10], [0]], dtype=np.int32))), ["x"])
    b.add("lif", lif((2,), vth=40), ["fc"])
    b.add("rec", IntDense(shape=(2,), weight=Const(np.array([[0, -8], [40, 0]], dtype=np.int32))), ["lif"])
    b.connect("rec", "lif")
    b.add("out", Output(shape=(2,)), ["lif"])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=6, numerics=LOIHI))
    t = run(graph, [[3], [3]])
    assert t.spikes["lif"][0].T.tolist() == [[0, 1, 0, 1, 0, 1], [0, 0, 0, 0, 1, 0]]
    assert t.u["lif"][0].T.tolist() == [[1920] * 5 + [1408], [0, 0, 2560, 0, 2560, 0]]
    assert t.v["lif"][0].T.tolist() == [[1920, 0, 1920, 0, 1920, 0], [0, 0, 2560, 2560, 0, 0]]
    np.testing.assert_array_equal(t.v["lif"][1], t.v["lif"][0])  # every sample starts with s_0 = 0


def test_initial_current_decays_like_the_current():
    # u_0 = -1280; du = 2047: u_t = T12(u_{t-1}·2048) + 64·a = u_{t-1}/2 + 64·a (toward zero);
    # a = 3 per step: u = -640 + 192 = -448, -224 + 192 = -32, -16 + 192 = 176; v sums u (no leak)
    neuron = lif((1,), du=2047, vth=1000, u_init=Const(np.array([-1280], np.int32)))
    t = run(chain([[1]], neuron, steps=3), [[3]])
    assert t.u["lif"][0, :, 0].tolist() == [-448, -32, 176]
    assert t.v["lif"][0, :, 0].tolist() == [-448, -480, -304]
