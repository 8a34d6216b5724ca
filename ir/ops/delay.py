"""A per-element delay line: float and integer forms (SPEC.md §delay, §int_delay).

In aligned time y_t = x_{t − d} per element (zeros before the sample's first step): NIR's ``Delay``
(y(t) = x(t − τ)) on the float side, and on a Loihi chip the axon delay of the synapses it feeds
(every synapse from delayed element i waits d_i steps; Lava's DelayDense, whose delay d arrives at
t + 1 + d, the one step of the connection plus d).  A delay moves values and computes nothing, so
one step function serves both dialects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from array_api_compat import array_namespace

from snncc.errors import InvalidGraph

from ..const import Const
from ..op import Op, Shape, expect_inputs


@dataclass(frozen=True, kw_only=True)
class DelayLine(Op):
    """Shared fields of the delay ops (not an op itself): ``delay``, whole steps, one per element
    (shape) or one for all (a single value)."""

    HAS_STATE = True
    delay: Const

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        if int(np.prod(inputs[0])) != int(np.prod(self.shape)):
            raise InvalidGraph(
                f"{self.OP} of shape {self.shape} reads an input of shape {inputs[0]}", code="GRF004", node=name
            )
        check_delays(self, name)
        return self.shape


@dataclass(frozen=True, kw_only=True)
class Delay(DelayLine):
    """y_t = x_{t − delay} per element, zeros before the sample's start (NIR's Delay)."""

    OP = "delay"


@dataclass(frozen=True, kw_only=True)
class IntDelay(DelayLine):
    """The chip's axon delay: the synapse ops that read it receive element i's value d_i steps late.
    Reads one input or neuron layer and feeds synapse ops only (ir/stages.py)."""

    OP = "int_delay"


def check_delays(op: DelayLine, name: str) -> None:
    """Whole, non-negative steps, one per element or one for all (the integer stage bounds them by the
    target's numerics.max_delay: Loihi's 6-bit delay field, 0..63)."""
    d = op.delay.array
    size = int(np.prod(op.shape))
    if d.size not in (1, size):
        raise InvalidGraph(f"{op.OP} has {d.size} delays for {size} elements", code="GRF004", node=name)
    if not (np.issubdtype(d.dtype, np.integer) or np.array_equal(d, np.round(d))):
        raise InvalidGraph(f"{op.OP} has delays that are not whole steps", code="GRF051", node=name)
    if d.min() < 0:
        raise InvalidGraph(f"{op.OP} has a negative delay ({d.min()})", code="GRF053", node=name)


def delays(op: DelayLine) -> np.ndarray:
    """Each element's delay in steps, flat (C order)."""
    d = op.delay.array.astype(np.int64).reshape(-1)
    return np.broadcast_to(d, (int(np.prod(op.shape)),)) if d.size == 1 else d


# numerics


class DelayState(NamedTuple):
    """The last max(delay) + 1 inputs of a batch, a ring (max + 1, B, n), and the step count."""

    ring: Any
    t: int


def delay_step(op: DelayLine, line: DelayState | None, x: Any) -> tuple[Any, DelayState]:
    """One step of SPEC.md §delay on a batch x (B, *shape), numpy or torch: (y, line).  ``line`` is None
    at the start of a run (every sample starts at once, from silence)."""
    xp = array_namespace(x)
    flat = xp.reshape(x, (x.shape[0], -1))
    d = delays(op)
    if line is None:
        line = DelayState(xp.zeros((int(d.max(initial=0)) + 1, *flat.shape), dtype=flat.dtype), 0)
    span = line.ring.shape[0]
    line.ring[line.t % span] = flat
    rows = xp.asarray((line.t - d) % span)
    cols = xp.asarray(np.arange(d.size))
    if hasattr(x, "device") and not isinstance(x, np.ndarray):  # torch: indices on x's device
        rows, cols = rows.to(x.device), cols.to(x.device)
    y = line.ring[rows, :, cols].T  # (B, n): element i read d_i steps back
    # before step d_i nothing has arrived: the ring's zeros (never written yet) are read, as required
    return xp.reshape(y, x.shape), DelayState(line.ring, line.t + 1)
