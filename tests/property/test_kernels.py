"""The fast kernels of the reference simulator equal plain int64 arithmetic, whichever path they take."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from snncc.backends.refsim import kernels
from snncc.ir.arith import shift, t12, wrap_int32


def conv_geometry(stride: int, padding: int) -> SimpleNamespace:
    """What Conv2dKernel.prepare reads of an int_conv2d op: its geometry."""
    return SimpleNamespace(stride=(stride, stride), padding=(padding, padding), dilation=(1, 1), groups=1)


def _int64_dense(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    return x.reshape(len(x), -1).astype(np.int64) @ w.astype(np.int64).T


def _int64_conv(x, w, stride, padding):
    """Direct loops over output positions: the definition of cross-correlation with zero padding."""
    b, _, h, wd = x.shape
    o, _, kh, kw = w.shape
    xp = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (padding,) * 2, (padding,) * 2))
    oh, ow = (h + 2 * padding - kh) // stride + 1, (wd + 2 * padding - kw) // stride + 1
    out = np.zeros((b, o, oh, ow), dtype=np.int64)
    for i in range(oh):
        for j in range(ow):
            patch = xp[:, :, i * stride : i * stride + kh, j * stride : j * stride + kw].reshape(b, -1)
            out[:, :, i, j] = patch @ w.reshape(o, -1).astype(np.int64).T
    return out


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    w_max=st.sampled_from([1, 255, 2**20, 2**40]),  # float32-, float64- and int64-exact bounds
    density=st.sampled_from([0.0, 0.005, 0.3, 1.0]),  # event-driven and dense products
    binary=st.booleans(),
)
def test_dense_kernel_is_exact_on_every_path(seed, w_max, density, binary):
    rng = np.random.default_rng(seed)
    w = rng.integers(-w_max, w_max + 1, size=(37, 300))
    x = (rng.random((9, 300)) < density).astype(np.int64)
    if not binary:
        x *= rng.integers(-255, 256, size=x.shape)
    kernel = kernels.DenseKernel.prepare(w, 1 if binary else 256)
    np.testing.assert_array_equal(kernel(x, binary=binary), _int64_dense(x, w))


def test_dense_kernel_picks_the_narrowest_exact_type():
    assert kernels.DenseKernel.prepare(np.full((2, 3), 255), 255).dtype == np.float32
    assert kernels.DenseKernel.prepare(np.full((2, 300), 255), 255).dtype == np.float64
    assert kernels.DenseKernel.prepare(np.full((2, 3), 2**52), 255).dtype is None


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    w_max=st.sampled_from([3, 255, 2**40]),
    stride=st.sampled_from([1, 2]),
    padding=st.sampled_from([0, 1]),
)
def test_conv_kernel_is_exact_on_every_path(seed, w_max, stride, padding):
    rng = np.random.default_rng(seed)
    w = rng.integers(-w_max, w_max + 1, size=(4, 3, 3, 3))
    x = rng.integers(0, 256, size=(2, 3, 7, 6))

    kernel = kernels.Conv2dKernel.prepare(w, 256, conv_geometry(stride, padding))
    np.testing.assert_array_equal(kernel(x), _int64_conv(x, w, stride, padding))


@given(st.lists(st.integers(-(2**62), 2**62), min_size=1, max_size=50))
def test_wrap_int32_is_twos_complement(values):
    x = np.array(values, dtype=np.int64)
    np.testing.assert_array_equal(wrap_int32(x), ((x + 2**31) % 2**32) - 2**31)


@given(st.lists(st.integers(-(2**50), 2**50), min_size=1, max_size=50), st.integers(0, 20))
def test_t12_truncates_toward_zero(values, bits):
    x = np.array(values, dtype=np.int64)
    np.testing.assert_array_equal(t12(x, bits), np.sign(x) * (np.abs(x) // 2**bits))


def test_conv_kernel_is_exact_at_vgg_sizes():
    """Large 3x3 convolutions (where a library could pick Winograd or FFT, which round) stay exact."""
    rng = np.random.default_rng(0)
    w = rng.integers(-256, 256, size=(64, 64, 3, 3))
    x = (rng.random((4, 64, 16, 16)) < 0.3).astype(np.int64)

    fast = kernels.Conv2dKernel.prepare(w, 1, conv_geometry(1, 1))
    assert fast.weight_t is not None  # the float path is the one under test
    exact = kernels.Conv2dKernel(w, None, (1, 1), (1, 1), (1, 1), 1)
    np.testing.assert_array_equal(fast(x), exact(x))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift=st.sampled_from([0, 1, 5, 24]),  # 24: sums far beyond int32, restored exactly in int64
    density=st.sampled_from([0.0, 0.01, 0.1, 1.0]),
    dtype=st.sampled_from([np.bool_, np.int8, np.uint8, np.int64]),
)
def test_int8_product_of_spikes_is_exact(seed, shift, density, dtype):
    """Weights that are int8 values times a power of two take torch._int_mm; the sums equal int64's."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, size=(33, 300)) << shift
    w[0, 0] = 1 << shift  # the common factor is exactly 2^shift
    x = (rng.random((7, 300)) < density).astype(dtype)
    kernel = kernels.DenseKernel.prepare(w, 1)
    assert kernel.int8 is not None and kernel.int8.shift == shift
    np.testing.assert_array_equal(kernel(x, binary=True), _int64_dense(x, w))


def test_weights_beyond_int8_keep_the_float_product():
    odd = np.array([[255, -3], [1, 0]])  # 255 has no power-of-two factor that brings it into int8
    assert kernels.Int8Weights.of(odd) is None
    assert kernels.Int8Weights.of(np.array([[254, -256]])).shift == 1  # Loihi's mixed-sign weights
    assert kernels.Int8Weights.of(np.zeros((2, 2), np.int64)) is not None
    kernel = kernels.DenseKernel.prepare(odd, 1)
    x = np.array([[1, 1], [0, 1]])
    np.testing.assert_array_equal(kernel(x, binary=True), _int64_dense(x, odd))


def _int64_port(x: np.ndarray, w: np.ndarray, weight_exp: int) -> np.ndarray:
    """What Lava's port carries for binary x, in plain int64: wrap_int32(shift(W @ x, e))."""
    return wrap_int32(shift(_int64_dense(x, w), weight_exp))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shift_=st.sampled_from([0, 1, 5, 24]),
    weight_exp=st.sampled_from([-40, -9, -3, 0, 2, 7, 30]),  # floor shifts, int32 wraps, everything shifted out
    density=st.sampled_from([0.0, 0.01, 0.05, 0.3, 1.0]),  # event-driven and GEMM
    dtype=st.sampled_from([np.bool_, np.int8, np.uint8, np.int64]),
    width=st.sampled_from([33, kernels.EVENT_DRIVEN_INT8_MIN_WIDTH + 3]),
)
def test_binary_port_in_int32_equals_the_int64_form(seed, shift_, weight_exp, density, dtype, width):
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, size=(width, 300)) << shift_
    x = (rng.random((7, 300)) < density).astype(dtype)
    kernel = kernels.DenseKernel.prepare(w, 1)
    port = kernels.binary_port(kernel, x, weight_exp)
    assert port.dtype == np.int32  # no int64 copy between the product and the neuron update
    np.testing.assert_array_equal(port, _int64_port(x, w, weight_exp))


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    bits=st.integers(1, 16),
    shift_=st.sampled_from([0, 1, 20]),
    weight_exp=st.sampled_from([-12, -5, -1, 0, 3, 9]),
)
def test_bitplane_port_equals_the_sum_of_its_planes(seed, bits, shift_, weight_exp):
    """One graded int8 product (plus the floor-shifted planes) equals Lava's port: one binary synapse
    per bit plane b with exponent e + b, each wrapped to int32, summed and wrapped."""
    rng = np.random.default_rng(seed)
    w = rng.integers(-128, 128, size=(21, 200)) << shift_
    x = rng.integers(0, 1 << bits, size=(5, 200))
    x[0] = (1 << bits) - 1  # every plane set somewhere
    weights = kernels.Int8Weights.of(w)
    assert weights is not None and weights.fits_graded()
    planes = sum(_int64_port((x >> b) & 1, w, weight_exp + b) for b in range(bits))
    np.testing.assert_array_equal(weights.bitplanes(x, bits, weight_exp), wrap_int32(planes))


def test_unwrapped_port_sum_keeps_the_int32_overflow_visible():
    """Two int32 ports near 2^31: their sum is returned unwrapped, so the neuron update counts the wrap."""
    ports = [np.full((2, 3), 2**31 - 5, np.int32), np.full((2, 3), 10, np.int32)]
    np.testing.assert_array_equal(kernels.unwrapped_port_sum(ports), np.full((2, 3), 2**31 + 5))
    assert kernels.unwrapped_port_sum(ports[:1]) is ports[0]


def test_graded_int8_refuses_fan_ins_that_could_overflow_int32():
    """|-128| counts as 128 (an int8 abs would wrap it to -128 and pass a wrong bound)."""

    def row(fan_in):
        w = np.full((1, fan_in), -128)
        w[0, 0] = -127  # odd: no power of two to take out
        return w

    weights = kernels.Int8Weights.of(row(140_000))  # 140000 · 128 · 127 > 2^31
    assert weights is not None and weights.shift == 0 and not weights.fits_graded()
    assert kernels.Int8Weights.of(row(130_000)).fits_graded()


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    span=st.sampled_from([(0, 100), (0, 400), (-100, 0), (-400, 0), (-120, 120), (-400, 400)]),
    weight_bits=st.integers(1, 8),
)
def test_effective_weights_are_lavas(seed, span, weight_bits):
    """Lava's own weight pipeline (sign mode, clip, truncate; lava/utils/weightutils.py) is the oracle,
    inside and beyond the 8-bit range (where the clip runs)."""
    import dataclasses

    from lava.utils import weightutils as wu

    from snncc.ir import LOIHI
    from snncc.ir.arith import effective_weights

    w = np.random.default_rng(seed).integers(span[0], span[1] + 1, size=(13, 17))
    mode = wu.determine_sign_mode(w)
    lava = wu.truncate_weights(wu.clip_weights(w, mode, num_bits=8), mode, num_weight_bits=weight_bits)
    ours = effective_weights(w, dataclasses.replace(LOIHI, weight_bits=weight_bits))
    np.testing.assert_array_equal(ours, lava)


@pytest.mark.parametrize("shape", [(2, 1), (1, 3), (1, 1), (5, 4)])
@pytest.mark.parametrize("batch", [1, 3])
def test_int8_product_of_layers_with_a_single_input_or_output(shape, batch):
    """numpy calls the transpose of an n x 1 array C-contiguous with strides (1, 1), which
    torch._int_mm misreads: such layers must still give the exact product, every time."""
    rng = np.random.default_rng(0)
    w = rng.integers(-64, 64, size=shape) * 2
    x = rng.integers(0, 2, size=(batch, shape[1]))
    x[0] = 1
    weights = kernels.Int8Weights.of(w)
    for _ in range(3):  # reading wrong memory gives different garbage each time
        np.testing.assert_array_equal(weights.port(x, 0), _int64_dense(x, w))
        np.testing.assert_array_equal(weights.port(x.T.copy().T, 0), _int64_dense(x, w))


@settings(max_examples=30, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    w_max=st.sampled_from([3, 255, 2**14]),  # float32-exact sums: the int32 port
    weight_exp=st.sampled_from([-20, -3, 0, 5, 25]),  # floor shifts and int32 wraps
    stride=st.sampled_from([1, 2]),
)
def test_binary_conv_port_in_int32_equals_the_int64_form(seed, w_max, weight_exp, stride):
    rng = np.random.default_rng(seed)
    w = rng.integers(-w_max, w_max + 1, size=(4, 3, 3, 3))
    x = rng.integers(0, 2, size=(2, 3, 7, 6))

    kernel = kernels.Conv2dKernel.prepare(w, 1, conv_geometry(stride, 1))
    assert kernel.int32_exact()
    port = kernels.binary_port(kernel, x, weight_exp)
    assert port.dtype == np.int32
    np.testing.assert_array_equal(port, wrap_int32(shift(_int64_conv(x, w, stride, 1), weight_exp)))


def test_event_driven_rows_sum_in_int16_up_to_its_bound_and_in_int32_beyond():
    """A sample with at most INT16_MAX // max|W8| active inputs is summed in int16 (exact: its true sums
    fit), one with more in int32; both equal the int64 product, at the bound and one past it."""
    w = np.full((3, 600), -128)  # out x in: output 0 sums -128s, output 1 127s, output 2 both
    w[1] = 127
    w[2, ::2] = 127
    weights = kernels.Int8Weights.of(w)
    bound = kernels.INT16_MAX // 128
    x = np.zeros((4, 600), np.int8)
    x[0, :bound] = 1  # -128 · 255 = -32640: the int16 path, at its edge
    x[1, : bound + 1] = 1  # one past it: the int32 path
    x[2, :] = 1  # -76800: far beyond int16
    np.testing.assert_array_equal(weights._events(x), _int64_dense(x, w))
    assert _int64_dense(x, w)[2, 0] < -(1 << 15)  # the test reaches past int16
