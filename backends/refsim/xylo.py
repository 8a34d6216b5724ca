"""RefSim for the Xylo numerics family: ir/SPEC.md §6 as pure step functions plus one batched run.

Xylo (SynSense) has no Lava model: its bit-exact reference is SynSense's XyloSim, which
tests/integration/test_xylo_oracle.py runs against this module.  State is int16 everywhere and
saturates (never wraps); decays are bit shifts; a hidden neuron may emit several spikes per step.
Time is aligned (SPEC.md §1.1), as in the Loihi path of simulator.py.
"""

from __future__ import annotations

import time

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace
from snncc.backends.int_inputs import check_int_inputs, input_events, is_per_step
from snncc.ir import Graph, IntDense, IntInput, IntXyloLIF, Output
from snncc.ir.ops_float import STEP_READOUTS

INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def sat16(x: np.ndarray) -> np.ndarray:
    return np.clip(x, INT16_MIN, INT16_MAX)


def wrap16(x: np.ndarray) -> np.ndarray:
    return x.astype(np.int16).astype(np.int64)


def decay(x: np.ndarray, dash: int) -> np.ndarray:
    """x >> dash, but at least one LSB toward zero while x ≠ 0 (Xylo's bit-shift decay step)."""
    d = x >> dash
    return np.where(d == 0, np.sign(x), d)


def deliver(i: np.ndarray, events: np.ndarray, weight: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Add each source's events·weight to i with int16 saturation after every source (SPEC.md §6).

    i (B, N), events (B, M) counts, weight (N, M) already shifted.  Saturating adds depend on their
    order only when a partial sum leaves int16; rows where the bound |i| + Σ|events·w| stays inside
    take one matrix product.  Returns (i, saturated mask).
    """
    bound = np.abs(i) + events @ np.abs(weight).T
    unsafe = (bound > INT16_MAX).any(axis=1)
    out = i + events @ weight.T
    saturated = np.zeros(i.shape, dtype=bool)
    if unsafe.any():
        acc, ev = i[unsafe], events[unsafe]
        clipped = np.zeros(acc.shape, dtype=bool)
        for m in np.flatnonzero(ev.any(axis=0)):  # sources in index order
            raw = acc + ev[:, m : m + 1] * weight[:, m]
            acc = sat16(raw)
            clipped |= acc != raw
        out[unsafe] = acc
        saturated[unsafe] = clipped
    return out, saturated


def xylo_lif_step(
    i: np.ndarray, v: np.ndarray, op: IntXyloLIF, bias: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """One neuron update after this step's events reached i.  Returns (spike counts, i, v, saturated)."""
    i = i - decay(i, op.dash_syn)
    dv = wrap16(-decay(v, op.dash_mem))  # int16 negation: −(−2^15) stays −2^15
    dv_i = sat16(dv + i)
    dv_b = sat16(dv_i + bias)
    v_raw = v + dv_b
    v_new = sat16(v_raw)
    saturated = (dv_i != dv + i) | (dv_b != dv_i + bias) | (v_new != v_raw)
    n = np.where(v_new >= op.vth, np.minimum(v_new // op.vth, op.max_spikes), 0) if op.spiking else np.zeros_like(v_new)
    return n, i, v_new - n * op.vth, saturated


def synapse_matrix(op: IntDense) -> np.ndarray:
    """The op's (out, in) integer matrix, shifted left by weight_exp (Xylo's weight_bit_shift)."""
    return op.weight.array.astype(np.int64) << op.weight_exp


def source_order(graph: Graph, layer: str) -> list[str]:
    """The layer's synapse ops in Xylo's delivery order: input channels first, then hidden sources by position."""
    topo = {n: k for k, n in enumerate(graph.topo_order())}

    def key(syn: str) -> tuple[int, int]:
        src = graph.predecessors(syn)[0]
        return (0 if isinstance(graph[src], IntInput) else 1, topo[src])

    return sorted(graph.predecessors(layer), key=key)


def run_xylo(graph: Graph, inputs: dict[str, np.ndarray], record: Record) -> Trace:
    """Every sample for meta.steps steps from i = v = 0; a recurrent synapse reads the previous step."""
    start = time.perf_counter()
    steps = graph.meta.steps
    values = check_int_inputs(graph, inputs)
    batch = len(next(iter(values.values())))
    layers = dict(graph.of_type(IntXyloLIF))
    recurrent = {e.dst for e in graph.recurrent_edges()}
    matrices = {n: synapse_matrix(op) for n, op in graph.of_type(IntDense)}
    order = {n: source_order(graph, n) for n in layers}
    flat = {n: int(np.prod(op.shape)) for n, op in layers.items()}
    i = {n: np.zeros((batch, flat[n]), dtype=np.int64) for n in layers}
    v = {n: np.zeros((batch, flat[n]), dtype=np.int64) for n in layers}
    previous = {n: np.zeros((batch, flat[n]), dtype=np.int64) for n in layers}
    bias = {n: op.bias.array.astype(np.int64).reshape(-1) for n, op in layers.items()}
    counts = {n: np.zeros((batch, flat[n]), dtype=np.int64) for n in layers}
    v_sum = {n: np.zeros((batch, flat[n]), dtype=np.int64) for n in layers}
    events = {n: dict.fromkeys(("v_saturations", "active_updates"), 0) for n in layers}
    rec: dict[str, dict[str, list[np.ndarray]]] = {"spikes": {}, "v": {}, "u": {}}
    per_step: dict[str, list[np.ndarray]] = {n: [] for n in layers}
    topo = graph.topo_order()
    for t in range(steps):
        out: dict[str, np.ndarray] = {}
        for name in topo:
            op = graph[name]
            if isinstance(op, IntInput):
                x = values[name]
                out[name] = (x[:, t] if is_per_step(op, x) else x).reshape(batch, -1)
            elif isinstance(op, IntXyloLIF):
                state_i, active = i[name], i[name] != 0
                saturated = np.zeros_like(active)
                for syn in order[name]:
                    src = graph.predecessors(syn)[0]
                    ev = previous[src] if syn in recurrent else out[src]
                    active |= ev.any(axis=1, keepdims=True) & (matrices[syn] != 0).any(axis=1)
                    state_i, sat = deliver(state_i, ev, matrices[syn])
                    saturated |= sat
                active |= v[name] != 0
                n, i[name], v[name], sat = xylo_lif_step(state_i, v[name], op, bias[name])
                out[name] = n
                counts[name] += n
                v_sum[name] += v[name]
                events[name]["v_saturations"] += int((saturated | sat).sum())
                events[name]["active_updates"] += int(active.sum())
                per_step[name].append((n, v[name].copy()))
                if record.wants(name):
                    for var, value in (("spikes", n), ("v", v[name]), ("u", i[name])):
                        if getattr(record, var):
                            rec[var].setdefault(name, []).append(value.copy())
        previous.update({n: out[n] for n in layers})
    shape = {n: op.shape for n, op in layers.items()}
    outputs = {}
    for name, op in graph.of_type(Output):
        layer = graph.predecessors(name)[0]
        outputs[name] = _readout(op.readout, v[layer], v_sum[layer], counts[layer], per_step[layer], steps)
        outputs[name] = outputs[name].reshape(batch, *((steps,) if op.readout in STEP_READOUTS else ()), *shape[layer])
    return Trace(
        batch=batch,
        steps=steps,
        outputs=outputs,
        spike_counts={n: c.sum(axis=0).reshape(shape[n]) for n, c in counts.items()},
        input_events={k: input_events(graph[k], x, steps) for k, x in values.items()},
        stats={n: LayerStats(spikes=int(counts[n].sum()), **events[n]) for n in layers},
        **{
            var: {
                n: np.stack(vals, axis=1)
                .reshape(batch, steps, *shape[n])
                .astype(np.uint8 if var == "spikes" else np.int64)
                for n, vals in rec[var].items()
            }
            for var in ("spikes", "v", "u")
        },
        wall_seconds=time.perf_counter() - start,
    )


def _readout(readout, v_last, v_sum, counts, per_step, steps) -> np.ndarray:
    if readout == "v_last":
        return v_last.copy()
    if readout == "v_mean":
        return v_sum / steps
    if readout == "spike_steps":
        return np.stack([n for n, _ in per_step], axis=1)
    if readout == "v_steps":
        return np.stack([vv for _, vv in per_step], axis=1)
    return counts.copy()
