"""The leaky integrate-and-fire neuron: float and Loihi integer forms (SPEC.md §lif, §int_lif)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
from array_api_compat import array_namespace

from snncc.errors import InvalidGraph

from ..arith import decayed, saturate_v, wrap_int32, wrap_u
from ..const import Const
from ..numerics import Numerics
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


# numerics


class LIFState(NamedTuple):
    """A float neuron layer's state, (B, *shape) each."""

    i: np.ndarray  # current
    v: np.ndarray  # potential after reset
    m: np.ndarray | None = None  # CLIF's complementary state


def lif_initial_state(op: LIF, batch: int) -> LIFState:
    """i = i_init, v = v_init (0 when unset), at the start of every sample."""
    shape = (batch, *op.shape)
    v_init = 0.0 if op.v_init is None else op.v_init.array.astype(np.float64)
    i_init = 0.0 if op.i_init is None else op.i_init.array.astype(np.float64)
    return LIFState(np.broadcast_to(i_init, shape).copy(), np.broadcast_to(v_init, shape).copy())


def lif_integrate(op: LIF, state: LIFState, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SPEC.md §lif up to the spike: (i, h, s) from the summed synaptic input x (B, *shape)."""
    i = op.alpha * state.i + op.gain * x
    h = op.beta * state.v + i
    if op.bias is not None:
        h = h + op.bias.array
    if op.v_floor is not None:
        h = np.maximum(h, op.v_floor)
    s = (h >= op.threshold if op.fire == ">=" else h > op.threshold) if op.spiking else np.zeros(h.shape, dtype=bool)
    return i, h, s


def lif_step(op: LIF, state: LIFState, x: np.ndarray) -> tuple[np.ndarray, LIFState]:
    """One step of SPEC.md §lif; x is the summed synaptic input (B, *shape).  Returns (spikes bool, state)."""
    i, h, s = lif_integrate(op, state, x)
    v = np.where(s, op.v_reset if op.reset == "zero" else h - op.threshold, h)
    return s, LIFState(i, v)


class IntLIFState(NamedTuple):
    """An integer neuron layer's state: int64 arrays holding Lava's int32 values, (B, *shape)."""

    u: np.ndarray
    v: np.ndarray
    m: np.ndarray | None = None  # int_clif's complementary state (m_frac_bits fraction bits)


class StepEvents(NamedTuple):
    """Per neuron-step flags of what happened (for the overflow counters)."""

    u_wrapped: np.ndarray
    v_saturated: np.ndarray
    int32_wrapped: np.ndarray
    active: np.ndarray  # nonzero input, u or v before the update


def int_lif_initial_state(op: IntLIF, batch: int) -> IntLIFState:
    shape = (batch, *op.shape)
    v = np.broadcast_to(op.v_init.array.astype(np.int64), shape).copy()
    u_init = 0 if op.u_init is None else op.u_init.array.astype(np.int64)
    return IntLIFState(np.broadcast_to(u_init, shape).copy(), v)


def effective_bias(op: IntLIF) -> np.ndarray:
    """bias_mant·2^bias_exp; arithmetic shift for negative exponents, int32 like Lava."""
    mant = op.bias_mant.array.astype(np.int64)
    exp = op.bias_exp.array.astype(np.int64)
    return wrap_int32(np.where(exp >= 0, mant << np.maximum(exp, 0), mant >> np.maximum(-exp, 0)))


def int_lif_integrate(
    a: np.ndarray, state: IntLIFState, op: IntLIF, bias: np.ndarray, n: Numerics
) -> tuple[np.ndarray, np.ndarray, np.ndarray, StepEvents]:
    """SPEC.md §int_lif up to the spike, with Lava's int32 storage and wraps (lava/proc/lif/models.py).

    ``a`` is the int32 sum of this step's synaptic inputs.  Returns (u, v before the reset, spikes
    bool, events).  numpy or torch arrays (SPEC.md's equations in array-API form; see ir/arith.py).
    """
    xp = array_namespace(a)
    unity = n.decay_unity
    act = a << n.act_shift
    act_wrapped = wrap_int32(act)
    u_sum = decayed(state.u, unity - (op.du + n.du_offset), n.decay_bits) + act_wrapped
    u_sum_wrapped = wrap_int32(u_sum)
    u, u_wrapped = wrap_u(u_sum_wrapped, n)
    v_sum = decayed(state.v, unity - op.dv, n.decay_bits) + u + bias
    v_sum_wrapped = wrap_int32(v_sum)
    v, v_saturated = saturate_v(v_sum_wrapped, n)
    if op.v_floor is not None:
        v = xp.clip(v, op.v_floor, None)
    spikes = v > op.vth << n.vth_shift if op.spiking else xp.zeros_like(v, dtype=xp.bool)
    events = StepEvents(
        u_wrapped=u_wrapped,
        v_saturated=v_saturated,
        int32_wrapped=(act != act_wrapped) | (u_sum != u_sum_wrapped) | (v_sum != v_sum_wrapped),
        active=(a != 0) | (state.u != 0) | (state.v != 0),
    )
    return u, v, spikes, events


def int_lif_step(
    a: np.ndarray, state: IntLIFState, op: IntLIF, bias: np.ndarray, n: Numerics
) -> tuple[np.ndarray, IntLIFState, StepEvents]:
    """One step of SPEC.md §int_lif.  Returns (spikes bool, state, events)."""
    xp = array_namespace(a)
    u, v, spikes, events = int_lif_integrate(a, state, op, bias, n)
    after_spike = 0 if op.reset == "zero" else v - (op.vth << n.vth_shift)
    return spikes, IntLIFState(u, xp.where(spikes, after_spike, v)), events
