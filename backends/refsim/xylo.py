"""RefSim for the Xylo numerics family: ir/SPEC.md §6 as pure step functions and the dialect that runs
them on the shared interpreter (backends/interpreter.py).

Xylo (SynSense) has no Lava model: its bit-exact reference is SynSense's XyloSim, which
tests/integration/test_xylo_oracle.py runs against this module.  State is int16 everywhere and
saturates (never wraps); decays are bit shifts; a hidden neuron may emit several spikes per step.
Time is aligned (SPEC.md §1.1), as in the Loihi path of simulator.py.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from snncc.backends.interpreter import Layer, NeuronStep, OnNumpy
from snncc.ir import Graph, IntDense, IntInput, IntXyloLIF

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


class XyloDialect(OnNumpy):
    """refsim's arithmetic for the xylo family (numpy int64 holding int16 values) for the shared
    interpreter.  A synapse op passes its source's events on; the neuron step delivers them to i in
    Xylo's order (``source_order``) with the saturation after every source that SPEC.md §6 asks for."""

    value_dtype: ClassVar[type] = np.int64
    message_dtype: ClassVar[type] = np.int64  # a layer sends its spike counts (up to max_spikes a step)

    def __init__(self, graph: Graph) -> None:
        self.graph = graph
        self.matrices = {n: synapse_matrix(op) for n, op in graph.of_type(IntDense)}
        self.order = {n: source_order(graph, n) for n, _ in graph.of_type(IntXyloLIF)}
        self.bias = {n: op.bias.array.astype(np.int64).reshape(-1) for n, op in graph.of_type(IntXyloLIF)}

    def initial_state(self, op: IntXyloLIF, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """(i, v), flat (batch, neurons): zero at the start of every sample."""
        n = int(np.prod(op.shape))
        return np.zeros((batch, n), dtype=np.int64), np.zeros((batch, n), dtype=np.int64)

    def stateless(self, name: str, op: IntDense, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)  # the source's events, (batch, sources): the neuron delivers them

    def neuron(self, name: str, op: IntXyloLIF, inputs: list[np.ndarray], layer: Layer) -> NeuronStep:
        events = dict(zip(self.graph.predecessors(name), inputs, strict=True))
        i, v = layer.state
        active, saturated = i != 0, np.zeros(i.shape, dtype=bool)
        for syn in self.order[name]:
            weight = self.matrices[syn]
            active |= events[syn].any(axis=1, keepdims=True) & (weight != 0).any(axis=1)
            i, sat = deliver(i, events[syn], weight)
            saturated |= sat
        active |= v != 0
        n, i, v, sat = xylo_lif_step(i, v, op, self.bias[name])
        layer.state = (i, v)
        layer.events["v_saturations"] += int((saturated | sat).sum())
        layer.events["active_updates"] += int(active.sum())
        shaped = [a.reshape(layer.batch, *op.shape) for a in (n, v, i)]
        layer.tally(shaped[0], shaped[1])
        return NeuronStep(*shaped, n)
