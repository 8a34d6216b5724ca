"""The int_lif step of lif.py fused into one pass over the neurons (numba), for numpy arrays.

lif.lif_step is the readable, array-API form (numpy and torch); it makes ~25 passes over the
batch, each with an int64 temporary.  This is the same arithmetic per neuron in one compiled
loop that also updates the spike counts, the v sums and the overflow counters in place.
tests/property/test_refsim_fused.py compares the two on random parameters, wraps included.

Speed: the loop body is branch-free (selects, not jumps) so that LLVM vectorizes it (SIMD,
~1.4 ns per neuron-step against ~9 ns scalar; see jit.py).  A step that cannot wrap (bounds.py,
tested per step from the largest |input| and |u|: one cheap pass) runs without the wrap
arithmetic, ~0.8 ns.  The int64 state needs no narrowing: its products (|u| < 2^24 times a
12-bit decay) need 36 bits, and in registers int64 lanes cost little (int32 state measured no
faster); the synaptic input may come as int32 (a single port, already wrapped) or int64 (an
unwrapped sum of ports).
"""

from __future__ import annotations

import numba
import numpy as np

from snncc.ir import IntCLIF, IntLIF, Numerics
from snncc.ir.arith import accumulator_mode
from snncc.ir.ops.lif import IntLIFState as LIFState

from .bounds import INT32_LIMIT, WrapFreeStep, v_bound
from .jit import njit

_HALF32 = 1 << 31
_MASK32 = (1 << 32) - 1
_NO_FLOOR = -(1 << 62)  # below any int32 value: max(v, _NO_FLOOR) = v


def supports(op: IntLIF) -> bool:
    """The fused step covers int_lif; int_clif (look-up tables) takes lif.lif_step."""
    return not isinstance(op, IntCLIF)


@numba.njit(inline="always")
def _wrap32(x):
    return ((x + _HALF32) & _MASK32) - _HALF32


@numba.njit(inline="always")
def _decayed(x, keep, bits):
    """t12(x·keep), truncation toward zero; exact for keep = 0 and keep = 2^bits too (no branch)."""
    p = x * keep
    return (p + ((p >> 63) & ((1 << bits) - 1))) >> bits


@njit
def _lif_update(total, u, v, counts, spikes, bias, params):
    """In place over (B, N) arrays (state int64, ``total`` the summed synaptic input, int32 or
    int64); ``params`` the step's constants (lif_step_in_place).  Returns (u wraps, v saturations,
    int32 wraps, active updates, accumulator overflows, the largest |u| after the step)."""
    act_shift, keep_u, keep_v, decay_bits, half, v_max, threshold, v_floor = params[:8]
    spiking, subtract = params[8] != 0, params[9] != 0
    acc_lo, acc_mask, acc_mode = params[10], params[11], params[12]  # arith.accumulate
    acc_hi = acc_lo + acc_mask
    u_wraps = v_sats = int_wraps = active = u_top = acc_overflows = 0
    for b in range(u.shape[0]):
        for i in range(u.shape[1]):
            t = np.int64(total[b, i])
            a32 = _wrap32(t)
            a_wrapped = ((t - acc_lo) & acc_mask) + acc_lo
            a_saturated = min(max(t, acc_lo), acc_hi)
            a = a_wrapped if acc_mode == 0 else (a_saturated if acc_mode == 1 else a32)
            acc_overflows += (t < acc_lo) | (t > acc_hi)
            u0 = u[b, i]
            v0 = v[b, i]
            act = a << act_shift
            act_w = _wrap32(act)
            u_sum = _decayed(u0, keep_u, decay_bits) + act_w
            u_sum_w = _wrap32(u_sum)
            high = u_sum_w > half
            low = u_sum_w <= -half
            u1 = u_sum_w - 2 * half * high + 2 * half * low
            v_sum0 = _decayed(v0, keep_v, decay_bits) + u1 + bias[i]
            v_sum_w = _wrap32(v_sum0)
            v1, fire, saturated = _saturate_fire_reset(v_sum_w, v_max, v_floor, threshold, spiking, subtract)
            v_sats += saturated
            u_wraps += high | low
            counts[b, i] += fire
            int_wraps += (t != a32) | (act != act_w) | (u_sum != u_sum_w) | (v_sum0 != v_sum_w)
            active += (a != 0) | (u0 != 0) | (v0 != 0)
            u_top = max(u_top, abs(u1))
            u[b, i] = u1
            v[b, i] = v1
            spikes[b, i] = fire
    return u_wraps, v_sats, int_wraps, active, acc_overflows, u_top


@njit
def _lif_update_unwrapped(total, u, v, counts, spikes, bias, params):
    """_lif_update for a step that bounds.WrapFreeStep shows cannot wrap: the same values without the
    wrap arithmetic (which would change nothing there), and zero wrap counters."""
    act_shift, keep_u, keep_v, decay_bits, _, v_max, threshold, v_floor = params[:8]
    spiking, subtract = params[8] != 0, params[9] != 0
    v_sats = active = u_top = 0
    for b in range(u.shape[0]):
        for i in range(u.shape[1]):
            a = np.int64(total[b, i])
            u0 = u[b, i]
            v0 = v[b, i]
            u1 = _decayed(u0, keep_u, decay_bits) + (a << act_shift)
            v_sum = _decayed(v0, keep_v, decay_bits) + u1 + bias[i]
            v1, fire, saturated = _saturate_fire_reset(v_sum, v_max, v_floor, threshold, spiking, subtract)
            v_sats += saturated
            counts[b, i] += fire
            active += (a != 0) | (u0 != 0) | (v0 != 0)
            u_top = max(u_top, abs(u1))
            u[b, i] = u1
            v[b, i] = v1
            spikes[b, i] = fire
    return 0, v_sats, 0, active, 0, u_top


@njit
def _max_abs(x):
    """max |x| over a 2-D integer array, in its own type (one vectorized pass; int64 result)."""
    hi = lo = x[0, 0]
    for b in range(x.shape[0]):
        for i in range(x.shape[1]):
            hi = max(hi, x[b, i])
            lo = min(lo, x[b, i])
    return max(np.int64(hi), -np.int64(lo))


@numba.njit(inline="always")
def _saturate_fire_reset(v_sum, v_max, v_floor, threshold, spiking, subtract):
    """v saturated to ±v_max, raised to v_floor, then the spike and its reset: (v, spike, saturated)."""
    v1 = min(max(v_sum, -v_max), v_max)
    saturated = v1 != v_sum
    v1 = max(v1, v_floor)
    fire = spiking & (v1 > threshold)
    reset_to = v1 - threshold if subtract else 0
    return (reset_to if fire else v1), fire, saturated


class FusedLIF:
    """One int_lif layer's fused step, prepared once per run: its constants, and the largest |u| the
    step before left, with which each step tests (bounds.WrapFreeStep) whether it can wrap at all and
    if not runs without the wrap arithmetic."""

    def __init__(self, op: IntLIF, bias: np.ndarray, n: Numerics) -> None:
        self.params = np.array([
            n.act_shift, n.decay_unity - (op.du + n.du_offset), n.decay_unity - op.dv, n.decay_bits,
            1 << (n.state_bits - 1), n.v_max, op.vth << n.vth_shift, _NO_FLOOR if op.v_floor is None else op.v_floor,
            op.spiking, op.reset == "subtract",
            n.accumulator_range[0], (1 << n.accumulator_bits) - 1, accumulator_mode(n),
        ], dtype=np.int64)  # fmt: skip
        self.bias = np.ascontiguousarray(bias.reshape(-1), dtype=np.int64)
        self.wrap_free = WrapFreeStep.of(op, n, bias)
        self.u_max: int | None = None  # unknown until a step ran: measured from the state
        # every u the step stores lies in (−2^(state_bits−1), 2^(state_bits−1)] (wrapped, or proven not
        # to leave it: bounds.py), every v within v_bound: where both fit int32 the state can be held so
        self.int32_state = n.state_bits <= 31 and v_bound(op, n) < INT32_LIMIT

    def narrow(self, state: LIFState) -> LIFState:
        """``state`` as int32 arrays where int32_state and its values fit (else as it is): the step reads
        and writes half the bytes (~20-35 % faster at batch 256 of a conv layer: state streamed from
        memory), with the same values, since its arithmetic runs in int64 registers either way."""
        if not self.int32_state or state.m is not None:
            return state
        if any(_max_abs(a.reshape(len(a), -1)) >= INT32_LIMIT for a in (state.u, state.v) if a.size):
            return state
        return LIFState(state.u.astype(np.int32), state.v.astype(np.int32))

    def step(
        self, total: np.ndarray, state: LIFState, counts: np.ndarray, v_sum: np.ndarray | None = None
    ) -> tuple[np.ndarray, tuple[int, int, int, int, int]]:
        """One step of lif.lif_step on (B, *shape) arrays (state int64, or int32: narrow; ``total`` int32 or int64), updating
        state.u, state.v, ``counts`` (+= spikes) and ``v_sum`` (+= v, if given) in place.  Returns (spikes
        as int8 0/1, the counters of interpreter.EVENT_COUNTERS)."""
        batch = total.shape[0]
        flat = (batch, -1)
        for array in (state.u, state.v, counts, v_sum):  # a copy made by reshape would drop the update
            if array is not None and not array.flags.c_contiguous:
                raise ValueError("the fused LIF step updates C-contiguous state arrays in place")
        if total.dtype not in (np.int32, np.int64):
            total = total.astype(np.int64)
        spikes = np.empty(total.shape, dtype=np.int8)
        arrays = [a.reshape(flat) for a in (total, state.u, state.v, counts, spikes)]
        if self.u_max is None:
            self.u_max = int(_max_abs(arrays[1])) if arrays[1].size else 0
        input_max = int(_max_abs(arrays[0])) if arrays[0].size else 0
        update = _lif_update_unwrapped if self.wrap_free.holds(input_max, self.u_max) else _lif_update
        *counters, u_top = update(*arrays, self.bias, self.params)
        self.u_max = int(u_top)
        if v_sum is not None:
            # a separate pass, only for layers a v_mean readout reads: every array the compiled loop
            # touches must be a real, distinct one, or LLVM's run-time overlap check fails and the
            # loop runs scalar (a stand-in empty array placed near the state did that: 12x slower)
            v_sum += state.v
        return spikes, tuple(int(c) for c in counters)


def lif_step_in_place(
    total: np.ndarray,
    state: LIFState,
    op: IntLIF,
    bias: np.ndarray,
    n: Numerics,
    counts: np.ndarray,
    v_sum: np.ndarray | None = None,
) -> tuple[np.ndarray, tuple[int, int, int, int, int]]:
    """FusedLIF(op, bias, n).step(...): one step from any state (its |u| measured first)."""
    return FusedLIF(op, bias, n).step(total, state, counts, v_sum)
