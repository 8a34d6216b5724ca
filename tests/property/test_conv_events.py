"""The event-driven binary conv (backends/refsim/conv_events.py) equals plain int64 arithmetic, on every
geometry and at the edge of its int32 bound: the largest weights over the widest fan-in."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.backends.refsim import kernels
from snncc.backends.refsim.conv_events import INT32_EXACT, ConvEvents
from snncc.ir.arith import shift, wrap_int32
from snncc.ir.op import conv_out_hw


def _int64_conv(x, w, stride, padding, dilation, groups):
    """Cross-correlation with zero padding from its definition: one output position at a time, int64."""
    b, _, h, wd = x.shape
    c_out, c_in_g, kh, kw = w.shape
    oh, ow = conv_out_hw((h, wd), (kh, kw), stride, padding, dilation)
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    per_group = c_out // groups
    out = np.zeros((b, c_out, oh, ow), dtype=np.int64)
    for g in range(groups):
        wg = w[g * per_group : (g + 1) * per_group].reshape(per_group, -1).astype(np.int64)
        for i in range(oh):
            for j in range(ow):
                y0, x0 = i * stride[0], j * stride[1]
                patch = xp[:, g * c_in_g : (g + 1) * c_in_g,
                           y0 : y0 + dilation[0] * (kh - 1) + 1 : dilation[0],
                           x0 : x0 + dilation[1] * (kw - 1) + 1 : dilation[1]]  # fmt: skip
                out[:, g * per_group : (g + 1) * per_group, i, j] = patch.reshape(b, -1) @ wg.T
    return out


def _port(events: ConvEvents, x: np.ndarray, exp: int) -> np.ndarray:
    return events.port(kernels._bit_words(x.reshape(len(x), -1).astype(np.int8)), exp)


@settings(max_examples=80, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    w_max=st.sampled_from([1, 127, 2**14, 2**20]),
    weight_exp=st.sampled_from([-40, -9, -1, 0, 3, 12, 30]),  # floor shifts, int32 wraps, all shifted out
    density=st.sampled_from([0.0, 0.01, 0.04, 0.3, 1.0]),
    stride=st.sampled_from([1, 2, 3]),
    padding=st.sampled_from([0, 1, 2]),
    dilation=st.sampled_from([1, 2]),
    groups=st.sampled_from([1, 2]),
    kernel=st.sampled_from([1, 2, 3]),
)
def test_event_driven_conv_port_equals_the_int64_form(
    seed, w_max, weight_exp, density, stride, padding, dilation, groups, kernel
):
    rng = np.random.default_rng(seed)
    w = rng.integers(-w_max, w_max + 1, size=(2 * groups, 2, kernel, kernel))
    x = (rng.random((3, 2 * groups, 9, 8)) < density).astype(np.uint8)
    geometry = ((stride, stride), (padding, padding), (dilation, dilation))
    expected = wrap_int32(shift(_int64_conv(x, w, *geometry, groups), weight_exp))
    events = ConvEvents.of(w, x.shape[1:], *geometry, groups)
    port = _port(events, x, weight_exp)
    assert port.dtype == np.int32
    np.testing.assert_array_equal(port, expected)
    # and through the kernel's own choice of path (events below the density threshold)
    op = SimpleNamespace(stride=geometry[0], padding=geometry[1], dilation=geometry[2], groups=groups)
    np.testing.assert_array_equal(kernels.binary_port(kernels.Conv2dKernel.prepare(w, 1, op), x, weight_exp), expected)


@pytest.mark.parametrize("sign", [1, -1])
@pytest.mark.parametrize("weight_exp", [0, 1, -3])
def test_event_driven_conv_at_its_int32_bound(sign, weight_exp):
    """Weights whose sum over one output's fan-in is 2^31 − 1, every input active: the int32 sum reaches
    the edge of its range and stays exact (shifted left once it wraps to −2, as Lava's port does);
    one more and the kernel refuses the event-driven form and the exact fallback takes it."""
    fan_in = 16 * 3 * 3
    w = np.full((fan_in,), (INT32_EXACT - 1) // fan_in, dtype=np.int64)
    w[0] += (INT32_EXACT - 1) - w.sum()  # the largest weight sum int32 holds
    w = sign * w.reshape(1, 16, 3, 3).repeat(4, axis=0)
    x = np.ones((2, 16, 5, 5), dtype=np.uint8)  # every input spikes: the interior outputs sum all weights
    geometry = ((1, 1), (1, 1), (1, 1))
    exact = _int64_conv(x, w, *geometry, 1)
    assert np.abs(exact).max() == INT32_EXACT - 1
    events = ConvEvents.of(w, x.shape[1:], *geometry, 1)
    assert events is not None
    np.testing.assert_array_equal(_port(events, x, weight_exp), wrap_int32(shift(exact, weight_exp)))

    w_over = w.copy()
    w_over[0, 0, 0, 0] += sign  # the bound is 2^31: an int32 sum could overflow
    assert ConvEvents.of(w_over, x.shape[1:], *geometry, 1) is None
    op = SimpleNamespace(stride=(1, 1), padding=(1, 1), dilation=(1, 1), groups=1)
    sparse = np.zeros_like(x)
    sparse[:, :, 2, 2] = 1  # below the events' density threshold: the fallback must still be exact
    port = kernels.binary_port(kernels.Conv2dKernel.prepare(w_over, 1, op), sparse, weight_exp)
    np.testing.assert_array_equal(port, wrap_int32(shift(_int64_conv(sparse, w_over, *geometry, 1), weight_exp)))
