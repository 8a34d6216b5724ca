"""Exact integer synapse kernels, batched over samples.

Integer sums are computed with float BLAS only where a bound proves the float result
exact (every partial sum below 2^53 in float64), and in int64 otherwise.  Convolutions are
never expanded into dense matrices: im2col views feed one matrix product per group.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from snncc.ir.op import conv_out_hw

FLOAT64_EXACT = 1 << 53


def exact_matmul(x: np.ndarray, w: np.ndarray) -> np.ndarray:
    """x (..., K) @ w (K, N) for integer arrays, exactly, as int64."""
    bound = float(np.abs(x).max(initial=0)) * float(np.abs(w).sum(axis=0).max(initial=0))
    if bound < FLOAT64_EXACT:
        return np.rint(x.astype(np.float64) @ w.astype(np.float64)).astype(np.int64)
    return x.astype(np.int64) @ w.astype(np.int64)


def dense(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """acc = W @ flatten(x) per sample: x (B, *in_shape), weight (out, in) -> (B, out)."""
    return exact_matmul(x.reshape(x.shape[0], -1), weight.T)


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """torch-convention conv2d (cross-correlation, zero padding) of integer x (B, C, H, W), exactly."""
    b, _, h, w = x.shape
    c_out, c_in_g, kh, kw = weight.shape
    oh, ow = conv_out_hw((h, w), (kh, kw), stride, padding, dilation)
    padded = np.pad(x, ((0, 0), (0, 0), (padding[0],) * 2, (padding[1],) * 2))
    spans = (dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1)
    windows = sliding_window_view(padded, spans, axis=(2, 3))[
        :, :, :: stride[0], :: stride[1], :: dilation[0], :: dilation[1]
    ][:, :, :oh, :ow]  # (B, C, OH, OW, kH, kW)
    per_group = c_out // groups
    out = np.empty((b, c_out, oh, ow), dtype=np.int64)
    for g in range(groups):
        cols = windows[:, g * c_in_g : (g + 1) * c_in_g].transpose(0, 2, 3, 1, 4, 5).reshape(b * oh * ow, -1)
        kernel = weight[g * per_group : (g + 1) * per_group].reshape(per_group, -1)
        out[:, g * per_group : (g + 1) * per_group] = (
            exact_matmul(cols, kernel.T).reshape(b, oh, ow, per_group).transpose(0, 3, 1, 2)
        )
    return out
