"""The fused LIF step (numba, one pass) equals the array form lif.lif_step, wraps and counters included."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.backends.refsim import fused
from snncc.backends.refsim.arith import wrap_int32
from snncc.backends.refsim.lif import LIFState, effective_bias, lif_step
from snncc.ir import LOIHI, Const, IntLIF


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
@given(lif_cases())
def test_fused_step_equals_the_array_form(case):
    op, total, u, v = case
    bias = effective_bias(op)
    a = wrap_int32(total)
    spikes, state, ev = lif_step(a, LIFState(u.copy(), v.copy()), op, bias, LOIHI)

    fused_state = LIFState(u.copy(), v.copy())
    counts, v_sum = np.full_like(u, 7), np.full_like(u, -3)  # accumulate on top of earlier steps
    fused_spikes, (u_wraps, v_sats, int_wraps, active) = fused.lif_step_in_place(
        total, fused_state, op, bias, LOIHI, counts, v_sum
    )
    np.testing.assert_array_equal(fused_spikes.astype(bool), spikes)
    np.testing.assert_array_equal(fused_state.u, state.u)
    np.testing.assert_array_equal(fused_state.v, state.v)
    np.testing.assert_array_equal(counts, 7 + spikes)
    np.testing.assert_array_equal(v_sum, -3 + state.v)
    assert u_wraps == int(ev.u_wrapped.sum())
    assert v_sats == int(ev.v_saturated.sum())
    assert int_wraps == int((ev.int32_wrapped | (a != total)).sum())
    assert active == int(ev.active.sum())

    # a single port arrives as int32 (already wrapped): the same step, without a port-sum wrap to count
    int32_state = LIFState(u.copy(), v.copy())
    int32_spikes, (_, _, int32_wraps, _) = fused.lif_step_in_place(
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
    _, (u_wraps, v_sats, int_wraps, _) = fused.lif_step_in_place(
        total, LIFState(u, v), op, effective_bias(op), LOIHI, np.zeros_like(u), np.zeros_like(u)
    )
    assert u_wraps >= 1 and v_sats >= 1 and int_wraps >= 1
