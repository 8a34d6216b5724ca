"""Event-driven conv2d for binary input: each input spike adds its kernel taps to the outputs it reaches.

A binary conv's output o at (oy, ox) is the sum of W[o, c, ky, kx] over the active inputs
(c, oy·s + ky·d − p, ...).  Turned around, each active input (c, y, x) adds the weight vector
W[:, c, ky, kx] (all output channels of its group at once: a SIMD row) to every output position
(oy, ox) with y = oy·s + ky·d − p, x likewise.  Those (position, tap) pairs depend only on the
geometry, so they are listed once per input position (a CSR table), and the cost of a step is
active inputs × taps × output channels instead of every output × fan-in: at 10 % spikes, ~10x
less work than the dense conv, with no float conversion of the input.

Exact in int32: every partial sum of an output is a sum of some of its own weights, at most
``abs_row_sum`` (the largest sum of |W| over one output's fan-in) in size; where that is below
2^31 no int32 add can overflow (checked when the kernel is made, not assumed).  The port's shift
by 2^exp is applied to the exact sum in int64 as it is written out (low 32 bits: Lava's int32
wrap; a right shift floors once), as kernels._shifted_into does for dense layers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np
from numba.cpython.unsafe.numbers import trailing_zeros

from snncc.ir.op import conv_out_hw

from . import jit

INT32_EXACT = 1 << 31


@dataclass(frozen=True)
class ConvEvents:
    """A binary conv2d (torch convention: cross-correlation, zero padding) for one input size."""

    weight: np.ndarray  # (C_in, kh·kw, C_out/groups) int32: weight[c, k] = W[group of c's outputs, c % C_in/g, k]
    tap_ptr: np.ndarray  # (H·W + 1,) int64: the taps of input position p are tap_ptr[p] .. tap_ptr[p+1]
    tap_out: np.ndarray  # output position oy·OW + ox of each tap
    tap_k: np.ndarray  # kernel index ky·kw + kx of each tap
    in_shape: tuple[int, int, int]  # (C_in, H, W)
    out_shape: tuple[int, int, int]  # (C_out, OH, OW)
    c_in_group: int  # input channels per group

    @classmethod
    def of(cls, weight, in_shape, stride, padding, dilation, groups) -> ConvEvents | None:
        """None where an int32 sum of one output's weights could overflow (int64 weights (O, C/g, kh, kw))."""
        w = np.asarray(weight, dtype=np.int64)
        c_out, c_in_g, kh, kw = w.shape
        if int(np.abs(w).reshape(c_out, -1).sum(axis=1).max(initial=0)) >= INT32_EXACT:
            return None
        c_in, h, wd = in_shape
        oh, ow = conv_out_hw((h, wd), (kh, kw), stride, padding, dilation)
        per_group = c_out // groups
        # weight[c, k, j] = W[g·per_group + j, c − g·c_in_g, k] with g = c // c_in_g
        by_group = w.reshape(groups, per_group, c_in_g, kh * kw).transpose(0, 2, 3, 1)
        table = np.ascontiguousarray(by_group.reshape(c_in, kh * kw, per_group), dtype=np.int32)
        ptr, out, k = _taps((h, wd), (kh, kw), stride, padding, dilation, (oh, ow))
        return cls(table, ptr, out, k, (c_in, h, wd), (c_out, oh, ow), c_in_g)

    def port(self, words: np.ndarray, exp: int) -> np.ndarray:
        """The (B, C_out, OH, OW) int32 port conv(x)·2^exp mod 2^32 (or floored >> −exp) of the 0/1 spikes
        x (B, C_in, H, W) given as bit masks (kernels._bit_words of x flattened per sample)."""
        batch = words.shape[0]
        out = np.empty((batch, self.out_shape[0], self.out_shape[1] * self.out_shape[2]), dtype=np.int32)
        _scatter(
            words, out, self.weight, self.tap_ptr, self.tap_out, self.tap_k,
            self.in_shape[1] * self.in_shape[2], self.c_in_group, min(max(exp, -63), 63),
        )  # fmt: skip
        return out.reshape(batch, *self.out_shape)


def _taps(hw, khw, stride, padding, dilation, ohw):
    """For each input position, the (output position, kernel index) pairs it feeds, as CSR arrays."""
    (h, w), (kh, kw), (oh, ow) = hw, khw, ohw
    pairs: list[list[tuple[int, int]]] = [[] for _ in range(h * w)]
    for oy in range(oh):
        for ox in range(ow):
            for ky in range(kh):
                y = oy * stride[0] + ky * dilation[0] - padding[0]
                if not 0 <= y < h:
                    continue
                for kx in range(kw):
                    x = ox * stride[1] + kx * dilation[1] - padding[1]
                    if 0 <= x < w:
                        pairs[y * w + x].append((oy * ow + ox, ky * kw + kx))
    ptr = np.zeros(h * w + 1, dtype=np.int64)
    ptr[1:] = np.cumsum([len(p) for p in pairs])
    flat = np.array([t for p in pairs for t in p], dtype=np.int64).reshape(-1, 2)
    return ptr, np.ascontiguousarray(flat[:, 0]), np.ascontiguousarray(flat[:, 1])


@jit.njit
def _scatter(words, out, weight, tap_ptr, tap_out, tap_k, hw, c_in_group, exp):
    """out[b] (C_out, OH·OW) = the shifted sum, over the set bits k = c·hw + p of words[b], of the rows
    weight[c, tap_k[t]] added at output position tap_out[t] for each tap t of p.  Summed per sample in
    an (OH·OW, C_out) int32 scratch (in L1/L2: its rows are the SIMD adds), then written out transposed.
    Indexes are unsigned: numba checks signed ones for negative values, which keeps LLVM from
    vectorizing the adds (and row views would cost a reference count each)."""
    taps, per_group = weight.shape[1], weight.shape[2]
    n_q, c_out = out.shape[2], out.shape[1]
    flat_w = weight.reshape(-1)
    acc = np.empty(n_q * c_out, dtype=np.int32)
    for b in range(out.shape[0]):
        acc[:] = 0
        c = g0 = 0  # the channel of input k and its group's first output: k only grows (no divisions)
        for wd in range(words.shape[1]):
            bits = words[b, wd]
            while bits:
                k = wd * 64 + trailing_zeros(bits)
                bits &= bits - np.uint64(1)
                while k >= (c + 1) * hw:
                    c += 1
                    g0 = (c // c_in_group) * per_group
                p = k - c * hw
                for t in range(tap_ptr[p], tap_ptr[p + 1]):
                    src = np.uint64((c * taps + tap_k[t]) * per_group)
                    dst = np.uint64(tap_out[t] * c_out + g0)
                    for j in range(per_group):
                        acc[dst + np.uint64(j)] += flat_w[src + np.uint64(j)]
        _write_transposed(out[b].reshape(-1), acc, n_q, c_out, exp)


@numba.njit(inline="always")
def _write_transposed(dst, acc, n_q, c_out, exp):
    """dst[o·n_q + q] = acc[q·c_out + o]·2^exp (low 32 bits) or >> −exp, computed in int64."""
    for q in range(n_q):
        for o in range(c_out):
            v = np.int64(acc[np.uint64(q * c_out + o)])
            dst[np.uint64(o * n_q + q)] = (v << exp) if exp >= 0 else (v >> -exp)
