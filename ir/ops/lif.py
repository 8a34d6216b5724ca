"""The leaky integrate-and-fire neuron: float and Loihi integer forms (SPEC.md §lif, §int_lif)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from snncc.errors import InvalidGraph

from ..const import Const
from ..op import Op, Shape, expect_neuron_inputs


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

    def neuron_features(self) -> frozenset[str]:
        """The chip neuron features (drc.NEURON_FEATURES) this layer needs to run unapproximated."""
        needs = {"reset_subtract"} if self.spiking and self.reset == "subtract" else set()
        if self.v_floor is not None:
            needs.add("v_floor")
        if any(c is not None and np.any(c.array != 0) for c in (self.v_init, self.i_init)):
            needs.add("v_init")
        return frozenset(needs)

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_neuron_inputs(name, self, inputs)
        return self.shape


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

    def neuron_features(self) -> frozenset[str]:
        """The features of a target's neuron circuit (Target.neuron_features) this layer uses."""
        needs = {"reset_zero" if self.reset == "zero" else "reset_subtract"}
        if self.v_floor is not None:
            needs.add("v_floor")
        if np.any(self.v_init.array != 0) or (self.u_init is not None and np.any(self.u_init.array != 0)):
            needs.add("v_init")  # an initial state per sample: potential, or current (u_init)
        return frozenset(needs)

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
