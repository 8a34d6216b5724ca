"""Pooling ops of the float dialect (SPEC.md §avgpool2d, §sumpool2d, §maxpool2d)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from snncc.errors import InvalidGraph

from ..op import Op, Shape, check_window, conv_out_hw, expect_inputs, pair, shape_mismatch


@dataclass(frozen=True, kw_only=True)
class Pool2d(Op):
    """Shared fields of the pooling ops (not an op itself)."""

    IS_POOL = True
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

    def window_divisor(self) -> int | None:
        """What a linear pool divides its window's sum by (a sum pool: 1); None for a max, which is not linear."""
        return None

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("kernel", "stride", "padding"):
            object.__setattr__(self, f, pair(getattr(self, f)))

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        src = inputs[0]
        if len(src) != 3:
            raise shape_mismatch(name, self, (-1, -1, -1), src)
        check_window(name, self, self.kernel, self.stride, self.padding)
        h, w = conv_out_hw((src[1], src[2]), self.kernel, self.stride, self.padding)
        if h < 1 or w < 1:
            raise InvalidGraph(f"pooling output would be empty for input {src}", code="GRF004", node=name)
        return (src[0], h, w)


@dataclass(frozen=True, kw_only=True)
class AvgPool2d(Pool2d):
    """Average over kernel windows (zero padding counted, as torch's count_include_pad=True)."""

    OP = "avgpool2d"

    def window_divisor(self) -> int | None:
        return self.kernel[0] * self.kernel[1]


@dataclass(frozen=True, kw_only=True)
class SumPool2d(Pool2d):
    """Sum over kernel windows (NIR SumPool2d)."""

    OP = "sumpool2d"

    def window_divisor(self) -> int | None:
        return 1


@dataclass(frozen=True, kw_only=True)
class MaxPool2d(Pool2d):
    """Max over kernel windows (padding never wins), of analog values: the model as trained, for the
    float simulator.  It has no chip form: canonicalize refuses it unless the user accepts the
    approximation maxpool-as-avgpool (max pooling of spikes is imported as sumpool2d + an OR lif)."""

    OP = "maxpool2d"


# numerics


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


def avgpool2d_step(op: AvgPool2d, x: np.ndarray) -> np.ndarray:
    return avgpool2d(x, op.kernel, op.stride, op.padding)


def sumpool2d_step(op: SumPool2d, x: np.ndarray) -> np.ndarray:
    return sumpool2d(x, op.kernel, op.stride, op.padding)


def maxpool2d_step(op: MaxPool2d, x: np.ndarray) -> np.ndarray:
    return maxpool2d(x, op.kernel, op.stride, op.padding)
