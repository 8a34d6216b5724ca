"""Pooling ops of the float dialect (SPEC.md §avgpool2d, §sumpool2d, §maxpool2d)."""

from __future__ import annotations

from dataclasses import dataclass

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
