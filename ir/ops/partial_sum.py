"""One core's share of a layer's fan-in, sent on as a graded spike (SPEC.md §int_partial_sum)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.errors import InvalidGraph

from ..const import Const
from ..op import Op, Shape, check_weight_dims, conv2d_shape, expect_inputs, pair
from .conv2d import IntConv2d


@dataclass(frozen=True, kw_only=True)
class IntPartialSum(Op):
    """One core's share of a neuron layer's fan-in, sent on as a graded spike (SPEC.md §int_partial_sum).

    Per step:  p = wrap32(Σ_i W_eff[j, i] · x[start + i])   (x: the source's flattened output,
    binary spikes of a neuron layer or the values of a graded input; W_eff: the weight pipeline)
    A 4-D weight (C_out, width, kH, kW) makes the part a conv2d over input channels start .. start + width
    of the source (C, H, W), with ``stride``, ``padding`` and ``dilation`` (unused by a 2-D weight):
        p = wrap32(conv2d(x[start : start + width], W_eff))
    p is sent as a graded spike to synapse ops, which read it like graded input.  Stateless.
    |p| < 2**(payload_bits − 1) for every possible input (the stage verifier checks the bound).
    Written by snncc.mapping.split when a layer's fan-in exceeds a core's input axons.
    """

    OP = "int_partial_sum"
    IS_NEURON = True  # a compartment on a core: one connection of latency, like a neuron layer
    IS_RELAY = True
    weight: Const  # (out, width) int32: columns start .. start + width; or (C_out, width, kH, kW): input channels
    start: int
    payload_bits: int = 24
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int] = (0, 0)
    dilation: tuple[int, int] = (1, 1)

    def __post_init__(self) -> None:
        super().__post_init__()
        for f in ("stride", "padding", "dilation"):
            object.__setattr__(self, f, pair(getattr(self, f)))

    @property
    def is_conv(self) -> bool:
        return len(self.weight.shape) == 4

    @property
    def width(self) -> int:
        """Columns (dense) or input channels (conv) of the source that this part reads."""
        return int(self.weight.shape[1])

    @property
    def inputs_per_neuron(self) -> int:
        """Inputs one of its neurons reads away from the borders: the width, times the kernel's taps for a conv."""
        return int(np.prod(self.weight.shape[1:]))

    def conv_view(self) -> IntConv2d | None:
        return self.window() if self.is_conv else None

    def part_of_source(self) -> tuple[int, int]:
        return (self.start, self.start + self.width)

    def read_shape(self, source_shape: Shape) -> Shape:
        return self.window_shape(source_shape) if self.is_conv else (self.width,)

    def macs(self) -> float:
        return self.window().macs() if self.is_conv else float(self.weight.array.size)

    def payload_ports(self) -> tuple[tuple[int, int], ...]:
        return ((1 << (self.payload_bits - 1), 0),)  # a graded spike of payload_bits, signed

    def window(self) -> IntConv2d:
        """A conv part as the int_conv2d it computes over its channels of the source (SPEC.md §int_partial_sum)."""
        return IntConv2d(
            shape=self.shape, weight=self.weight, stride=self.stride, padding=self.padding, dilation=self.dilation
        )

    def window_shape(self, source_shape: Shape) -> Shape:
        """The part of the source a conv part reads: (width, H, W)."""
        return (self.width, *source_shape[1:])

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        check_weight_dims(name, self, 2, 4)
        if self.is_conv:
            return self._conv_shape(inputs[0], name)
        if len(self.weight.shape) != 2 or (self.stride, self.padding, self.dilation) != ((1, 1), (0, 0), (1, 1)):
            raise InvalidGraph(
                "a partial sum's weight is (out, width), or (C_out, width, kH, kW) for a conv part; only a conv "
                "part has a stride, padding or dilation",
                code="GRF004",
                node=name,
            )
        n_in = int(np.prod(inputs[0]))
        out, width = self.weight.shape
        if self.start < 0 or self.start + width > n_in:
            raise InvalidGraph(
                f"reads inputs {self.start}..{self.start + width - 1} of a source with {n_in}",
                code="GRF004",
                node=name,
            )
        return (out,)

    def _conv_shape(self, src: Shape, name: str) -> Shape:
        if len(src) != 3 or self.start < 0 or self.start + self.width > src[0]:
            raise InvalidGraph(
                f"a conv part reads channels {self.start}..{self.start + self.width - 1} of a (C, H, W) source, "
                f"but its source has shape {src}",
                code="GRF004",
                node=name,
            )
        return conv2d_shape(self.window(), [self.window_shape(src)], name)


# numerics


def source_part(op: IntPartialSum, source_shape: Shape, x: np.ndarray) -> np.ndarray:
    """What the part reads of its source's output ``x`` (batch, *source shape): its columns of the
    flattened output, or for a conv part its input channels of the (C, H, W) maps.  Its payload is
    p = wrap_int32(W_eff · part), the product a dense or (conv part) int_conv2d computes."""
    if op.is_conv:
        return x.reshape(x.shape[0], *source_shape)[:, op.start : op.start + op.width]
    return x.reshape(x.shape[0], -1)[:, op.start : op.start + op.width]
