"""CANONICAL -> INTEGER for the xylo numerics family (ir/SPEC.md §6.4): float lif -> int_xylo_lif.

Xylo's synaptic current decays by a bit shift *after* this step's events are added, so with
a = 1 − 2^−dash_syn its current is i_t ≈ a·(i_{t−1} + x_t): a times the float model's
I_t = alpha·I_{t−1} + x_t when a = alpha.  The weights are therefore divided by a.  Per layer one
scale s (v LSB per float unit) maps the float potentials:

    W_int·2^e ≈ s·W·u_src / a      vth = ⌈θ·s⌉ (fire ">=")  or  ⌊θ·s⌋ + 1 (fire ">")
    bias = round(bias·s)           dash_mem = round(−log2(1 − beta)),  dash_syn = round(−log2(1 − alpha))

s is the largest value the int16 threshold, the int8 weights at the largest shift, the int16 bias
and the voltage headroom on calibration data allow.  Xylo has one weight shift per matrix (input,
hidden, readout), so every synapse of a matrix takes the largest exponent any of them needs.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from snncc.errors import Diagnostic, QuantizationError
from snncc.hints import framework_fix
from snncc.ir import LIF, Const, Graph, GraphBuilder, Input, IntDense, IntInput, IntXyloLIF, Stage

from .calibrate import Calibration
from .quantize import InputQuantization, LayerQuantization, QuantizationReport, Quantize, _quantize_input

HIDDEN_MAX_SPIKES, OUTPUT_MAX_SPIKES = 31, 1  # targets/xylo.yaml: max_hidden_spikes, max_output_spikes


def quantize_xylo(
    graph: Graph, options: Quantize, calibration: Calibration | None = None
) -> tuple[Graph, QuantizationReport]:
    n = options.numerics
    order = graph.topo_order()
    layers = [(name, graph[name]) for name in order if graph[name].IS_NEURON]
    last = layers[-1][0]
    inputs: dict[str, InputQuantization] = {}
    for name, op in graph.of_type(Input):
        inputs[name] = _quantize_input(name, op, options, calibration)
    problems = [d for name, op in layers for d in _refusals(name, op, graph, n.decay_bits)]
    if problems:  # every layer's, at once (`snncc check` lists every blocker)
        raise QuantizationError(diagnostics=problems)
    plans = {name: _plan_layer(name, op, graph, inputs, options, calibration) for name, op in layers}
    exponents = _matrix_exponents(graph, plans, inputs, last, n.weight_exp_max)

    builder = GraphBuilder()
    reports, diags, v_lsb = [], [], {}
    for name in order:
        op = graph[name]
        if op.IS_INPUT:
            iq = inputs[name]
            builder.add(name, IntInput(shape=op.shape, bits=iq.bits, encoding=iq.encoding, scale=iq.scale))
        elif op.IS_NEURON:
            plan = plans[name]
            syn_names, exps, bits_used, rmse = [], {}, {}, {}
            for sname, w_eff in plan.weights.items():
                e = exponents[sname]
                w_int = np.clip(np.rint(w_eff * plan.scale / 2.0**e), -n.weight_max - 1, n.weight_max).astype(np.int32)
                exps[sname], bits_used[sname] = e, int(np.abs(w_int).max(initial=0)).bit_length()
                norm = float(np.linalg.norm(w_eff))
                rmse[sname] = float(np.linalg.norm(w_int * 2.0**e / plan.scale - w_eff) / norm) if norm else 0.0
                syn = IntDense(shape=graph[sname].shape, weight=Const(w_int), weight_exp=e)
                syn_names.append(builder.add(sname, syn, list(graph.predecessors(sname))))
            int_op = _int_layer(op, plan, last=name == last, n_vth_max=n.vth_max, bias_max=n.bias_mant_max)
            builder.add(name, int_op, syn_names)
            v_lsb[name] = int_op.scale
            reports.append(_report(name, op, plan, int_op, exps, bits_used, rmse, n.v_max))
            diags += plan.diagnostics
        elif op.IS_OUTPUT:
            src = graph.predecessors(name)[0]
            unit = v_lsb[src] if op.readout.startswith("v_") else 1.0
            builder.add(name, dataclasses.replace(op, scale=op.scale * unit), [src])
    meta = dataclasses.replace(graph.meta, stage=Stage.INTEGER, numerics=n).with_notes(
        input_encoding=options.input_encoding
    )
    return builder.build(meta), QuantizationReport(tuple(inputs.values()), tuple(reports), tuple(diags))


@dataclasses.dataclass(frozen=True)
class _LayerPlan:
    scale: float
    limited_by: str
    dash_syn: int
    dash_mem: int
    weights: dict[str, np.ndarray]  # synapse -> float weight in source units, divided by a
    v_extent: float
    diagnostics: tuple[Diagnostic, ...]


def _plan_layer(
    name: str,
    op: LIF,
    graph: Graph,
    inputs: dict[str, InputQuantization],
    options: Quantize,
    calibration: Calibration | None,
) -> _LayerPlan:
    n = options.numerics
    dash_max = (1 << n.decay_bits) - 1
    dash_syn = _dash_syn(op, n.decay_bits)
    dash_mem = int(np.clip(round(-math.log2(max(1.0 - op.beta, 2.0**-dash_max))), 0, dash_max))
    keep = 1.0 - 2.0**-dash_syn
    weights = {}
    for sname in graph.predecessors(name):
        src = inputs.get(graph.predecessors(sname)[0])
        weights[sname] = graph[sname].weight.array * (src.scale if src else 1.0) / keep
    bias = np.broadcast_to(op.bias.array if op.bias is not None else 0.0, op.shape).astype(np.float64)
    v_seen = calibration.v_max_abs.get(name, 0.0) if calibration else 0.0
    bounds: dict[str, float] = {}
    if op.spiking:
        bounds["threshold"] = (n.vth_max - 1) / op.threshold
    v_extent = max(v_seen, op.threshold if op.spiking else 0.0)
    if v_extent > 0:
        bounds["voltage range"] = options.v_headroom * n.v_max / v_extent
    for sname, w in weights.items():
        wmax = float(np.abs(w).max(initial=0.0))
        if wmax > 0:
            bounds[f"weights of {sname}"] = n.weight_max * 2.0**n.weight_exp_max / wmax
    bmax = float(np.abs(bias).max(initial=0.0))
    if bmax > 0:
        bounds["bias"] = n.bias_mant_max / bmax
    if not bounds:
        bounds["default"] = 1.0
    limited_by = min(bounds, key=bounds.__getitem__)
    scale = bounds[limited_by]
    if not (math.isfinite(scale) and scale > 0):
        raise QuantizationError(f"no usable scale (limited by {limited_by})", code="QNT011", node=name)
    diags = []
    if v_seen * scale > n.v_max:
        diags.append(
            Diagnostic("warning", "QNT020", "calibrated |v| exceeds the int16 range: v will saturate", node=name)
        )
    return _LayerPlan(scale, limited_by, dash_syn, dash_mem, weights, v_extent, tuple(diags))


def _dash_syn(op: LIF, decay_bits: int) -> int:
    dash_max = (1 << decay_bits) - 1
    return int(np.clip(round(-math.log2(max(1.0 - op.alpha, 2.0**-dash_max))), 0, dash_max))


def _refusals(name: str, op: LIF, graph: Graph, decay_bits: int) -> list[Diagnostic]:
    """Everything about the layer that Xylo's neuron and synapses cannot run (QNT030-QNT032)."""

    def refuse(what: str, hint: str) -> Diagnostic:
        return Diagnostic("error", "QNT031", f"Xylo's neuron has no {what}", node=name, hint=hint)

    pool = graph.predecessors(name)[0]
    if name == f"{pool}.or" and graph[pool].is_conv:  # importers' OR neurons of spike max pooling
        hint = "pool with nn.Linear layers only: Xylo has no pooling"
        text = f"{pool} (max pooling of spikes) needs a pooling window and a layer of OR neurons behind it"
        return [
            Diagnostic(
                "error", "QNT032", f"{text}: Xylo connects neurons by weight matrices only", node=pool, hint=hint
            )
        ]
    problems = []
    if op.reset != "subtract" and op.spiking:
        hint = _fix(graph, name, "reset_zero") or "train with reset by subtraction"
        problems.append(refuse("reset to zero: it subtracts the threshold", hint))
    if op.v_floor is not None:
        problems.append(refuse("voltage floor", "train without a floor on the membrane potential"))
    for field in ("v_init", "i_init"):
        value = getattr(op, field)
        if value is not None and np.any(value.array != 0):
            problems.append(
                refuse(
                    f"initial state ({field})",
                    _fix(graph, name, field, op.reset)
                    or "start every sample from rest; a synapse bias into a decaying current needs one (use bias=False)",
                )
            )
            break  # one initial state is enough to say; the fix is the same
    if _dash_syn(op, decay_bits) == 0:
        problems.append(
            Diagnostic(
                "error",
                "QNT030",
                f"the synaptic current decay alpha = {op.alpha:g} has no Xylo form: its current keeps "
                "1 − 2^−dash_syn of itself each step, at least half",
                node=name,
                hint=_fix(graph, name, "current")
                or "train a current-based neuron with alpha = 1 − 2^−k, k = 1..15 (snntorch Synaptic, "
                "norse/NIR CubaLIF); a neuron without current memory (alpha = 0) does not map onto Xylo",
            )
        )
    for sname in graph.predecessors(name):
        if graph[sname].is_conv:  # not a weight matrix
            problems.append(
                Diagnostic(
                    "error",
                    "QNT032",
                    f"{sname} is a {graph[sname].OP}: Xylo connects neurons by weight matrices only",
                    node=name,
                    hint="use fully connected layers (nn.Linear) for the xylo target",
                )
            )
    return problems


def _fix(graph: Graph, layer: str, feature: str, reset: str = "") -> str | None:
    """The fix in the user's framework (snncc/hints.py), where a framework's class made the layer."""
    return framework_fix(graph, layer, feature, "xylo", "xylo", reset)


def _matrix_exponents(
    graph: Graph, plans: dict[str, _LayerPlan], inputs: dict[str, InputQuantization], last: str, e_max: int
) -> dict[str, int]:
    """One exponent per Xylo matrix (input, hidden, readout): the largest any of its synapses needs."""
    needed: dict[str, int] = {}
    matrix: dict[str, str] = {}
    for layer, plan in plans.items():
        for sname, w in plan.weights.items():
            src = graph.predecessors(sname)[0]
            matrix[sname] = "input" if src in inputs else "readout" if layer == last else "hidden"
            wmax = float(np.abs(w).max(initial=0.0)) * plan.scale
            needed[sname] = int(np.clip(math.ceil(math.log2(wmax / 127) - 1e-12), 0, e_max)) if wmax > 0 else 0
    per_matrix = {m: max(needed[s] for s in matrix if matrix[s] == m) for m in set(matrix.values())}
    return {s: per_matrix[m] for s, m in matrix.items()}


def _int_layer(op: LIF, plan: _LayerPlan, *, last: bool, n_vth_max: int, bias_max: int) -> IntXyloLIF:
    s = plan.scale
    if not op.spiking:
        vth = n_vth_max
    else:
        t = op.threshold * s
        vth = math.ceil(t - 1e-9) if op.fire == ">=" else math.floor(t + 1e-9) + 1
    bias = np.broadcast_to(op.bias.array if op.bias is not None else 0.0, op.shape)
    return IntXyloLIF(
        shape=op.shape,
        dash_syn=plan.dash_syn,
        dash_mem=plan.dash_mem,
        vth=int(np.clip(vth, 1, n_vth_max)),
        bias=Const(np.clip(np.rint(bias * s), -bias_max - 1, bias_max).astype(np.int32)),
        max_spikes=OUTPUT_MAX_SPIKES if last else HIDDEN_MAX_SPIKES,
        spiking=op.spiking,
        scale=1.0 / s,
    )


def _report(name, op, plan, int_op, exps, bits_used, rmse, v_max) -> LayerQuantization:
    s = plan.scale
    bias = np.broadcast_to(op.bias.array if op.bias is not None else 0.0, op.shape)
    return LayerQuantization(
        layer=name,
        scale=s,
        limited_by=plan.limited_by,
        weight_exponents=exps,
        weight_bits_used=bits_used,
        weight_rel_rmse=rmse,
        threshold_rel_error=abs(int_op.vth / s - op.threshold) / op.threshold if op.spiking else 0.0,
        bias_max_abs_error=float(np.abs(int_op.bias.array / s - bias).max(initial=0.0)),
        decay_abs_error=abs(2.0**-plan.dash_mem - (1.0 - op.beta)),
        v_range_used=plan.v_extent * s / v_max,
    )
