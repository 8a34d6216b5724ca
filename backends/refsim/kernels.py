"""Exact integer synapse kernels, batched over samples.

Integer sums are computed in floating point only where a bound proves the result exact:
every partial sum of |w|·|x| below 2^24 (float32) or 2^53 (float64); int64 otherwise.  The
bound is fixed per synapse op and run (the largest input the op can receive), so the weights
are converted once, not every step.  The kernels, chosen per call by the work at hand:

- int8 products (torch._int_mm, int32 sums) for binary inputs where the weights, after taking
  out their common power of two, fit 8 bits: every sum of at most fan-in weights of |w| <= 128
  stays below 2^31, so int32 is exact (the bound is checked, not assumed); 3-6x BLAS float32.
  The port's int32 value goes to the neuron update as it is (no int64 copy);
- for rare spikes into wide layers, the same int8 weights summed row by row for the active
  inputs only (a compiled loop: below ~7 % active inputs it beats the GEMM);
- dense products (BLAS) for busy layers;
- an event-driven product for rare binary spikes whose weights do not fit int8 (scipy's sparse x
  dense product), so the cost follows the spike count, not the fan-in;
- for rare spikes into a convolution, each spike's kernel taps added to the outputs it reaches
  (conv_events.py: int32, exact by the same fan-in bound as the int8 products);
- convolutions by torch's conv2d (no dense expansion of the kernel), or im2col in int64 when
  no float type is exact.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numba
import numpy as np
import scipy.sparse
import torch
from array_api_compat import array_namespace
from numba.cpython.unsafe.numbers import trailing_zeros
from numpy.lib.stride_tricks import sliding_window_view

from snncc.ir.arith import shift, wrap_int32
from snncc.ir.op import conv_out_hw

from . import jit, memo
from .conv_events import ConvEvents

FLOAT32_EXACT = 1 << 24
FLOAT64_EXACT = 1 << 53
INT32_EXACT = 1 << 31
# Below this fraction of active inputs the event-driven product beats BLAS (benchmarks/kernels.py measures it).
EVENT_DRIVEN_DENSITY = 0.05
# For int8 weights: below this fraction, and for layers at least this wide, summing the weight rows of
# the active inputs beats torch._int_mm (benchmarks/kernels.py: 1.7-3x at 10 %, 1.0-1.6x at 20 %,
# 0.7-0.9x at 30 % on 784x500 to 2000x2000; narrower layers gain only below ~5 %).
EVENT_DRIVEN_INT8_DENSITY = 0.15
EVENT_DRIVEN_INT8_MIN_WIDTH = 256
EVENT_DRIVEN_INT8_NARROW_DENSITY = 0.02  # narrower layers: 1.5-2.9x at 1 % on 1568x10 to 784x100, ~1x at 3 %
# For binary conv input: below this fraction of active inputs the event-driven scatter (conv_events.py)
# beats torch's float32 conv2d (benchmarks/kernels.py measures it).
EVENT_DRIVEN_CONV_DENSITY = 0.05
INT16_MAX = (1 << 15) - 1


def exact_dtype(bound: float) -> np.dtype | None:
    """The narrowest float type whose sums of integers up to ``bound`` are exact (None: use int64)."""
    if bound < FLOAT32_EXACT:
        return np.dtype(np.float32)
    if bound < FLOAT64_EXACT:
        return np.dtype(np.float64)
    return None


@dataclass(frozen=True)
class Int8Weights:
    """W = W8 · 2^shift with W8 in int8: binary x @ W = (x @ W8) << shift, summed exactly in int32."""

    weight_t: torch.Tensor  # (in, out) int8
    shift: int
    abs_row_sum: int  # the largest sum of |W8| over one output's inputs: the int32 bound
    max_abs: int  # the largest |W8|: a sum of k rows fits int16 while k·max_abs <= INT16_MAX

    @classmethod
    def of(cls, weight: np.ndarray, abs_row_sum: int | None = None) -> Int8Weights | None:
        """None where no power-of-two factor brings the weights into int8 or int32 could overflow.
        ``abs_row_sum``: the largest sum of |W| over one output's inputs, if the caller has it."""
        w = np.asarray(weight, dtype=np.int64)
        bits = int(np.bitwise_or.reduce(w, axis=None)) if w.size else 0  # zeros add no bits
        shift = _trailing_zeros(bits) if bits else 0
        if w.size and (int(w.min()) >> shift < -128 or int(w.max()) >> shift > 127):
            return None
        if abs_row_sum is None:
            abs_row_sum = int(np.abs(w).sum(axis=1).max(initial=0))
        abs_row_sum >>= shift  # every |w| is |w8|·2^shift: the sum divides exactly
        if abs_row_sum >= INT32_EXACT:
            return None
        w8_t = (w >> shift if shift else w).astype(np.int8).T.copy()  # transposed in int8: 8x less to move
        max_abs = int(np.abs(w8_t.astype(np.int16)).max(initial=0))  # int16: |-128| is 128
        return cls(torch.from_numpy(w8_t), shift, abs_row_sum, max_abs)

    def fits_graded(self) -> bool:
        """Whether bitplanes() is exact: chunks up to 127 times every output's weights stay in int32."""
        return self.abs_row_sum * 127 < INT32_EXACT

    def __call__(self, spikes: np.ndarray) -> np.ndarray:
        """spikes (B, in) of 0/1 (or int8 values) in any integer or bool dtype -> (B, out) int64."""
        acc = self._int_mm(spikes).astype(np.int64)
        return acc << self.shift if self.shift else acc

    def port(self, spikes: np.ndarray, weight_exp: int) -> np.ndarray:
        """What a synapse port carries for binary ``spikes``: wrap_int32(shift(x @ W, weight_exp)), as
        int32, computed on the exact int32 sums x @ W8 with one in-place shift by shift + weight_exp:
        (x @ W8)·2^shift·2^e wraps mod 2^32 like the int64 form, and a net right shift floors the
        exact sum once, as shifting the int64 product does.  Silent inputs cost no product; rare
        spikes into a wide layer take the event-driven sum of weight rows instead of the GEMM."""
        x8 = _as_int8(spikes)
        active = np.count_nonzero(x8)
        if not active:
            return np.zeros((x8.shape[0], self.weight_t.shape[1]), dtype=np.int32)
        wide = self.weight_t.shape[1] >= EVENT_DRIVEN_INT8_MIN_WIDTH
        if active < (EVENT_DRIVEN_INT8_DENSITY if wide else EVENT_DRIVEN_INT8_NARROW_DENSITY) * x8.size:
            return self._events(x8, self.shift + weight_exp)
        return _shifted_in_place(self._int_mm(x8), self.shift + weight_exp)

    def bitplanes(self, x: np.ndarray, bits: int, weight_exp: int) -> np.ndarray:
        """The bit-plane port sum_b wrap32(shift(W @ plane_b, e + b)) of unsigned x (B, in), as int32.

        wrap32 is reduction mod 2^32, so the sum of wrapped terms wraps like the unwrapped sum, and
        for e + b >= 0 the shift is a multiplication: those planes add up to (W @ (x >> s))·2^(e+s),
        s = max(0, -e), one graded product (int8 products of 7-bit chunks, each shifted and added
        mod 2^32 in place).  Only the planes b < s (floor shifts, not linear) are summed one by one.
        Exact where fits_graded(); a single plane is the binary port."""
        if bits == 1:
            return self.port(x, weight_exp)
        s = max(0, -weight_exp)
        total = np.zeros((x.shape[0], self.weight_t.shape[1]), dtype=np.int32)
        wrapping = total.view(np.uint32)  # unsigned adds: wrap mod 2^32 by definition
        high = x >> s
        for low in range(0, bits - s, 7):
            chunk = ((high >> low) & 0x7F).astype(np.int8)
            if chunk.any():
                wrapping += _shifted_in_place(self._int_mm(chunk), self.shift + weight_exp + s + low).view(np.uint32)
        for b in range(min(s, bits)):
            wrapping += self.port(((x >> b) & 1).astype(np.int8), weight_exp + b).view(np.uint32)
        return total

    def _int_mm(self, x: np.ndarray) -> np.ndarray:
        """x (B, in) of int8 values (any integer or bool dtype) @ W8, int32 (exact: abs_row_sum bound)."""
        return torch._int_mm(torch.from_numpy(_c_strides(_as_int8(x))), self.weight_t).numpy()

    def _events(self, spikes: np.ndarray, exp: int = 0) -> np.ndarray:
        """The same product for binary int8 spikes, as sums of the weight rows of active inputs, shifted
        as _shifted_in_place shifts (·2^exp mod 2^32, or floored >> -exp) as they are written out."""
        out = np.empty((spikes.shape[0], self.weight_t.shape[1]), dtype=np.int32)
        int16_rows = INT16_MAX // max(self.max_abs, 1)
        _sum_active_rows(_bit_words(spikes), out, self.weight_t.numpy(), int16_rows, min(max(exp, -63), 63))
        return out


def _c_strides(x: np.ndarray) -> np.ndarray:
    """x (2-D) with the plain C strides torch._int_mm needs: numpy calls a view with a length-1 axis
    C-contiguous whatever that axis' stride, and _int_mm then reads wrong memory (the transpose of
    an n x 1 array has strides (1, 1))."""
    plain = (x.shape[1] * x.itemsize, x.itemsize)
    return x if x.strides == plain else x.copy()


def _as_int8(x: np.ndarray) -> np.ndarray:
    return x.view(np.int8) if x.dtype in (np.bool_, np.int8, np.uint8) else x.astype(np.int8)


def _bit_words(spikes: np.ndarray) -> np.ndarray:
    """(B, in) 0/1 spikes as (B, ceil(in/64)) uint64 bit masks, input k at bit k % 64 of word k // 64
    (numpy's packbits is SIMD: ~40 ns per 784 inputs, against ~300 for a byte-by-byte scan)."""
    words = np.zeros((spikes.shape[0], -(-spikes.shape[1] // 64) * 8), dtype=np.uint8)
    words[:, : -(-spikes.shape[1] // 8)] = np.packbits(spikes.view(np.uint8), axis=1, bitorder="little")
    return words.view(np.uint64)


@jit.njit
def _sum_active_rows(words, out, weight_t, int16_rows, exp):
    """out[b] = the sum of the rows k of weight_t (in, out) whose bit k is set in words[b], times 2^exp
    (exp > 0: the low 32 bits) or floored >> -exp, as int32 (the sums exact within the Int8Weights bound).  The active inputs are listed first (one step per set bit), so that
    the adds run branch-free (SIMD).  A sample with at most ``int16_rows`` active inputs sums in int16,
    twice the lanes: each true sum is at most int16_rows·max|W8| <= 2^15 − 1 in size, and int16 adds
    wrap mod 2^16, so the final int16 value is exact whatever the partial sums did."""
    active = np.empty(words.shape[1] * 64, dtype=np.int64)
    acc16 = np.empty(out.shape[1], dtype=np.int16)
    acc32 = np.empty(out.shape[1], dtype=np.int32)
    for b in range(out.shape[0]):
        count = 0
        for w in range(words.shape[1]):
            bits = words[b, w]
            while bits:
                active[count] = w * 64 + trailing_zeros(bits)
                count += 1
                bits &= bits - np.uint64(1)
        if count <= int16_rows:
            _add_rows(acc16, weight_t, active, count)
            _shifted_into(out[b], acc16, exp)
        else:
            _add_rows(acc32, weight_t, active, count)
            _shifted_into(out[b], acc32, exp)


@numba.njit(inline="always")
def _shifted_into(out, acc, exp):
    """out = acc·2^exp (stored as int32: its low 32 bits, the wrap) or acc >> -exp, computed in int64."""
    if exp >= 0:
        for j in range(out.shape[0]):
            out[j] = np.int64(acc[j]) << exp
    else:
        for j in range(out.shape[0]):
            out[j] = np.int64(acc[j]) >> -exp


@numba.njit(inline="always")
def _add_rows(acc, weight_t, active, count):
    """acc = the sum of the rows active[:count] of weight_t, eight rows per pass over acc (one load and
    store of acc per eight rows: the loop is bound by acc's loads and stores, not by the adds)."""
    acc[:] = 0
    q = 0
    while q + 8 <= count:
        r0, r1, r2, r3 = weight_t[active[q]], weight_t[active[q + 1]], weight_t[active[q + 2]], weight_t[active[q + 3]]
        r4, r5, r6, r7 = (
            weight_t[active[q + 4]],
            weight_t[active[q + 5]],
            weight_t[active[q + 6]],
            weight_t[active[q + 7]],
        )
        for j in range(acc.shape[0]):
            acc[j] += ((r0[j] + r1[j]) + (r2[j] + r3[j])) + ((r4[j] + r5[j]) + (r6[j] + r7[j]))
        q += 8
    for r in range(q, count):
        row = weight_t[active[r]]
        for j in range(acc.shape[0]):
            acc[j] += row[j]


def _shifted_in_place(acc: np.ndarray, exp: int) -> np.ndarray:
    """acc·2^exp mod 2^32 (exp > 0) or the floor shift acc >> -exp, on int32 acc in place."""
    if exp > 0:
        np.left_shift(acc.view(np.uint32), min(exp, 32), out=acc.view(np.uint32))  # unsigned: wraps
    elif exp < 0:
        np.right_shift(acc, min(-exp, 31), out=acc)
    return acc


def binary_port(kernel, x, weight_exp: int):
    """A synapse port's int32 value for binary x (spikes): wrap_int32(shift(kernel(x), weight_exp)).
    int32 arrays from the int8 product, int64 (holding int32 values) from the other kernels."""
    int8 = getattr(kernel, "int8", None)
    if int8 is not None:
        return int8.port(x.reshape(x.shape[0], -1), weight_exp)
    if isinstance(kernel, Conv2dKernel):
        port = kernel.port(x, weight_exp)
        if port is not None:
            return port
    return wrap_int32(shift(kernel(x, binary=True), weight_exp))


def unwrapped_port_sum(ports: list):
    """The unwrapped sum of a neuron's input ports (int64, so that its int32 wrap can be counted)."""
    if len(ports) == 1:
        return ports[0]
    xp = array_namespace(ports[0])
    return sum((xp.astype(p, xp.int64) for p in ports[1:]), xp.astype(ports[0], xp.int64))


def _trailing_zeros(n: int) -> int:
    return (n & -n).bit_length() - 1


@dataclass(frozen=True)
class DenseKernel:
    """acc = W @ flatten(x) per sample, exactly; weight (out, in) integer, inputs |x| <= max_input."""

    weight: np.ndarray  # (out, in) int64
    dtype: np.dtype | None  # the narrowest type whose sums are exact (None: int64)
    int8: Int8Weights | None = None  # the binary-input product in int8, where exact

    @classmethod
    def prepare(cls, weight: np.ndarray, max_input: int) -> DenseKernel:
        """The kernel of ``weight`` (once per graph for its immutable weights: memo.py)."""
        return _dense_kernel(weight, max_input)

    @cached_property
    def weight_t(self) -> np.ndarray:
        """(in, out) in the exact dtype (or int64), made on first use: binary input with int8 weights never needs it."""
        return np.ascontiguousarray(self.weight.T, dtype=self.dtype or np.int64)

    def __call__(self, x: np.ndarray, *, binary: bool = False) -> np.ndarray:
        x = x.reshape(x.shape[0], -1)
        if binary and not x.any():  # no input event: no synaptic work (a silent layer or step)
            return np.zeros((x.shape[0], self.weight.shape[0]), dtype=np.int64)
        if binary and self.int8 is not None:
            return self.int8(x)
        if self.dtype is None:
            return x.astype(np.int64) @ self.weight_t
        if binary and x.size and np.count_nonzero(x) < EVENT_DRIVEN_DENSITY * x.size:
            return self.events(x)
        return (x.astype(self.dtype) @ self.weight_t).astype(np.int64)

    def events(self, x: np.ndarray) -> np.ndarray:
        """Event-driven: sum the weight rows of the active inputs of each sample."""
        active = scipy.sparse.csr_matrix(x != 0, dtype=self.dtype)
        return np.asarray(active @ self.weight_t).astype(np.int64)


@memo.by_identity
def _dense_kernel(weight: np.ndarray, max_input: int) -> DenseKernel:
    weight = np.asarray(weight, dtype=np.int64)
    abs_row_sum = int(np.abs(weight).sum(axis=1).max(initial=0))
    dtype = exact_dtype(float(max_input) * float(abs_row_sum))
    return DenseKernel(weight, dtype, Int8Weights.of(weight, abs_row_sum))


@dataclass(frozen=True)
class TorchDenseKernel:
    """DenseKernel for torch tensors on any device (the accelerator path)."""

    weight_t: torch.Tensor  # (in, out), exact float dtype or int64

    @classmethod
    def prepare(cls, weight: np.ndarray, max_input: int, device: torch.device) -> TorchDenseKernel:
        bound = float(max_input) * float(np.abs(weight).sum(axis=1).max(initial=0))
        dtype = _device_dtype(bound, device)
        return cls(torch.tensor(np.ascontiguousarray(weight.T), device=device).to(dtype))  # a copy: weight is read-only

    def __call__(self, x: torch.Tensor, *, binary: bool = False) -> torch.Tensor:
        x = x.reshape(x.shape[0], -1)
        if self.weight_t.dtype == torch.int64:  # no float type is exact: int64 on the CPU (GPUs lack int GEMM)
            return (x.cpu() @ self.weight_t.cpu()).to(x.device)
        return (x.to(self.weight_t.dtype) @ self.weight_t).to(torch.int64)


@dataclass(frozen=True)
class TorchConv2dKernel:
    """Conv2dKernel for torch tensors on any device; int64 sums go through the CPU's im2col."""

    weight_t: torch.Tensor
    cpu_fallback: Conv2dKernel

    @classmethod
    def prepare(cls, weight: np.ndarray, max_input: int, op, device: torch.device) -> TorchConv2dKernel:
        bound = float(max_input) * float(np.abs(weight).reshape(len(weight), -1).sum(axis=1).max(initial=0))
        dtype = _device_dtype(bound, device)
        return cls(torch.tensor(weight, device=device).to(dtype), Conv2dKernel.prepare(weight, max_input, op))

    def __call__(self, x: torch.Tensor, *, binary: bool = False) -> torch.Tensor:
        if self.weight_t.dtype == torch.int64:
            return torch.as_tensor(self.cpu_fallback(x.cpu().numpy()), device=x.device)
        k = self.cpu_fallback
        with torch.no_grad():
            y = torch.nn.functional.conv2d(
                x.to(self.weight_t.dtype), self.weight_t, None, k.stride, k.padding, k.dilation, k.groups
            )
        return y.to(torch.int64)


def _device_dtype(bound: float, device: torch.device) -> torch.dtype:
    """float64 off the CPU: GPU libraries may compute float32 in TF32 (10-bit mantissa), never exact."""
    dtype = exact_dtype(bound)
    if dtype is None:
        return torch.int64
    if device.type != "cpu":
        return torch.float64
    return torch.float32 if dtype == np.float32 else torch.float64


@dataclass(frozen=True)
class Conv2dKernel:
    """torch-convention conv2d (cross-correlation, zero padding) of integer x (B, C, H, W), exactly."""

    weight: np.ndarray  # (out, in/groups, kh, kw) int64
    weight_t: torch.Tensor | None  # the same in the exact float dtype, for torch's conv2d
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    groups: int
    events_by_shape: dict = field(default_factory=dict, compare=False, repr=False)  # ConvEvents per input shape

    @classmethod
    def prepare(cls, weight: np.ndarray, max_input: int, op) -> Conv2dKernel:  # op: IntConv2d
        bound = float(max_input) * float(np.abs(weight).reshape(len(weight), -1).sum(axis=1).max(initial=0))
        dtype = exact_dtype(bound)
        weight_t = None if dtype is None else torch.from_numpy(weight.astype(dtype))
        return cls(weight.astype(np.int64), weight_t, op.stride, op.padding, op.dilation, op.groups)

    def __call__(self, x: np.ndarray, *, binary: bool = False) -> np.ndarray:
        if self.weight_t is None:
            return self._int64(x)
        return self._float(x).astype(np.int64)

    def int32_exact(self) -> bool:
        """Whether the float sums fit int32 as they are (float32: below 2^24)."""
        return self.weight_t is not None and self.weight_t.dtype == torch.float32

    def port(self, x: np.ndarray, weight_exp: int) -> np.ndarray | None:
        """wrap_int32(shift(conv(x), weight_exp)) as int32 for binary x (spikes), or None where no int32
        form is exact.  Rare spikes take the event-driven scatter (conv_events.py, exact in int32 by its
        fan-in bound); busier ones torch's float32 conv2d (exact below 2^24) with one in-place shift."""
        flat = _as_int8(x.reshape(x.shape[0], -1))
        active = np.count_nonzero(flat)
        events = self._events(x.shape[1:]) if active < EVENT_DRIVEN_CONV_DENSITY * flat.size else None
        if events is not None:
            if not active:
                return np.zeros((x.shape[0], *events.out_shape), dtype=np.int32)
            return events.port(_bit_words(flat), weight_exp)
        if self.int32_exact():
            return _shifted_in_place(self._float(x).astype(np.int32), weight_exp)
        return None

    def _events(self, in_shape: tuple[int, ...]) -> ConvEvents | None:
        """The event-driven form for this input size, made on first use (None: int32 could overflow)."""
        key = tuple(in_shape)
        if key not in self.events_by_shape:
            self.events_by_shape[key] = ConvEvents.of(
                self.weight, key, self.stride, self.padding, self.dilation, self.groups
            )
        return self.events_by_shape[key]

    def _float(self, x: np.ndarray) -> np.ndarray:
        xt = torch.from_numpy(np.ascontiguousarray(x, dtype=self.weight_t.numpy().dtype))
        with torch.no_grad():
            y = torch.nn.functional.conv2d(
                xt, self.weight_t, None, self.stride, self.padding, self.dilation, self.groups
            )
        return y.numpy()

    def _int64(self, x: np.ndarray) -> np.ndarray:
        """im2col in int64: one matrix product per group over strided windows (no copy of the kernel)."""
        b, _, h, w = x.shape
        c_out, c_in_g, kh, kw = self.weight.shape
        stride, padding, dilation = self.stride, self.padding, self.dilation
        oh, ow = conv_out_hw((h, w), (kh, kw), stride, padding, dilation)
        padded = np.pad(x.astype(np.int64), ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
        spans = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
        windows = sliding_window_view(padded, spans, axis=(2, 3))[
            :, :, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]
        ][:, :, :oh, :ow]  # (B, C, OH, OW, kH, kW)
        per_group = c_out // self.groups
        out = np.empty((b, c_out, oh, ow), dtype=np.int64)
        for g in range(self.groups):
            cols = windows[:, g * c_in_g : (g + 1) * c_in_g].transpose(0, 2, 3, 1, 4, 5).reshape(b * oh * ow, -1)
            kernel = self.weight[g * per_group : (g + 1) * per_group].reshape(per_group, -1)
            out[:, g * per_group : (g + 1) * per_group] = (
                (cols @ kernel.T).reshape(b, oh, ow, per_group).transpose(0, 3, 1, 2)
            )
        return out


def dense(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """acc = W @ flatten(x) per sample: x (B, *in_shape), weight (out, in) -> (B, out), exactly."""
    return DenseKernel.prepare(weight, int(np.abs(x).max(initial=0)))(x)


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """torch-convention conv2d of integer x (B, C, H, W), exactly (one-off form of Conv2dKernel)."""
    kernel = Conv2dKernel(weight.astype(np.int64), None, stride, padding, dilation, groups)
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(weight).reshape(len(weight), -1).sum(axis=1).max(initial=0))
    dtype = exact_dtype(bound)
    if dtype is not None:
        kernel = Conv2dKernel(kernel.weight, torch.from_numpy(weight.astype(dtype)), stride, padding, dilation, groups)
    return kernel(x)
