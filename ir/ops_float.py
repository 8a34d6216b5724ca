"""Float dialect: what importers produce (FLOAT) and what quantization consumes (CANONICAL).

Equations of every op are in ir/SPEC.md.  Names and units follow the discrete-time
form actually simulated (decay factors per step), not continuous time constants:
importers convert tau and dt with the rule recorded in ``GraphMeta.discretization``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from snncc.errors import InvalidGraph

from .const import Const
from .op import (
    Op,
    Shape,
    check_bias,
    check_weight_dims,
    check_window,
    conv2d_shape,
    conv_out_hw,
    expect_inputs,
    expect_neuron_inputs,
    pair,
    shape_mismatch,
)

Readout = Literal["spike_count", "v_last", "v_mean", "spike_steps", "v_steps"]
READOUTS: tuple[str, ...] = ("spike_count", "v_last", "v_mean", "spike_steps", "v_steps")
STEP_READOUTS: tuple[str, ...] = ("spike_steps", "v_steps")


@dataclass(frozen=True, kw_only=True)
class Input(Op):
    """A graph input; one sample has ``shape``; the same value is presented at every step."""

    OP = "input"

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs, 0)
        return self.shape


@dataclass(frozen=True, kw_only=True)
class Dense(Op):
    """y = W x + b, with x flattened in C order.  weight (out, in)."""

    OP = "dense"
    IS_SYNAPSE = True
    weight: Const
    bias: Const | None = None

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        n_in = int(np.prod(inputs[0]))
        check_weight_dims(name, self, 2)
        out, w_in = self.weight.shape
        if w_in != n_in:
            raise shape_mismatch(name, self, (w_in,), inputs[0])
        check_bias(name, self, out)
        return (out,)


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
class Pool2d(Op):
    """Shared fields of the pooling ops (not an op itself)."""

    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int] = (0, 0)

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


@dataclass(frozen=True, kw_only=True)
class SumPool2d(Pool2d):
    """Sum over kernel windows (NIR SumPool2d)."""

    OP = "sumpool2d"


@dataclass(frozen=True, kw_only=True)
class MaxPool2d(Pool2d):
    """Max over kernel windows (padding never wins), of analog values: the model as trained, for the
    float simulator.  It has no chip form: canonicalize refuses it unless the user accepts the
    approximation maxpool-as-avgpool (max pooling of spikes is imported as sumpool2d + an OR lif)."""

    OP = "maxpool2d"


@dataclass(frozen=True, kw_only=True)
class Flatten(Op):
    """Reshape one sample to a vector in C order."""

    OP = "flatten"

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        return (int(np.prod(inputs[0])),)


@dataclass(frozen=True, kw_only=True)
class BatchNorm(Op):
    """Inference-mode batch norm over axis 0 of a sample: (x - mean)/sqrt(var + eps)*weight + bias."""

    OP = "batchnorm"
    mean: Const
    var: Const
    weight: Const
    bias: Const
    eps: float = 1e-5

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        if not inputs[0] or inputs[0][0] != self.mean.shape[0]:
            raise shape_mismatch(name, self, (self.mean.shape[0],), inputs[0])
        return inputs[0]


@dataclass(frozen=True, kw_only=True)
class LIF(Op):
    """The canonical discrete-time neuron every supported model maps onto (SPEC.md §LIF).

    Per step, with x the sum of the incoming synapse outputs:
        i = alpha*i + gain*x ;  h = beta*v + i + bias ;  h = max(h, v_floor) if set
        s = h >= threshold (fire ">=") or h > threshold (fire ">"), never if not spiking
        v = v_reset where s (reset "zero") | h - threshold where s ("subtract") | h elsewhere
        output = amplitude * s
    State (i = i_init, v = v_init; both 0 when unset) is restored at the start of every sample.
    """

    OP = "lif"
    IS_NEURON = True
    beta: float = 1.0
    alpha: float = 0.0
    gain: float = 1.0
    bias: Const | None = None  # per neuron (shape) or scalar; None = 0
    threshold: float = 1.0
    fire: Literal[">=", ">"] = ">="
    reset: Literal["zero", "subtract"] = "zero"
    v_reset: float = 0.0
    v_init: Const | None = None  # per neuron (shape) or scalar; None = 0
    i_init: Const | None = None  # current at each sample start, per neuron or scalar; None = 0
    v_floor: float | None = None
    amplitude: float = 1.0
    spiking: bool = True

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_neuron_inputs(name, self, inputs)
        return self.shape


@dataclass(frozen=True, kw_only=True)
class CLIF(LIF):
    """Complementary LIF (SPEC.md §clif): an lif with soft reset plus a second state m.

    After h and s of the lif step:  m = m·sigmoid(h/m_tau) + s ;  v = h − s·(threshold + sigmoid(m)).
    m = 0 at the start of every sample.  Requires reset "subtract", fire ">=", alpha 0, no floor.
    """

    OP = "clif"
    m_tau: float = 2.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        if self.reset != "subtract" or self.fire != ">=" or self.alpha != 0.0 or self.v_floor is not None:
            raise InvalidGraph(
                "a CLIF layer has reset 'subtract', fire '>=', alpha 0 and no floor", code="GRF026", node=name
            )
        if not self.m_tau > 0:
            raise InvalidGraph(f"m_tau must be positive, got {self.m_tau}", code="GRF026", node=name)
        return super().infer_shape(inputs, name)


@dataclass(frozen=True, kw_only=True)
class Output(Op):
    """A graph output: the readout of one neuron layer over the steps of a sample.

    spike_count: sum of spikes over steps; v_last: v after the last step;
    v_mean: mean of v over steps; spike_steps / v_steps: the spikes / v of every step,
    (steps, *shape) per sample.  The value is multiplied by ``scale``.
    """

    OP = "output"
    readout: Readout = "spike_count"
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        if self.readout not in READOUTS:
            raise InvalidGraph(f"unknown readout {self.readout!r}; use one of {READOUTS}", code="GRF005", node=name)
        return inputs[0]


FLOAT_OPS: tuple[type[Op], ...] = (
    Input,
    Dense,
    Conv2d,
    AvgPool2d,
    SumPool2d,
    MaxPool2d,
    Flatten,
    BatchNorm,
    LIF,
    CLIF,
    Output,
)
SYNAPSE_OPS_FLOAT: tuple[type[Op], ...] = (Dense, Conv2d)
