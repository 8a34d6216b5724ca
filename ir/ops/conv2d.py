"""A 2-D convolution synapse: float and integer forms (SPEC.md §conv2d, §int_conv2d)."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from ..const import Const
from ..op import Op, Shape, check_bias, conv2d_shape, pair


def conv_macs(op: Any) -> float:
    """Multiply-accumulates of a conv op per sample: each output reads C_in/groups · kH · kW inputs."""
    _c_out, c_in_g, kh, kw = op.weight.shape
    return float(np.prod(op.shape) * c_in_g * kh * kw)


@dataclass(frozen=True, kw_only=True)
class Conv2d(Op):
    """torch.nn.functional.conv2d semantics (cross-correlation). weight (Cout, Cin/groups, kH, kW)."""

    OP = "conv2d"
    IS_SYNAPSE = True
    weight: Const
    bias: Const | None = None
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("stride", "padding", "dilation"):
            object.__setattr__(self, f, pair(getattr(self, f)))

    is_conv = True

    def conv_view(self) -> Conv2d:
        return self

    def window_fields(self) -> dict[str, Any]:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}

    def macs(self) -> float:
        return conv_macs(self)

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
        return conv2d_shape(self, inputs, name)


@dataclass(frozen=True, kw_only=True)
class IntConv2d(Op):
    """IntDense whose matrix is a torch-convention conv2d (cross-correlation), weight (Cout, Cin/g, kH, kW)."""

    OP = "int_conv2d"
    IS_SYNAPSE = True
    weight: Const
    weight_exp: int = 0
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("stride", "padding", "dilation"):
            object.__setattr__(self, f, pair(getattr(self, f)))

    is_conv = True

    def conv_view(self) -> IntConv2d:
        return self

    def window_fields(self) -> dict[str, Any]:
        return {"stride": self.stride, "padding": self.padding, "dilation": self.dilation}

    def macs(self) -> float:
        return conv_macs(self)

    def identity_join(self) -> IntConv2d:
        """Passes channel c of a split layer's part on to channel c (a 1x1 depthwise conv), with this exponent."""
        channels = self.shape[0]
        ones = Const(np.ones((channels, 1, 1, 1), dtype=np.int32))
        return IntConv2d(shape=self.shape, weight=ones, weight_exp=self.weight_exp, groups=channels)

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        return conv2d_shape(self, inputs, name)
