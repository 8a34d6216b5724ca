"""Quantization to Loihi formats, checked against hand-computed values (SPEC.md §4)."""

from __future__ import annotations

import numpy as np
import pytest

from snncc.errors import QuantizationError
from snncc.ir import (
    LIF,
    LOIHI,
    Const,
    Dense,
    GraphBuilder,
    GraphMeta,
    Input,
    IntDense,
    IntInput,
    IntLIF,
    Output,
    Stage,
    verify,
)
from snncc.passes.calibrate import Calibration, InputStats, find_grid
from snncc.passes.quantize import Quantize, quantize, quantize_inputs


def canonical_graph(weight, *, threshold=1.0, fire=">=", beta=1.0, bias=0.0, spiking=True, readout="spike_count"):
    b = GraphBuilder()
    b.add("x", Input(shape=(4,)))
    b.add("fc", Dense(shape=(1,), weight=Const(np.array(weight, dtype=float))), ["x"])
    b.add(
        "lif",
        LIF(shape=(1,), threshold=threshold, fire=fire, beta=beta, bias=Const(np.array([bias])), spiking=spiking),
        ["fc"],
    )
    b.add("out", Output(shape=(1,), readout=readout), ["lif"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=4)))


def calib(v_max=0.9, grid=4):
    return Calibration(samples=10, inputs={"x": InputStats(0.0, 1.0, grid)}, v_max_abs={"lif": v_max})


def test_scale_exponent_and_mantissas_by_hand():
    g, rep = quantize(canonical_graph([[0.5, -0.25, 1.0, 0.0]]), Quantize(numerics=LOIHI), calib())
    verify(g)
    inp = g["x"]
    assert isinstance(inp, IntInput) and inp.bits == 3 and inp.scale == 0.25  # 4 grid steps -> values 0..4
    # effective weights per input unit: W*0.25 = [0.125, -0.0625, 0.25, 0]; mixed sign -> mantissa max 254
    # bounds on s: threshold 131071/1; voltage 0.5*(2**23-1)/64/max(0.9, 1) = 65535.99...; weights 254*2**7/0.25
    # at that s, e = ceil(log2(0.25*s/254)) = ceil(log2(64.5)) = 7 and the largest weight is 0.25*s/128 = 128:
    # half the mantissa.  s is lowered to 254*2**6/0.25 = 65024, where it is 254 at e = 6
    s = 254 * 2**6 / 0.25
    layer = rep.layers[0]
    assert layer.limited_by == "voltage range" and layer.scale == pytest.approx(s)
    fc = g["fc"]
    assert isinstance(fc, IntDense)
    # W_int = even(W_eff*s/64) = even([127, -63.5, 254, 0]) = [128, -64, 254, 0] (numpy rounds halves to even)
    assert fc.weight_exp == 6
    assert fc.weight.array.tolist() == [[128, -64, 254, 0]]
    lif = g["lif"]
    assert isinstance(lif, IntLIF)
    assert lif.vth == 65023  # fire ">=": ceil(theta*s) - 1
    assert lif.du == 4095 and lif.dv == 0  # no current memory, no leak
    assert lif.scale == pytest.approx(1 / (s * 64))


def test_strict_threshold_uses_floor():
    g, _ = quantize(canonical_graph([[1.0, 0, 0, 0]], fire=">"), Quantize(numerics=LOIHI), calib())
    s = 255 * 2**6 / 0.25  # voltage bound 65535.99 lowered so that the one weight, 0.25 per unit, fills 255 at e = 6
    assert g["lif"].vth == int(np.floor(s)) == 65280


@pytest.mark.parametrize("w_max", [0.3, 0.37, 0.5, 0.61, 0.99])
def test_the_largest_weight_fills_the_mantissa_whatever_the_scale_bound(w_max):
    """At the scale the bounds allow, the largest weight may land anywhere in (m/2, m]; the scale is
    lowered (never raised, never by 2x or more) until it is the whole mantissa, m = 254 for mixed signs."""
    g, rep = quantize(canonical_graph([[w_max / 0.25, -0.1, 0.2, 0.0]]), Quantize(numerics=LOIHI), calib())
    bound = 0.5 * (2**23 - 1) / 64 / max(0.9, 1)  # the voltage bound (threshold 1, calib |v| 0.9)
    assert bound / 2 < rep.layers[0].scale <= bound
    assert int(np.abs(g["fc"].weight.array).max()) == 254


def test_bias_mantissa_and_exponent():
    g, rep = quantize(canonical_graph([[1.0, 0, 0, 0]], bias=0.3), Quantize(numerics=LOIHI), calib())
    # bounds on s: bias 4095*2**7/(64*0.3) = 27300 is the smallest (voltage 65536, weights 255*2**7/0.25);
    # there the weight 0.25 per unit is 213.3 at e = 5, so s is lowered to 255*2**5/0.25 = 16320 (255 at e = 4)
    assert rep.layers[0].limited_by == "bias mantissa"
    assert rep.layers[0].scale == pytest.approx(16320.0)
    assert g["fc"].weight.array.tolist() == [[255, 0, 0, 0]] and g["fc"].weight_exp == 4
    lif = g["lif"]
    # bias in v LSB = 0.3*16320*64 = 313344 = 2448 * 2**7 (12 of the mantissa's 13 bits)
    assert int(lif.bias_mant.array[0]) == 2448 and int(lif.bias_exp.array[0]) == 7


def test_decay_and_nonspiking_layer():
    g, _ = quantize(
        canonical_graph([[1.0, 0, 0, 0]], beta=0.5, spiking=False, readout="v_last"),
        Quantize(numerics=LOIHI),
        calib(v_max=3.0),
    )
    lif = g["lif"]
    assert lif.dv == 2048 and not lif.spiking and lif.vth == 2**17 - 1
    assert g["out"].scale == pytest.approx(lif.scale)  # v readout converts integer v to float units


def test_input_quantization_on_and_off_the_grid():
    g, _ = quantize(canonical_graph([[1.0, 0, 0, 0]]), Quantize(numerics=LOIHI), calib(grid=4))
    xi = quantize_inputs(g, {"x": np.array([[0.0, 0.25, 0.5, 1.0]])})
    assert xi["x"].tolist() == [[0, 1, 2, 4]]
    g2, rep = quantize(canonical_graph([[1.0, 0, 0, 0]]), Quantize(numerics=LOIHI), calib(grid=None))
    assert g2["x"].bits == 8 and g2["x"].scale == pytest.approx(1 / 255) and not rep.inputs[0].exact


def test_negative_inputs_are_refused_with_a_hint():
    c = Calibration(samples=1, inputs={"x": InputStats(-1.0, 1.0, None)}, v_max_abs={"lif": 1.0})
    with pytest.raises(QuantizationError) as err:
        quantize(canonical_graph([[1.0, 0, 0, 0]]), Quantize(numerics=LOIHI), c)
    assert err.value.code == "QNT010" and err.value.diagnostics[0].node == "x"


def test_find_grid():
    assert find_grid(np.array([0, 1, 2, 16]) / 16, 255) == 16
    assert find_grid(np.array([0.0, 0.3, 1.0]), 255) == 10
    assert find_grid(np.array([0.0, np.pi / 10, 1.0]), 255) is None


def test_calibration_sees_v_before_its_reset():
    """W = 0.75, threshold 1, zero reset, input 1 every step: v before the reset runs 0.75, 1.5 (spike,
    v = 0), 0.75, 1.5; the v after the reset and u never pass 0.75.  The integer layer must hold 1.5."""
    from snncc.passes.calibrate import calibrate

    graph = canonical_graph([[0.75, 0.0, 0.0, 0.0]])
    assert graph["lif"].reset == "zero"
    stats = calibrate(graph, {"x": np.array([[1.0, 0.0, 0.0, 0.0]])}, max_steps=16)
    assert stats.v_max_abs["lif"] == pytest.approx(1.5)
