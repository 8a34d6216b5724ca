"""Pure float64 step functions, one per float op (ir/SPEC.md §2), on a batch (B, *shape).

Each takes the op's parameters and this step's input and returns new arrays; only the
neuron carries state, passed in and returned as ``LIFState``.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from snncc.ir import CLIF, LIF, AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, MaxPool2d, Op, SumPool2d


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """y = W·flatten(x) + b."""
    y = x.reshape(x.shape[0], -1) @ weight.T
    return y if bias is None else y + bias


def _windows(
    x: np.ndarray,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> np.ndarray:
    """Zero-padded sliding windows of x (B, C, H, W): a (B, C, H_out, W_out, kH, kW) view."""
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel, stride, padding, dilation
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)))
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    return sliding_window_view(padded, spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]


def conv2d(
    x: np.ndarray,
    weight: np.ndarray,
    bias: np.ndarray | None,
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int],
    groups: int,
) -> np.ndarray:
    """torch conv2d (cross-correlation, zero padding, groups) + bias per output channel, in float64.

    torch's kernel, not an im2col copy of the input: the float model's convolutions dominate
    calibration time on conv nets.
    """
    import torch

    with torch.no_grad():
        y = torch.nn.functional.conv2d(
            torch.from_numpy(np.ascontiguousarray(x, dtype=np.float64)),
            torch.from_numpy(np.array(weight, dtype=np.float64)),  # a writable copy: Const arrays are frozen
            None if bias is None else torch.from_numpy(np.array(bias, dtype=np.float64)),
            stride,
            padding,
            dilation,
            groups,
        )
    return y.numpy()


def sumpool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Sum over each window (zero padding)."""
    return _windows(x, kernel, stride, padding).sum(axis=(4, 5))


def avgpool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Mean over each window, padded zeros counted (torch count_include_pad=True)."""
    return sumpool2d(x, kernel, stride, padding) / (kernel[0] * kernel[1])


def maxpool2d(x: np.ndarray, kernel: tuple[int, int], stride: tuple[int, int], padding: tuple[int, int]) -> np.ndarray:
    """Max over each window; padding never wins (torch pads with -inf)."""
    (ph, pw) = padding
    padded = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=-np.inf)
    return _windows(padded, kernel, stride, (0, 0)).max(axis=(4, 5))


def flatten(x: np.ndarray) -> np.ndarray:
    return x.reshape(x.shape[0], -1)


def batchnorm(
    x: np.ndarray, mean: np.ndarray, var: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
) -> np.ndarray:
    """(x - mean)/√(var + eps)·weight + bias, per channel (axis 0 of a sample)."""
    per_channel = (-1,) + (1,) * (x.ndim - 2)

    def channel(a: np.ndarray) -> np.ndarray:
        return a.reshape(per_channel)

    return (x - channel(mean)) / np.sqrt(channel(var) + eps) * channel(weight) + channel(bias)


class LIFState(NamedTuple):
    i: np.ndarray  # current, (B, *shape)
    v: np.ndarray  # potential after reset, (B, *shape)
    m: np.ndarray | None = None  # CLIF's complementary state


def lif_initial_state(op: LIF, batch: int) -> LIFState:
    """i = i_init, v = v_init (0 when unset), at the start of every sample."""
    shape = (batch, *op.shape)
    v_init = 0.0 if op.v_init is None else op.v_init.array.astype(np.float64)
    i_init = 0.0 if op.i_init is None else op.i_init.array.astype(np.float64)
    m = np.zeros(shape) if isinstance(op, CLIF) else None
    return LIFState(np.broadcast_to(i_init, shape).copy(), np.broadcast_to(v_init, shape).copy(), m)


def lif_step(op: LIF, state: LIFState, x: np.ndarray) -> tuple[np.ndarray, LIFState]:
    """One step of SPEC.md §lif; x is the summed synaptic input (B, *shape).  Returns (spikes bool, state)."""
    i = op.alpha * state.i + op.gain * x
    h = op.beta * state.v + i
    if op.bias is not None:
        h = h + op.bias.array
    if op.v_floor is not None:
        h = np.maximum(h, op.v_floor)
    s = (h >= op.threshold if op.fire == ">=" else h > op.threshold) if op.spiking else np.zeros(h.shape, dtype=bool)
    if isinstance(op, CLIF):  # SPEC.md §clif: m from this step's h and s, then the complementary reset
        m = state.m * _sigmoid(h / op.m_tau) + s
        return s, LIFState(i, h - s * (op.threshold + _sigmoid(m)), m)
    v = np.where(s, op.v_reset if op.reset == "zero" else h - op.threshold, h)
    return s, LIFState(i, v)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1 + e^-x) without overflow warnings


def apply(op: Op, x: np.ndarray) -> np.ndarray:
    """The output of one stateless op (dense, conv2d, pooling, flatten, batchnorm) on a batch x."""
    if isinstance(op, Dense):
        return dense(x, op.weight.array, None if op.bias is None else op.bias.array)
    if isinstance(op, Conv2d):
        bias = None if op.bias is None else op.bias.array
        return conv2d(x, op.weight.array, bias, op.stride, op.padding, op.dilation, op.groups)
    if isinstance(op, AvgPool2d):
        return avgpool2d(x, op.kernel, op.stride, op.padding)
    if isinstance(op, SumPool2d):
        return sumpool2d(x, op.kernel, op.stride, op.padding)
    if isinstance(op, MaxPool2d):
        return maxpool2d(x, op.kernel, op.stride, op.padding)
    if isinstance(op, Flatten):
        return flatten(x)
    if isinstance(op, BatchNorm):
        return batchnorm(x, op.mean.array, op.var.array, op.weight.array, op.bias.array, op.eps)
    raise TypeError(f"not a stateless float op: {op.OP}")
