"""Xylo's integer LIF with bit-shift decays (SPEC.md §int_xylo_lif)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.errors import InvalidGraph

from ..arith import INT16_MAX, sat16, wrap16
from ..const import Const
from ..graph import Graph
from ..op import Op, Shape, expect_neuron_inputs


@dataclass(frozen=True, kw_only=True)
class IntXyloLIF(Op):
    """SynSense Xylo's integer LIF with bit-shift decays (SPEC.md §6, numerics family "xylo").

    Per step, after this step's synaptic events were added to i with int16 saturation:
        i = i − decay(i, dash_syn);  v = sat16(v + sat16(sat16(−decay(v, dash_mem) + i) + bias))
        n = min(max_spikes, ⌊v / vth⌋ if v ≥ vth else 0);  v = v − n·vth
    decay(x, d) = x >> d, or sign(x) where that is 0.  n is the number of spikes this step.
    ``scale`` is the float value of one LSB of v.
    """

    OP = "int_xylo_lif"
    IS_NEURON = True
    dash_syn: int
    dash_mem: int
    vth: int
    bias: Const  # int, shape == self.shape
    max_spikes: int = 31  # 31 for hidden neurons, 1 for output neurons
    spiking: bool = True
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_neuron_inputs(name, self, inputs)
        if self.bias.shape != self.shape:
            raise InvalidGraph(
                f"bias has shape {self.bias.shape}, expected the layer shape {self.shape}", code="GRF004", node=name
            )
        return self.shape


# numerics


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


def synapse_matrix(op: Op) -> np.ndarray:
    """An int_dense's (out, in) integer matrix, shifted left by weight_exp (Xylo's weight_bit_shift)."""
    return op.weight.array.astype(np.int64) << op.weight_exp


def source_order(graph: Graph, layer: str) -> list[str]:
    """The layer's synapse ops in Xylo's delivery order: input channels first, then hidden sources by position."""
    topo = {n: k for k, n in enumerate(graph.topo_order())}

    def key(syn: str) -> tuple[int, int]:
        src = graph.predecessors(syn)[0]
        return (0 if graph[src].IS_INPUT else 1, topo[src])

    return sorted(graph.predecessors(layer), key=key)
