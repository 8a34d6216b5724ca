"""A 2-D convolution synapse: float and integer forms (SPEC.md §conv2d, §int_conv2d)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..const import Const
from ..op import Op, Shape, check_bias, conv2d_shape, conv_out_hw, pair


def conv_macs(op: Any) -> float:
    """Multiply-accumulates of a conv op per sample: each output reads C_in/groups · kH · kW inputs."""
    _c_out, c_in_g, kh, kw = op.weight.shape
    return float(np.prod(op.shape) * c_in_g * kh * kw)


@dataclass(frozen=True, kw_only=True)
class ConvWindow(Op):
    """Shared fields and hooks of the conv synapses, float and integer (not an op itself, as Pool2d):
    a weight (Cout, Cin/groups, kH, kW) slid with torch's stride, padding, dilation and groups."""

    IS_SYNAPSE = True
    is_conv = True
    weight: Const
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("stride", "padding", "dilation"):
            object.__setattr__(self, f, pair(getattr(self, f)))

    def conv_view(self) -> ConvWindow:
        return self

    def window_fields(self) -> dict[str, Any]:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}

    def macs(self) -> float:
        return conv_macs(self)

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        return conv2d_shape(self, inputs, name)


@dataclass(frozen=True, kw_only=True)
class Conv2d(ConvWindow):
    """torch.nn.functional.conv2d semantics (cross-correlation). weight (Cout, Cin/groups, kH, kW)."""

    OP = "conv2d"
    bias: Const | None = None

    def fold_affine(self, scale: np.ndarray, shift: np.ndarray) -> Conv2d:
        """This synapse followed by y = scale·x + shift per output channel (a batch norm folded into it)."""
        b = (self.bias.array if self.bias is not None else 0.0) * scale + shift
        return replace(self, weight=Const(self.weight.array * scale.reshape(-1, 1, 1, 1)), bias=Const(b))

    def with_gain(self, gain: np.ndarray) -> Conv2d:
        b = None if self.bias is None else Const(self.bias.array * gain)
        return replace(self, weight=Const(self.weight.array * gain.reshape(-1, 1, 1, 1)), bias=b)

    def to_int(self, weight: np.ndarray, weight_exp: int) -> IntConv2d:
        """The integer synapse with this connectivity and the given weights."""
        return IntConv2d(
            shape=self.shape, weight=Const(weight), weight_exp=weight_exp, groups=self.groups, **self.window_fields()
        )

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        check_bias(name, self, self.weight.shape[0])
        return super().infer_shape(inputs, name)


@dataclass(frozen=True, kw_only=True)
class IntConv2d(ConvWindow):
    """IntDense whose matrix is a torch-convention conv2d (cross-correlation), weight (Cout, Cin/g, kH, kW)."""

    OP = "int_conv2d"
    weight_exp: int = 0

    def identity_join(self) -> IntConv2d:
        """Passes channel c of a split layer's part on to channel c (a 1x1 depthwise conv), with this exponent."""
        channels = self.shape[0]
        ones = Const(np.ones((channels, 1, 1, 1), dtype=np.int32))
        return IntConv2d(shape=self.shape, weight=ones, weight_exp=self.weight_exp, groups=channels)


# numerics


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


def conv2d_step(op: Conv2d, x: np.ndarray) -> np.ndarray:
    bias = None if op.bias is None else op.bias.array
    return conv2d(x, op.weight.array, bias, op.stride, op.padding, op.dilation, op.groups)


def conv_matrix(op: IntConv2d, in_shape: tuple[int, ...]) -> Any:
    """The (out, in) matrix of a torch-convention conv2d over C-order flattened maps."""
    import scipy.sparse as sp  # here: importing the IR does not load scipy

    c_in, h, w = in_shape
    c_out, c_in_g, kh, kw = op.weight.shape
    oh, ow = conv_out_hw((h, w), (kh, kw), op.stride, op.padding, op.dilation)
    o, y, x, c, i, j = np.meshgrid(
        np.arange(c_out), np.arange(oh), np.arange(ow), np.arange(c_in_g), np.arange(kh), np.arange(kw), indexing="ij"
    )
    yy = y * op.stride[0] - op.padding[0] + i * op.dilation[0]
    xx = x * op.stride[1] - op.padding[1] + j * op.dilation[1]
    cin = (o // (c_out // op.groups)) * c_in_g + c
    weights = op.weight.array[o, c, i, j]
    keep = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w) & (weights != 0)
    rows = ((o * oh + y) * ow + x)[keep]
    cols = ((cin * h + yy) * w + xx)[keep]
    return sp.csr_matrix((weights[keep].astype(np.int32), (rows, cols)), shape=(c_out * oh * ow, c_in * h * w))
