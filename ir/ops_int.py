"""Integer dialect: exactly what the reference simulator and the hardware execute.

Every field is an integer in the target's format (``GraphMeta.numerics``); the only
floats are ``scale`` fields, which say what one integer unit means in the float model
and are used by verification, never by execution.  Equations: ir/SPEC.md.
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
    check_weight_dims,
    conv2d_shape,
    expect_inputs,
    expect_neuron_inputs,
    pair,
    shape_mismatch,
)

InputEncoding = Literal["graded", "bitplane", "events"]
ENCODINGS: tuple[str, ...] = ("graded", "bitplane", "events")


@dataclass(frozen=True, kw_only=True)
class IntInput(Op):
    """Integer input presented at every step of a sample.

    Values are integers of ``bits`` bits (two's complement if ``signed``).
    encoding "graded": one graded message per input per step (Lava num_message_bits > 0).
    encoding "bitplane": bit b of each value is sent as a binary spike on its own axon,
    through a copy of the next synapse with weight exponent weight_exp + b.
    encoding "events" (Xylo): x events on the input channel in that step, each adding the weight.
    ``scale`` is the float value of one input unit.
    """

    OP = "int_input"
    bits: int
    signed: bool = False
    encoding: InputEncoding = "graded"
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs, 0)
        if self.encoding not in ENCODINGS:
            raise InvalidGraph(f"unknown input encoding {self.encoding!r}", code="GRF005", node=name)
        if self.encoding in ("bitplane", "events") and self.signed:
            raise InvalidGraph(f"{self.encoding} input encodes unsigned values only", code="GRF005", node=name)
        return self.shape


@dataclass(frozen=True, kw_only=True)
class IntDense(Op):
    """a = floor(W_eff @ x * 2**weight_exp), x flattened in C order.  weight (out, in) int32.

    W_eff is Lava's weight pipeline applied to ``weight`` (SPEC.md §weights); the
    quantizer emits weights that the pipeline leaves unchanged.
    """

    OP = "int_dense"
    IS_SYNAPSE = True
    weight: Const
    weight_exp: int = 0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        n_in = int(np.prod(inputs[0]))
        check_weight_dims(name, self, 2)
        out, w_in = self.weight.shape
        if w_in != n_in:
            raise shape_mismatch(name, self, (w_in,), inputs[0])
        return (out,)


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


@dataclass(frozen=True, kw_only=True)
class IntLIF(Op):
    """Lava/Loihi fixed-point CUBA LIF, extended as SPEC.md §IntLIF says.

    Per step:  u = wrap(trunc(u*(2**12 - du - 1) / 2**12) + a*2**6)
               v = sat(trunc(v*(2**12 - dv) / 2**12) + u + bias) ; v = max(v, v_floor) if set
               s = v > vth*2**6 (never if not spiking)
               v = 0 where s (reset "zero") | v - vth*2**6 where s (reset "subtract")
    bias = bias_mant * 2**bias_exp (per neuron).  State (u = u_init or 0, v = v_init) at every sample start.
    ``scale`` is the float value of one LSB of v.
    """

    OP = "int_lif"
    IS_NEURON = True
    du: int
    dv: int
    vth: int
    bias_mant: Const  # int32, shape == self.shape
    bias_exp: Const  # int32, shape == self.shape
    v_init: Const  # int32, shape == self.shape
    u_init: Const | None = None  # int32, shape == self.shape; None = 0 (canonicalize.py: synapse biases)
    reset: Literal["zero", "subtract"] = "zero"
    v_floor: int | None = None
    spiking: bool = True
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_neuron_inputs(name, self, inputs)
        for field in ("bias_mant", "bias_exp", "v_init", "u_init"):
            if getattr(self, field) is not None and getattr(self, field).shape != self.shape:
                raise InvalidGraph(
                    f"{field} has shape {getattr(self, field).shape}, expected the layer shape {self.shape}",
                    code="GRF004",
                    node=name,
                )
        return self.shape


@dataclass(frozen=True, kw_only=True)
class IntCLIF(IntLIF):
    """Integer complementary LIF with look-up tables (SPEC.md §int_clif).

    After the int_lif sub-threshold step gives v and s (reset "subtract"):
        m = (m·lut_h[idx_h(v)]) >> m_frac_bits  +  s·2^m_frac_bits
        v = v − s·(vth·2^6 + lut_m[idx_m(m)])
    idx_h(v) = clip(v >> h_shift, −R, R − 1) + R with R = len(lut_h)/2;
    idx_m(m) = clip(m >> m_shift, 0, len(lut_m) − 1).  m = 0 at every sample start.
    """

    OP = "int_clif"
    m_frac_bits: int
    h_shift: int
    lut_h: Const  # int32: sigmoid(h/m_tau)·2^m_frac_bits at the centre of each bin of v
    m_shift: int
    lut_m: Const  # int32: sigmoid(m) in v LSB at the centre of each bin of m

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        if self.reset != "subtract" or self.v_floor is not None or not self.spiking:
            raise InvalidGraph(
                "an int_clif layer spikes, resets by subtraction and has no floor", code="GRF026", node=name
            )
        if len(self.lut_h.shape) != 1 or self.lut_h.shape[0] % 2 or len(self.lut_m.shape) != 1:
            raise InvalidGraph("lut_h needs an even length and both tables one axis", code="GRF026", node=name)
        if min(self.h_shift, self.m_shift, self.m_frac_bits) < 0:
            raise InvalidGraph("shifts and fraction bits must be non-negative", code="GRF026", node=name)
        return super().infer_shape(inputs, name)


@dataclass(frozen=True, kw_only=True)
class IntXyloLIF(Op):
    """SynSense Xylo's integer LIF with bit-shift decays (SPEC.md §6, numerics family "xylo").

    Per step, after this step's synaptic events were added to i with int16 saturation:
        i = i − decay(i, dash_syn);  v = sat16(v + sat16(sat16(−decay(v, dash_mem) + i) + bias))
        n = min(max_spikes, ⌊v / vth⌋ if v ≥ vth else 0);  v = v − n·vth
    decay(x, d) = x >> d, or sign(x) where that is 0.  n is the number of spikes this step.
    ``scale`` is the float value of one LSB of v.
    """

    OP = "int_xylo_lif"
    IS_NEURON = True
    dash_syn: int
    dash_mem: int
    vth: int
    bias: Const  # int, shape == self.shape
    max_spikes: int = 31  # 31 for hidden neurons, 1 for output neurons
    spiking: bool = True
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_neuron_inputs(name, self, inputs)
        if self.bias.shape != self.shape:
            raise InvalidGraph(
                f"bias has shape {self.bias.shape}, expected the layer shape {self.shape}", code="GRF004", node=name
            )
        return self.shape


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


INT_OPS: tuple[type[Op], ...] = (IntInput, IntDense, IntConv2d, IntLIF, IntCLIF, IntXyloLIF, IntPartialSum)
SYNAPSE_OPS_INT: tuple[type[Op], ...] = (IntDense, IntConv2d)
