"""The test that one int_lif step cannot wrap, so that the fused step may leave the wraps out.

Lava holds the synaptic sum, u and v in int32 and wraps u at 24 bits (arith.py).  Given the
largest |input| of this step and the largest |u| of the step before, a few integer bounds show
whether any of those wraps can happen in this step; where none can, fused.py runs the step without
the wrap arithmetic (the same values, ~45 % fewer operations per neuron) and the wrap counters
stay zero.  The bounds are upper bounds of absolute values in Python integers (no overflow).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.ir import IntLIF, Numerics

INT32_LIMIT = 1 << 31


@dataclass(frozen=True)
class WrapFreeStep:
    """One layer's constants for the test; ``holds`` is the test."""

    act_shift: int
    keep_u: int  # u's decay factor, of 2^decay_bits
    decay_bits: int
    u_limit: int  # |u| below this: no ±2^24 correction (u's range is (−2^23, 2^23])
    v_room: int  # |u| below this: the v sum stays inside int32
    acc_limit: int  # |input| below this: inside the dendritic accumulator (Numerics.accumulator_bits)

    @classmethod
    def of(cls, op: IntLIF, n: Numerics, bias: np.ndarray) -> WrapFreeStep:
        v = v_bound(op, n)
        return cls(
            act_shift=n.act_shift,
            keep_u=abs(n.decay_unity - (op.du + n.du_offset)),
            decay_bits=n.decay_bits,
            u_limit=1 << (n.state_bits - 1),
            v_room=INT32_LIMIT - v - _max_abs(bias),
            acc_limit=1 << (n.accumulator_bits - 1),
        )

    def holds(self, input_max: int, u_max: int) -> bool:
        """Whether a step whose summed input is at most ``input_max`` in size, from a state whose |u|
        is at most ``u_max``, can wrap nothing: the input and a·2^act_shift stay in int32, the new
        u = trunc(u·keep / 2^bits) + a·2^act_shift inside u's 24-bit range, the v sum in int32, and the
        input inside the dendritic accumulator (no overflow to apply or count)."""
        act = input_max << self.act_shift
        u = ((u_max * self.keep_u) >> self.decay_bits) + act
        return act < INT32_LIMIT and u < self.u_limit and u < self.v_room and input_max < self.acc_limit


def v_bound(op: IntLIF, n: Numerics) -> int:
    """A bound of |v| between steps: v_init, or after a step: saturated to ±v_max, raised to v_floor,
    reset to 0 or v − threshold (the threshold added in case it were negative)."""
    return max(n.v_max, _max_abs(op.v_init.array), abs(op.v_floor or 0)) + abs(op.vth << n.vth_shift)


def _max_abs(array: np.ndarray) -> int:
    return int(np.abs(np.asarray(array, dtype=np.int64)).max(initial=0))
