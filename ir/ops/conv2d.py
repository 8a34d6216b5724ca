"""A 2-D convolution synapse: float and integer forms (SPEC.md §conv2d, §int_conv2d)."""

from __future__ import annotations

from dataclasses import dataclass

from ..const import Const
from ..op import Op, Shape, check_bias, conv2d_shape, pair


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

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        return conv2d_shape(self, inputs, name)
