"""Base class and helpers shared by the float and integer ops."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import numpy as np

from snncc.errors import InvalidGraph

from .const import Const

Shape = tuple[int, ...]


def pair(value: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    """Normalise an int or a 2-sequence to a 2-tuple (torch accepts both)."""
    if isinstance(value, (int, np.integer)):
        return (int(value), int(value))
    a, b = value
    return (int(a), int(b))


@dataclass(frozen=True, kw_only=True)
class Op:
    """A node of the graph: its parameters, its shape inference, and what the compiler asks of it
    (roles below; cost and mapping hooks, with defaults here that the ops override).

    ``shape`` is the output shape of one sample (no batch or time axis).
    """

    OP: ClassVar[str] = ""
    # roles the graph's recurrence rules need (graph.py): a cycle must pass one neuron layer
    # (which holds state from one step to the next) and at least one synapse op
    IS_NEURON: ClassVar[bool] = False
    IS_SYNAPSE: ClassVar[bool] = False
    # roles the compiler's passes and mapping ask for instead of testing an op's class
    IS_INPUT: ClassVar[bool] = False  # a graph input: fed by the host, reads nothing
    IS_OUTPUT: ClassVar[bool] = False  # a graph output: the readout of a neuron layer
    IS_POOL: ClassVar[bool] = False  # a pooling window (kernel, stride, padding)
    IS_RESHAPE: ClassVar[bool] = False  # moves no value: only the layout of one sample changes
    is_conv: ClassVar[bool] = False  # a sliding-window synapse (conv2d, or a conv part of a split layer)
    # a compartment that weighs its source itself and relays the graded sum (a split layer's partial
    # sum): placed and one step of latency like a neuron, but no state, spikes or readouts
    IS_RELAY: ClassVar[bool] = False
    # an op other than a neuron layer whose output depends on earlier steps (a delay line): the
    # simulators hold its state and never compute it once per run
    HAS_STATE: ClassVar[bool] = False
    shape: Shape

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        """The output shape implied by the input shapes; raises InvalidGraph if they do not fit."""
        raise NotImplementedError

    # cost and mapping hooks: what a synapse-like op (synapse, or compartment with IS_RELAY) reads and costs

    def conv_view(self) -> Any:
        """The convolution this op computes over ``read_shape`` of its source; None where it is not one."""
        return None

    def part_of_source(self) -> tuple[int, int] | None:
        """(first, stop) flat columns, or input channels of a conv, of the source this op reads; None: all of it."""
        return None

    def read_shape(self, source_shape: Shape) -> Shape:
        """The shape of what this op reads of a source shaped ``source_shape``."""
        return tuple(source_shape)

    def window_fields(self) -> dict[str, Any]:
        """The sliding window (stride, padding, dilation) a copy of this synapse's connectivity needs; {} if none."""
        return {}

    def macs(self) -> float:
        """Multiply-accumulates one sample of the equivalent ANN op costs (its synapses); 0 where it has none."""
        return 0.0

    def payload_ports(self) -> tuple[tuple[int, int], ...]:
        """Per output port (a bit plane has one each): (largest |value| sent per step, weight-exponent offset).
        A neuron sends binary spikes on one port."""
        return ((1, 0),)

    def affine(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(scale, shift) per channel where this op alone is y = scale·x + shift (a batch norm); else None."""
        return None

    def with_gain(self, gain: np.ndarray) -> Op | None:
        """This op with its output multiplied by ``gain`` per channel; None where it has no such form."""
        return None

    def consts(self) -> dict[str, Const]:
        return {f.name: getattr(self, f.name) for f in fields(self) if isinstance(getattr(self, f.name), Const)}

    def scalars(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if not isinstance(getattr(self, f.name), Const)}


def expect_inputs(name: str, op: Op, inputs: list[Shape], count: int | None = 1) -> None:
    if count is not None and len(inputs) != count:
        raise InvalidGraph(
            f"{op.OP} takes {count} input(s) but has {len(inputs)}",
            code="GRF003",
            node=name,
        )


def conv_out_hw(
    hw: tuple[int, int],
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> tuple[int, int]:
    out = []
    for i in range(2):
        span = dilation[i] * (kernel[i] - 1) + 1
        out.append((hw[i] + 2 * padding[i] - span) // stride[i] + 1)
    return (out[0], out[1])


def check_weight_dims(name: str, op: Any, *dims: int) -> None:
    """A weight array with as many dimensions as the op reads (a file may give any)."""
    if len(op.weight.shape) not in dims:
        raise InvalidGraph(
            f"{op.OP} needs a weight of {' or '.join(map(str, dims))} dimensions, got shape {tuple(op.weight.shape)}",
            code="GRF004",
            node=name,
        )


def check_window(
    name: str,
    op: Any,
    kernel: tuple[int, int],
    stride: tuple[int, int],
    padding: tuple[int, int],
    dilation: tuple[int, int] = (1, 1),
) -> None:
    """A sliding window a file declared (ONNX attributes, graph.json): stride 0 would divide by zero."""
    if min(*kernel, *stride, *dilation) < 1 or min(padding) < 0 or getattr(op, "groups", 1) < 1:
        raise InvalidGraph(
            f"{op.OP} with kernel {tuple(kernel)}, stride {tuple(stride)}, padding {tuple(padding)}, "
            f"dilation {tuple(dilation)}, groups {getattr(op, 'groups', 1)}: kernel, stride, dilation and groups "
            "must be at least 1 and padding at least 0",
            code="GRF022",
            node=name,
        )


def check_bias(name: str, op: Any, out: int) -> None:
    """A synapse's bias: one value per output channel (a file may give any number)."""
    if op.bias is not None and op.bias.array.size not in (1, out):
        raise InvalidGraph(
            f"{op.OP} has {out} outputs but a bias of shape {tuple(op.bias.array.shape)}",
            code="GRF009",
            node=name,
            hint="give one bias value per output",
        )


def expect_neuron_inputs(name: str, op: Any, inputs: list[Shape]) -> None:
    """A neuron layer: one input or more, each with as many elements as the layer has neurons."""
    if not inputs:
        raise InvalidGraph("a neuron layer needs at least one input", code="GRF003", node=name)
    for src in inputs:
        if int(np.prod(src)) != int(np.prod(op.shape)):
            raise shape_mismatch(name, op, op.shape, src)


def shape_mismatch(name: str, op: Op, expected: Shape, got: Shape) -> InvalidGraph:
    return InvalidGraph(
        f"{op.OP} expects input shape {expected} but receives {got}",
        code="GRF004",
        node=name,
    )


def conv2d_shape(op: Any, inputs: list[Shape], name: str) -> Shape:
    """Output shape of a conv2d-like op (weight (Cout, Cin/groups, kH, kW), stride, padding, dilation, groups)."""
    expect_inputs(name, op, inputs)
    src = inputs[0]
    check_weight_dims(name, op, 4)
    c_out, c_in_g, kh, kw = op.weight.shape
    if len(src) != 3 or src[0] != c_in_g * op.groups:
        raise shape_mismatch(name, op, (c_in_g * op.groups, -1, -1), src)
    check_window(name, op, (kh, kw), op.stride, op.padding, op.dilation)
    h, w = conv_out_hw((src[1], src[2]), (kh, kw), op.stride, op.padding, op.dilation)
    if h < 1 or w < 1:
        raise InvalidGraph(f"{op.OP} output would be empty for input {src}", code="GRF004", node=name)
    return (c_out, h, w)
