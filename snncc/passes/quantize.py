"""CANONICAL -> INTEGER: float weights, thresholds, decays, biases and potentials to the target's formats.

Units (SPEC.md §4).  One *weight unit* is 2^act_shift LSB of v; per neuron layer one
scale s (weight units per float unit) maps float potentials to integers:

    W_int·2^e ≈ s·W·u_src     (u_src: float value of one unit of the source: 1 for spikes,
                                the input's LSB for an input layer)
    vth = ⌊θ·s⌋ (fire ">")  or  ⌈θ·s⌉ − 1 (fire ">=")
    bias_mant·2^bias_exp = round(bias·s·2^act_shift),  v_init = round(v_init·s·2^act_shift),
    u_init = round(i_init·s·2^act_shift)

s is the largest value every format allows: the threshold mantissa, the weight mantissa at the
largest exponent, the bias mantissa at the largest exponent, v staying inside a fraction
(``v_headroom``) of the voltage range given the largest |v| seen on calibration data, and a step's
summed input inside a fraction (``acc_headroom``) of the dendritic accumulator given the largest seen
(Loihi 1 wraps it at 16 bits: the bundled digits overflowed it in 1,296 neuron-steps without this bound).  A larger s
only adds resolution to thresholds, biases and decays; the weights keep their 8-bit mantissa, which
s then fills: it is lowered (by less than 2x) until the largest synapse's largest weight takes the
whole mantissa at its power-of-two exponent, where an arbitrary s leaves up to one bit unused
(measured: the bundled digits deploy at 97.56 % instead of 97.33 %, as float; a user CSNN's
last-layer weight error 1.2 % -> 0.6 %).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from snncc.errors import Diagnostic, QuantizationError
from snncc.families import family_of
from snncc.ir import (
    CLIF,
    LIF,
    Const,
    Conv2d,
    Delay,
    Dense,
    Graph,
    GraphBuilder,
    Input,
    IntCLIF,
    IntConv2d,
    IntDelay,
    IntDense,
    IntInput,
    IntLIF,
    Numerics,
    Stage,
)

from .calibrate import Calibration


@dataclass(frozen=True)
class LayerQuantization:
    """What quantization did to one neuron layer and how much error it introduced."""

    layer: str
    scale: float  # s: weight units per float unit of v
    limited_by: str  # which format bounded s
    weight_exponents: dict[str, int]
    weight_bits_used: dict[str, int]
    weight_rel_rmse: dict[str, float]  # ||W_int·2^e/s − W|| / ||W|| per synapse
    threshold_rel_error: float
    bias_max_abs_error: float  # float units
    decay_abs_error: float  # |dv/4096 − (1 − beta)|
    v_range_used: float  # calibrated max |v| · s / v_max (0..1; > 1 saturates)
    # calibrated max |step input| · s / the accumulator's limit 2^(bits-1) (0..1; > 1 overflows); 0: not measured
    accumulator_used: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class InputQuantization:
    node: str
    encoding: str
    bits: int
    scale: float  # float value of one input unit
    exact: bool  # True when the calibration data lie on the integer grid
    max_abs_error: float
    calibrated_max: float | None = None  # the calibration samples' largest value (None: no data)


@dataclass(frozen=True)
class QuantizationReport:
    inputs: tuple[InputQuantization, ...]
    layers: tuple[LayerQuantization, ...]
    diagnostics: tuple[Diagnostic, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": [dataclasses.asdict(i) for i in self.inputs],
            "layers": [layer.to_dict() for layer in self.layers],
            "warnings": [d.render() for d in self.diagnostics],
        }


@dataclass(frozen=True)
class Quantize:
    """Options of the quantization pass (CANONICAL -> INTEGER)."""

    numerics: Numerics
    input_encoding: str = "graded"
    v_headroom: float = 0.5
    # the calibrated per-step input may take this fraction of the dendritic accumulator (Numerics.accumulator_bits)
    acc_headroom: float = 0.5
    # mantissa bits a synapse may give up for a weight exponent >= 0: with e < 0 Lava floors each step's
    # summed input, Loihi 1 (nengo-loihi's model) each weight, and a split layer each part
    exp_bits_to_avoid_negative: int = 1


def quantize(
    graph: Graph, options: Quantize, calibration: Calibration | None = None
) -> tuple[Graph, QuantizationReport]:
    """Return the integer graph and what quantization changed; raises QuantizationError if it cannot."""
    return family_of(options.numerics).quantize(graph, options, calibration)


def quantize_loihi(
    graph: Graph, options: Quantize, calibration: Calibration | None = None
) -> tuple[Graph, QuantizationReport]:
    """The Loihi family's quantizer: mantissas with exponents in Lava's formats."""
    n = options.numerics
    builder = GraphBuilder()
    inputs: dict[str, InputQuantization] = {}
    v_scale: dict[str, float] = {}
    inputs_report: list[InputQuantization] = []
    layers_report: list[LayerQuantization] = []
    diags: list[Diagnostic] = []
    for name in graph.topo_order():
        op = graph[name]
        if op.IS_INPUT:
            iq = _quantize_input(name, op, options, calibration)
            inputs_report.append(iq)
            inputs[name] = iq
            builder.add(name, IntInput(shape=op.shape, bits=iq.bits, encoding=iq.encoding, scale=iq.scale))
        elif op.IS_NEURON:
            synapses = [(s, graph[s]) for s in graph.predecessors(name)]
            layer_q, int_synapses, int_lif = _quantize_layer(
                name, op, synapses, graph, inputs, options, calibration, diags
            )
            layers_report.append(layer_q)
            v_scale[name] = int_lif.scale
            syn_names = [builder.add(sn, sop, list(graph.predecessors(sn))) for sn, sop in int_synapses]
            builder.add(name, int_lif, syn_names)
        elif isinstance(op, Delay):  # whole steps already (the importers' dt rule)
            delay = Const(np.rint(op.delay.array).astype(np.int32))
            builder.add(name, IntDelay(shape=op.shape, delay=delay), list(graph.predecessors(name)))
        elif op.IS_OUTPUT:
            src = graph.predecessors(name)[0]
            unit = v_scale[src] if op.readout.startswith("v_") else 1.0
            builder.add(name, dataclasses.replace(op, scale=op.scale * unit), [src])
    meta = dataclasses.replace(graph.meta, stage=Stage.INTEGER, numerics=n)
    meta = meta.with_notes(input_encoding=options.input_encoding)
    report = QuantizationReport(tuple(inputs_report), tuple(layers_report), tuple(diags))
    return builder.build(meta), report


# --- inputs -----------------------------------------------------------------------------------


def _quantize_input(name: str, op: Input, options: Quantize, calibration: Calibration | None) -> InputQuantization:
    n = options.numerics
    levels = (1 << n.input_bits) - 1
    stats = calibration.inputs.get(name) if calibration else None
    if stats is None:
        # No data: assume inputs in [0, 1] (the common normalisation) and say so.
        return InputQuantization(name, options.input_encoding, n.input_bits, 1.0 / levels, False, 0.5 / levels)
    if stats.min < 0:
        raise QuantizationError(
            f"input values go down to {stats.min:g}; the {options.input_encoding} input encoding carries "
            "unsigned values only",
            code="QNT010",
            node=name,
            hint="shift or rescale the inputs to be non-negative (e.g. x - min), and retrain or fold the offset",
        )
    if stats.max == 0:
        return InputQuantization(name, options.input_encoding, 1, 1.0, True, 0.0, 0.0)
    steps = stats.grid_steps if stats.grid_steps is not None and stats.grid_steps <= levels else levels
    unit = stats.max / steps
    bits = max(1, math.ceil(math.log2(steps + 1)))
    exact = stats.grid_steps is not None and stats.grid_steps <= levels
    return InputQuantization(name, options.input_encoding, bits, unit, exact, 0.0 if exact else unit / 2, stats.max)


def quantize_inputs(graph: Graph, values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Float input arrays -> the integer arrays the integer graph's IntInputs take, in the narrowest
    unsigned type that holds their bits (spikes and 8-bit planes as uint8: 8x less for the backends
    to check, copy and count than int64)."""
    out = {}
    for name, op in graph.of_type(IntInput):
        x = np.asarray(values[name], dtype=np.float64)
        hi = (1 << op.bits) - 1
        out[name] = np.clip(np.rint(x / op.scale), 0, hi).astype(np.min_scalar_type(hi))
    return out


# --- neuron layers ------------------------------------------------------------------------------


def _weight_mantissa_max(w: np.ndarray, n: Numerics) -> int:
    """Largest |mantissa| Lava's weight pipeline keeps: mixed-sign matrices lose the LSB (SPEC.md §3)."""
    mixed = w.min() < 0 < w.max()
    return n.weight_max - 1 if mixed else n.weight_max


def _quantize_layer(
    name: str,
    op: LIF,
    synapses: list[tuple[str, Dense | Conv2d]],
    graph: Graph,
    inputs: dict[str, InputQuantization],
    options: Quantize,
    calibration: Calibration | None,
    diags: list[Diagnostic],
) -> tuple[LayerQuantization, list[tuple[str, IntDense | IntConv2d]], IntLIF]:
    n = options.numerics
    act = 1 << n.act_shift
    effective, extra_planes = {}, {}
    for sname, sop in synapses:
        src = inputs.get(graph.source_of(sname))
        effective[sname] = sop.weight.array * (src.scale if src else 1.0)
        # bit plane b uses exponent e + b, so the top plane must still fit the exponent range
        extra_planes[sname] = src.bits - 1 if src and src.encoding == "bitplane" else 0
    bias = np.broadcast_to(op.bias.array if op.bias is not None else 0.0, op.shape).astype(np.float64)
    v_init = np.broadcast_to(op.v_init.array if op.v_init is not None else 0.0, op.shape).astype(np.float64)
    i_init = np.broadcast_to(op.i_init.array if op.i_init is not None else 0.0, op.shape).astype(np.float64)
    v_seen = calibration.v_max_abs.get(name, 0.0) if calibration else 0.0

    bounds: dict[str, float] = {}
    if op.spiking:
        bounds["threshold mantissa"] = n.vth_max / op.threshold
    v_extent = max(
        v_seen,
        op.threshold if op.spiking else 0.0,
        float(np.abs(v_init).max(initial=0.0)),
        float(np.abs(i_init).max(initial=0.0)),  # u shares v's units and 24-bit range
    )
    if v_extent > 0:
        bounds["voltage range"] = options.v_headroom * (n.v_max / act) / v_extent
    for sname, w in effective.items():
        wmax = float(np.abs(w).max(initial=0.0))
        if wmax > 0:
            e_top = n.weight_exp_max - extra_planes[sname]
            bounds[f"weights of {sname}"] = _weight_mantissa_max(w, n) * 2.0**e_top / wmax
    input_seen = calibration.input_max_abs.get(name, 0.0) if calibration else 0.0
    acc_limit = 1 << (n.accumulator_bits - 1)
    if input_seen > 0:  # a = s·x weight units must stay inside the accumulator (Loihi 1: 16 bits)
        bounds["dendritic accumulator"] = options.acc_headroom * (acc_limit - 1) / input_seen
    bmax = float(np.abs(bias).max(initial=0.0))
    if bmax > 0:
        bounds["bias mantissa"] = n.bias_mant_max * 2.0**n.bias_exp_max / (act * bmax)
    if not bounds:
        bounds["default"] = 1.0
    limited_by = min(bounds, key=bounds.__getitem__)
    s = bounds[limited_by]
    if not (math.isfinite(s) and s > 0):
        raise QuantizationError(f"no usable scale (limited by {limited_by})", code="QNT011", node=name)
    s = _filling_weight_mantissa(s, effective, n, options.exp_bits_to_avoid_negative)

    int_synapses = []
    exps, bits_used, rmse = {}, {}, {}
    for sname, sop in synapses:
        w_int, e = _quantize_weights(effective[sname], s, n, options.exp_bits_to_avoid_negative)
        if e < 0 and np.any(w_int % (1 << -e)) and graph[graph.predecessors(sname)[0]].HAS_STATE:
            # behind an axon delay Lava floors each delay's sum apart (DelayDense): exponent 0 floors nothing
            w_int, e = _quantize_weights(effective[sname], s, dataclasses.replace(n, weight_exp_min=0))
        if e < 0 and np.any(w_int % (1 << -e)):
            diags.append(_negative_exponent_warning(name, sname, w_int, e))
        exps[sname], bits_used[sname] = e, int(np.abs(w_int).max(initial=0)).bit_length()
        ref = effective[sname]
        norm = float(np.linalg.norm(ref))
        rmse[sname] = float(np.linalg.norm(w_int * 2.0**e / s - ref) / norm) if norm else 0.0
        int_synapses.append((sname, sop.to_int(w_int, e)))

    vth = _threshold(op, s, n)
    bias_v = bias * s * act
    bias_exp = np.clip(
        np.ceil(np.log2(np.maximum(np.abs(bias_v), 1e-300) / (n.bias_mant_max + 0.5))),
        n.bias_exp_min,
        n.bias_exp_max,
    )
    bias_exp = bias_exp.astype(np.int32)
    bias_mant = np.clip(np.rint(bias_v / 2.0**bias_exp), -n.bias_mant_max - 1, n.bias_mant_max).astype(np.int32)
    v_lsb = 1.0 / (s * act)
    int_lif = IntLIF(
        shape=op.shape,
        du=int(
            np.clip(
                (n.decay_unity - n.du_offset) - round(op.alpha * n.decay_unity),
                -n.du_offset,
                n.decay_unity - n.du_offset,
            )
        ),
        dv=round((1.0 - op.beta) * n.decay_unity),
        vth=vth,
        bias_mant=Const(bias_mant),
        bias_exp=Const(bias_exp),
        v_init=Const(np.clip(np.rint(v_init * s * act), -n.v_max, n.v_max).astype(np.int32)),
        u_init=Const(np.clip(np.rint(i_init * s * act), -n.v_max, n.v_max).astype(np.int32)) if i_init.any() else None,
        reset=op.reset,
        v_floor=None if op.v_floor is None else round(op.v_floor * s * act),
        spiking=op.spiking,
        scale=v_lsb,
    )
    if "clif" in op.neuron_features():
        int_lif = clif_tables(int_lif, op, v_per_unit=s * act)
    v_used = v_extent * s * act / n.v_max if v_extent else 0.0
    if v_seen * s * act > n.v_max:
        diags.append(
            Diagnostic(
                "warning",
                "QNT020",
                f"calibrated |v| reaches {v_used:.2f}x the voltage range: v will saturate",
                node=name,
            )
        )
    for sname, b in bits_used.items():
        if 0 < b < 4:
            diags.append(
                Diagnostic(
                    "warning",
                    "QNT021",
                    f"weights of {sname} use only {b} bits (scale limited by {limited_by})",
                    node=name,
                    hint="the layer's weights are tiny relative to its threshold; consider retraining or a larger threshold",
                )
            )
    report = LayerQuantization(
        layer=name,
        scale=s,
        limited_by=limited_by,
        weight_exponents=exps,
        weight_bits_used=bits_used,
        weight_rel_rmse=rmse,
        threshold_rel_error=abs(vth / s - op.threshold) / op.threshold if op.spiking else 0.0,
        bias_max_abs_error=float(np.abs(bias_mant * 2.0**bias_exp * v_lsb - bias).max(initial=0.0)),
        decay_abs_error=abs(int_lif.dv / n.decay_unity - (1.0 - op.beta)),
        v_range_used=v_used,
        accumulator_used=input_seen * s / acc_limit,
    )
    return report, int_synapses, int_lif


def _filling_weight_mantissa(s: float, effective: dict[str, np.ndarray], n: Numerics, bits_for_exp: int = 0) -> float:
    """The largest s' <= s at which the largest synapse's largest weight takes the whole mantissa.

    W_int = rint(s·W / 2^e) with an integer e: at an arbitrary s the largest |W_int| lands anywhere
    in (m/2, m], so up to one bit of the weights' 8 goes unused; lowering s by less than 2x fills
    it, for the price of under one bit of v (24-bit) resolution."""
    if not effective:
        return s
    w = max(effective.values(), key=lambda a: a.size)
    wmax = float(np.abs(w).max(initial=0.0))
    if wmax == 0:
        return s
    m = _weight_mantissa_max(w, n)
    e = math.ceil(math.log2(wmax * s / m) - 1e-12)
    if not n.weight_exp_min < e <= n.weight_exp_max:
        return s
    full = m * 2.0**e / wmax
    if e == 0 and bits_for_exp > 0 and not w.min() < 0 < w.max():
        return s  # halving would give one-sign weights exponent -1, which _quantize_weights avoids (for a bit)
    return s if full <= s * (1 + 1e-12) else full / 2


def _quantize_weights(w: np.ndarray, s: float, n: Numerics, bits_for_exp: int = 0) -> tuple[np.ndarray, int]:
    """Mantissas and exponent of W·s; an exponent of −bits_for_exp .. −1 at which flooring the sum and each
    weight differ becomes 0, for fewer mantissa bits."""
    wmax = float(np.abs(w).max(initial=0.0))
    if wmax == 0:
        return np.zeros(w.shape, dtype=np.int32), 0
    m = _weight_mantissa_max(w, n)
    e = int(np.clip(math.ceil(math.log2(wmax * s / m) - 1e-12), n.weight_exp_min, n.weight_exp_max))
    scaled = w * s / 2.0**e
    mixed = w.min() < 0 < w.max()  # only even mantissas survive Lava's pipeline for mixed signs
    w_int = 2 * np.rint(scaled / 2) if mixed else np.rint(scaled)
    w_int = np.clip(w_int, -m, m).astype(np.int32)
    # a negative exponent floors the step's sum (Lava) where Loihi 1 shifts each weight and a split layer each
    # part: equal only where every mantissa is a multiple of 2^-e (mixed signs at e = -1 are: even values)
    if e < 0 and np.any(w_int % (1 << -e)) and -bits_for_exp <= e and n.weight_exp_max >= 0:
        return _quantize_weights(w, s, dataclasses.replace(n, weight_exp_min=0))
    return w_int, e


def _negative_exponent_warning(layer: str, synapse: str, w_int: np.ndarray, e: int) -> Diagnostic:
    """QNT022, with how many weights are not multiples of 2^-e: those where flooring the step's sum (Lava,
    snncc) and flooring or rounding each weight (Loihi 1 as nengo-loihi models it) differ."""
    off_grid = float(np.mean(w_int % (1 << -e) != 0)) if w_int.size else 0.0
    return Diagnostic(
        "warning",
        "QNT022",
        f"weights of {synapse} take exponent {e}: Lava and snncc floor each step's summed input, Loihi 1 "
        f"(nengo-loihi's model) each weight, and a split layer each part; {off_grid:.0%} of the weights are not "
        f"multiples of 2^{-e}, where they differ",
        node=layer,
        hint="a larger threshold or smaller weights relative to it move the exponent to 0 or above",
    )


def _threshold(op: LIF, s: float, n: Numerics) -> int:
    if not op.spiking:
        return n.vth_max
    t = op.threshold * s
    vth = math.floor(t + 1e-9) if op.fire == ">" else math.ceil(t - 1e-9) - 1
    return int(np.clip(vth, 0, n.vth_max))


CLIF_M_FRAC_BITS = 8  # measured spike mismatch 0.07-0.39 % at 8 bits (neuron-models.md §3.3)
CLIF_H_BINS = 1024
CLIF_M_BINS = 256
CLIF_RANGE = 8.0  # sigmoid is within 3.4e-4 of 0 or 1 beyond ±8


def clif_tables(base: IntLIF, op: CLIF, *, v_per_unit: float) -> IntCLIF:
    """Look-up tables of sigmoid(h/m_tau) over v and of sigmoid(m) in v LSB (SPEC.md §int_clif)."""
    frac = CLIF_M_FRAC_BITS
    half = CLIF_H_BINS // 2
    h_extent = CLIF_RANGE * op.m_tau * v_per_unit  # |v| beyond which sigmoid(h/m_tau) saturates
    h_shift = max(0, math.ceil(math.log2(h_extent / half)))
    h_centre = ((np.arange(CLIF_H_BINS) - half) * 2.0**h_shift + 2.0 ** (h_shift - 1)) / v_per_unit
    m_shift = max(0, math.ceil(math.log2(CLIF_RANGE * 2**frac / CLIF_M_BINS)))
    m_centre = (np.arange(CLIF_M_BINS) * 2.0**m_shift + 2.0 ** (m_shift - 1)) / 2**frac
    return IntCLIF(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base)},
        m_frac_bits=frac,
        h_shift=h_shift,
        lut_h=Const(np.rint(_sigmoid(h_centre / op.m_tau) * 2**frac).astype(np.int32)),
        m_shift=m_shift,
        lut_m=Const(np.rint(_sigmoid(m_centre) * v_per_unit).astype(np.int32)),
    )


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))
