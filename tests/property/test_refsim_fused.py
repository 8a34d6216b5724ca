"""The fused LIF step (numba, one pass) equals the array form lif.lif_step, wraps and counters included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.backends.refsim import fused
from snncc.backends.refsim.bounds import WrapFreeStep
from snncc.ir import LOIHI, Const, IntLIF
from snncc.ir.arith import accumulate, wrap_int32
from snncc.ir.ops.lif import IntLIFState as LIFState
from snncc.ir.ops.lif import effective_bias
from snncc.ir.ops.lif import int_lif_step as lif_step

# Lava's int32 accumulator, Loihi 1's 16-bit wrapping one, a saturating one and one of unknown overflow
ACCUMULATORS = [
    LOIHI,
    LOIHI.__class__(accumulator_bits=16, accumulator_overflow="wrap"),
    LOIHI.__class__(accumulator_bits=12, accumulator_overflow="saturate"),
    LOIHI.__class__(accumulator_bits=16, accumulator_overflow="unknown"),
]


@st.composite
def lif_cases(draw):
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    n, batch = draw(st.integers(1, 20)), draw(st.integers(1, 4))
    op = IntLIF(
        shape=(n,),
        du=int(rng.choice([-1, 0, 4095, rng.integers(0, 4096)])),
        dv=int(rng.choice([0, 4095, 4096, rng.integers(0, 4096)])),
        vth=int(rng.integers(0, 2**17)),
        bias_mant=Const(rng.integers(-4096, 4096, size=n).astype(np.int32)),
        bias_exp=Const(rng.integers(0, 8, size=n).astype(np.int32)),
        v_init=Const(np.zeros(n, np.int32)),
        reset=str(rng.choice(["zero", "subtract"])),
        spiking=bool(rng.random() < 0.8),
        v_floor=None if rng.random() < 0.5 else int(rng.integers(-(2**22), 0)),
    )
    # inputs up to beyond int32 (the unwrapped sum of several synapse ports) and states anywhere in
    # their int32 storage, so that every wrap and the saturation happen
    scale = draw(st.sampled_from([2**8, 2**20, 2**26, 2**33]))
    total = rng.integers(-scale, scale, size=(batch, n))
    total[rng.random((batch, n)) < 0.3] = 0
    u = rng.integers(-(2**23), 2**23 + 1, size=(batch, n))
    v = rng.integers(-(2**23) + 1, 2**23, size=(batch, n))
    return op, total, u, v


@settings(max_examples=200, deadline=None)
@given(lif_cases(), st.sampled_from(ACCUMULATORS))
def test_fused_step_equals_the_array_form(case, numerics):
    op, total, u, v = case
    bias = effective_bias(op)
    a, acc_overflowed = accumulate(total, numerics)
    spikes, state, ev = lif_step(a, LIFState(u.copy(), v.copy()), op, bias, numerics)

    fused_state = LIFState(u.copy(), v.copy())
    counts, v_sum = np.full_like(u, 7), np.full_like(u, -3)  # accumulate on top of earlier steps
    fused_spikes, (u_wraps, v_sats, int_wraps, active, acc_overflows) = fused.lif_step_in_place(
        total, fused_state, op, bias, numerics, counts, v_sum
    )
    np.testing.assert_array_equal(fused_spikes.astype(bool), spikes)
    np.testing.assert_array_equal(fused_state.u, state.u)
    np.testing.assert_array_equal(fused_state.v, state.v)
    np.testing.assert_array_equal(counts, 7 + spikes)
    np.testing.assert_array_equal(v_sum, -3 + state.v)
    assert u_wraps == int(ev.u_wrapped.sum())
    assert v_sats == int(ev.v_saturated.sum())
    assert int_wraps == int((ev.int32_wrapped | (wrap_int32(total) != total)).sum())
    assert active == int(ev.active.sum())
    assert acc_overflows == int(acc_overflowed.sum())
    if numerics is not LOIHI:  # the cases do reach beyond a 16-bit accumulator
        lo, hi = numerics.accumulator_range
        assert acc_overflows == int(((total < lo) | (total > hi)).sum())
    if numerics is not LOIHI:
        return

    # a single port arrives as int32 (already wrapped): the same step, without a port-sum wrap to count
    int32_state = LIFState(u.copy(), v.copy())
    int32_spikes, (_, _, int32_wraps, _, _) = fused.lif_step_in_place(
        a.astype(np.int32), int32_state, op, bias, LOIHI, np.zeros_like(u)
    )
    np.testing.assert_array_equal(int32_spikes.astype(bool), spikes)
    np.testing.assert_array_equal(int32_state.u, state.u)
    np.testing.assert_array_equal(int32_state.v, state.v)
    assert int32_wraps == int(ev.int32_wrapped.sum())

    without_sum = LIFState(u.copy(), v.copy())
    counts_only = np.zeros_like(u)
    fused.lif_step_in_place(total, without_sum, op, bias, LOIHI, counts_only)  # no v_mean readout to feed
    np.testing.assert_array_equal(without_sum.v, state.v)
    np.testing.assert_array_equal(counts_only, spikes)


def test_the_cases_reach_every_wrap():
    """The strategy above is only worth something if wraps and saturations really occur in it."""
    op = IntLIF(shape=(3,), du=4095, dv=0, vth=1, bias_mant=Const(np.zeros(3, np.int32)),
                bias_exp=Const(np.zeros(3, np.int32)), v_init=Const(np.zeros(3, np.int32)))  # fmt: skip
    total = np.array([[2**33, 2**25, -(2**17)]])
    u, v = np.array([[0, 0, 0]]), np.array([[2**23 - 1, 0, -(2**23) + 1]])
    _, (u_wraps, v_sats, int_wraps, _, _) = fused.lif_step_in_place(
        total, LIFState(u, v), op, effective_bias(op), LOIHI, np.zeros_like(u), np.zeros_like(u)
    )
    assert u_wraps >= 1 and v_sats >= 1 and int_wraps >= 1


def _largest_input(wrap_free: WrapFreeStep, u_max: int) -> int | None:
    """The largest summed |input| the test admits from a state with |u| <= u_max (None: not even 0)."""
    if not wrap_free.holds(0, u_max):
        return None
    lo, hi = 0, 1 << 31
    while lo < hi:
        mid = (lo + hi + 1) // 2
        lo, hi = (mid, hi) if wrap_free.holds(mid, u_max) else (lo, mid - 1)
    return lo


@settings(max_examples=200, deadline=None)
@given(lif_cases(), st.sampled_from([0, 1, 2**10, 2**20, 2**23 - 1]))
def test_a_step_the_wrap_test_admits_wraps_nothing(case, u_max):
    """Where bounds.WrapFreeStep admits a step, at the edge of what it admits (inputs ±the largest it
    allows, |u| = u_max, v anywhere in its range), the array form wraps nothing and the fused step,
    which then leaves the wrap arithmetic out, equals it."""
    op, _, _, v = case
    bias = effective_bias(op)
    wrap_free = WrapFreeStep.of(op, LOIHI, bias)
    largest = _largest_input(wrap_free, u_max)
    if largest is None:
        return
    rng = np.random.default_rng(u_max + largest)
    total = rng.choice([-largest, largest, 0, largest // 3], size=v.shape)
    u = rng.choice([-u_max, u_max, 0], size=v.shape)
    spikes, state, ev = lif_step(total, LIFState(u.copy(), v.copy()), op, bias, LOIHI)
    assert not (ev.u_wrapped.any() or ev.int32_wrapped.any())

    fused_lif = fused.FusedLIF(op, bias, LOIHI)
    fused_lif.u_max = u_max
    fused_state, counts = LIFState(u.copy(), v.copy()), np.zeros_like(u)
    fused_spikes, (u_wraps, v_sats, int_wraps, active, _) = fused_lif.step(total.astype(np.int32), fused_state, counts)
    np.testing.assert_array_equal(fused_spikes.astype(bool), spikes)
    np.testing.assert_array_equal(fused_state.u, state.u)
    np.testing.assert_array_equal(fused_state.v, state.v)
    assert (u_wraps, int_wraps) == (0, 0)
    assert v_sats == int(ev.v_saturated.sum()) and active == int(ev.active.sum())
    assert fused_lif.u_max == int(np.abs(state.u).max())  # what the next step's test starts from


def test_the_wrap_test_refuses_a_step_that_could_wrap_u():
    """u = a·2^6 alone (no decay memory): an input of -2^17 makes u = -2^23, outside u's range (−2^23, 2^23]."""
    op = IntLIF(shape=(1,), du=4095, dv=0, vth=1, bias_mant=Const(np.zeros(1, np.int32)),
                bias_exp=Const(np.zeros(1, np.int32)), v_init=Const(np.zeros(1, np.int32)))  # fmt: skip
    wrap_free = WrapFreeStep.of(op, LOIHI, effective_bias(op))
    assert wrap_free.holds((1 << 17) - 1, 2**23 - 1) and not wrap_free.holds(1 << 17, 0)
    _, _, ev = lif_step(np.array([[-(1 << 17)]]), LIFState(np.zeros((1, 1), np.int64), np.zeros((1, 1), np.int64)),
                        op, effective_bias(op), LOIHI)  # fmt: skip
    assert ev.u_wrapped.all()  # the refused step really wraps


@settings(max_examples=150, deadline=None)
@given(lif_cases(), st.sampled_from(ACCUMULATORS))
def test_int32_state_steps_like_int64_state(case, numerics):
    """FusedLIF.narrow's int32 state, over two steps (the second may take the wrap-free form), against
    the int64 state: states across u's whole 24-bit range and v at ±(2^23 − 1), inputs past int32."""
    op, total, u, v = case
    step64 = fused.FusedLIF(op, effective_bias(op), numerics)
    step32 = fused.FusedLIF(op, effective_bias(op), numerics)
    wide = LIFState(u.copy(), v.copy())
    narrow = step32.narrow(LIFState(u.copy(), v.copy()))
    assert narrow.u.dtype == narrow.v.dtype == np.int32
    counts64, counts32 = np.zeros_like(u), np.zeros_like(u)
    for x in (total, total // 3):
        spikes64, events64 = step64.step(x, wide, counts64)
        spikes32, events32 = step32.step(x, narrow, counts32)
        np.testing.assert_array_equal(spikes32, spikes64)
        np.testing.assert_array_equal(narrow.u, wide.u)
        np.testing.assert_array_equal(narrow.v, wide.v)
        assert events32 == events64
    np.testing.assert_array_equal(counts32, counts64)


def test_narrow_keeps_int64_where_int32_could_not_hold_the_state():
    op = IntLIF(shape=(2,), du=0, dv=0, vth=10, bias_mant=Const(np.zeros(2, np.int32)),
                bias_exp=Const(np.zeros(2, np.int32)), v_init=Const(np.zeros(2, np.int32)))  # fmt: skip
    state = LIFState(np.zeros((1, 2), np.int64), np.array([[0, 1 << 31]]))  # a v beyond int32
    assert fused.FusedLIF(op, effective_bias(op), LOIHI).narrow(state) is state
    wide_u = LOIHI.__class__(state_bits=32)  # u's range reaches 2^31: not an int32 value
    assert not fused.FusedLIF(op, effective_bias(op), wide_u).int32_state
