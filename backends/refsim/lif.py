"""The int_lif step of ir/SPEC.md §3, with Lava's int32 storage and wraps (lava/proc/lif/models.py)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from array_api_compat import array_namespace

from snncc.ir import IntCLIF, IntLIF, Numerics

from .arith import decayed, saturate_v, wrap_int32, wrap_u


class LIFState(NamedTuple):
    u: np.ndarray  # int64 holding int32 values, (B, *shape)
    v: np.ndarray
    m: np.ndarray | None = None  # int_clif's complementary state (m_frac_bits fraction bits)


class StepEvents(NamedTuple):
    """Per neuron-step flags of what happened (for the overflow counters)."""

    u_wrapped: np.ndarray
    v_saturated: np.ndarray
    int32_wrapped: np.ndarray
    active: np.ndarray  # nonzero input, u or v before the update


def initial_state(op: IntLIF, batch: int) -> LIFState:
    shape = (batch, *op.shape)
    v = np.broadcast_to(op.v_init.array.astype(np.int64), shape).copy()
    u_init = 0 if op.u_init is None else op.u_init.array.astype(np.int64)
    m = np.zeros(shape, dtype=np.int64) if isinstance(op, IntCLIF) else None
    return LIFState(np.broadcast_to(u_init, shape).copy(), v, m)


def effective_bias(op: IntLIF) -> np.ndarray:
    """bias_mant·2^bias_exp; arithmetic shift for negative exponents, int32 like Lava."""
    mant = op.bias_mant.array.astype(np.int64)
    exp = op.bias_exp.array.astype(np.int64)
    return wrap_int32(np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0)))


def lif_step(
    a: np.ndarray, state: LIFState, op: IntLIF, bias: np.ndarray, n: Numerics
) -> tuple[np.ndarray, LIFState, StepEvents]:
    """One step.  ``a`` is the int32 sum of this step's synaptic inputs.  Returns (spikes bool, state, events).

    numpy or torch arrays (SPEC.md's equations in array-API form; see arith.py).
    """
    xp = array_namespace(a)
    unity = n.decay_unity
    act = a << n.act_shift
    act_wrapped = wrap_int32(act)
    u_sum = decayed(state.u, unity - (op.du + n.du_offset), n.decay_bits) + act_wrapped
    u_sum_wrapped = wrap_int32(u_sum)
    u, u_wrapped = wrap_u(u_sum_wrapped, n)
    v_sum = decayed(state.v, unity - op.dv, n.decay_bits) + u + bias
    v_sum_wrapped = wrap_int32(v_sum)
    v, v_saturated = saturate_v(v_sum_wrapped, n)
    if op.v_floor is not None:
        v = xp.clip(v, op.v_floor, None)
    threshold = op.vth << n.vth_shift
    spikes = v > threshold if op.spiking else xp.zeros_like(v, dtype=xp.bool)
    m = None
    if isinstance(op, IntCLIF):
        m = clif_m(state.m, v, spikes, op)
        v = xp.where(spikes, v - threshold - clif_extra_reset(m, op), v)
    elif op.reset == "zero":
        v = xp.where(spikes, 0, v)
    else:
        v = xp.where(spikes, v - threshold, v)
    events = StepEvents(
        u_wrapped=u_wrapped,
        v_saturated=v_saturated,
        int32_wrapped=(act != act_wrapped) | (u_sum != u_sum_wrapped) | (v_sum != v_sum_wrapped),
        active=(a != 0) | (state.u != 0) | (state.v != 0),
    )
    return spikes, LIFState(u, v, m), events


def clif_m(m: np.ndarray, v: np.ndarray, spikes: np.ndarray, op: IntCLIF) -> np.ndarray:
    """m = (m·lut_h[idx_h(v)]) >> F + s·2^F (SPEC.md §int_clif)."""
    xp = array_namespace(v)
    lut_h = _on(op.lut_h.array, v)
    half = lut_h.shape[0] // 2
    idx = xp.clip(v >> op.h_shift, -half, half - 1) + half
    return ((m * lut_h[idx]) >> op.m_frac_bits) + (xp.astype(spikes, xp.int64) << op.m_frac_bits)


def clif_extra_reset(m: np.ndarray, op: IntCLIF) -> np.ndarray:
    """sigmoid(m) in v LSB, from lut_m."""
    xp = array_namespace(m)
    lut_m = _on(op.lut_m.array, m)
    return lut_m[xp.clip(m >> op.m_shift, 0, lut_m.shape[0] - 1)]


def _on(table: np.ndarray, like) -> np.ndarray:
    """A look-up table as int64 in the array library (and on the device) of ``like``."""
    xp = array_namespace(like)
    return xp.asarray(table.astype(np.int64), device=getattr(like, "device", None))
