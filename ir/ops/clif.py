"""The complementary LIF neuron: float and integer forms (SPEC.md §clif, §int_clif)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from array_api_compat import array_namespace

from snncc.errors import InvalidGraph

from ..const import Const
from ..numerics import Numerics
from ..op import Shape
from .lif import (
    LIF,
    IntLIF,
    IntLIFState,
    LIFState,
    StepEvents,
    int_lif_initial_state,
    int_lif_integrate,
    lif_initial_state,
    lif_integrate,
)


@dataclass(frozen=True, kw_only=True)
class CLIF(LIF):
    """Complementary LIF (SPEC.md §clif): an lif with soft reset plus a second state m.

    After h and s of the lif step:  m = m·sigmoid(h/m_tau) + s ;  v = h − s·(threshold + sigmoid(m)).
    m = 0 at the start of every sample.  Requires reset "subtract", fire ">=", alpha 0, no floor.
    """

    OP = "clif"
    m_tau: float = 2.0

    def neuron_features(self) -> frozenset[str]:
        return (super().neuron_features() - {"reset_subtract"}) | {"clif"}  # its soft reset is part of the clif

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        if self.reset != "subtract" or self.fire != ">=" or self.alpha != 0.0 or self.v_floor is not None:
            raise InvalidGraph(
                "a CLIF layer has reset 'subtract', fire '>=', alpha 0 and no floor", code="GRF026", node=name
            )
        if not self.m_tau > 0:
            raise InvalidGraph(f"m_tau must be positive, got {self.m_tau}", code="GRF026", node=name)
        return super().infer_shape(inputs, name)


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

    def neuron_features(self) -> frozenset[str]:
        return super().neuron_features() | {"clif"}

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


# numerics


def clif_initial_state(op: CLIF, batch: int) -> LIFState:
    """An lif's state with m = 0 (at the start of every sample)."""
    return lif_initial_state(op, batch)._replace(m=np.zeros((batch, *op.shape)))


def clif_step(op: CLIF, state: LIFState, x: np.ndarray) -> tuple[np.ndarray, LIFState]:
    """SPEC.md §clif: the lif step up to the spike, then m from this step's h and s and the complementary reset."""
    i, h, s = lif_integrate(op, state, x)
    m = state.m * _sigmoid(h / op.m_tau) + s
    return s, LIFState(i, h - s * (op.threshold + _sigmoid(m)), m)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1/(1 + e^-x) without overflow warnings


def int_clif_initial_state(op: IntCLIF, batch: int) -> IntLIFState:
    return int_lif_initial_state(op, batch)._replace(m=np.zeros((batch, *op.shape), dtype=np.int64))


def int_clif_step(
    a: np.ndarray, state: IntLIFState, op: IntCLIF, bias: np.ndarray, n: Numerics
) -> tuple[np.ndarray, IntLIFState, StepEvents]:
    """SPEC.md §int_clif: the int_lif step up to the spike, then m and the complementary reset."""
    xp = array_namespace(a)
    u, v, spikes, events = int_lif_integrate(a, state, op, bias, n)
    m = clif_m(state.m, v, spikes, op)
    v = xp.where(spikes, v - (op.vth << n.vth_shift) - clif_extra_reset(m, op), v)
    return spikes, IntLIFState(u, v, m), events


def clif_m(m: np.ndarray, v: np.ndarray, spikes: np.ndarray, op: IntCLIF) -> np.ndarray:
    """m = (m·lut_h[idx_h(v)]) >> F + s·2^F (SPEC.md §int_clif)."""
    xp = array_namespace(v)
    lut_h = _on(op.lut_h.array, v)
    half = lut_h.shape[0] // 2
    idx = xp.clip(v >> op.h_shift, -half, half - 1) + half
    return ((m * lut_h[idx]) >> op.m_frac_bits) + (xp.astype(spikes, xp.int64) << op.m_frac_bits)


def clif_extra_reset(m: np.ndarray, op: IntCLIF) -> np.ndarray:
    """sigmoid(m) in v LSB, from lut_m."""
    xp = array_namespace(m)
    lut_m = _on(op.lut_m.array, m)
    return lut_m[xp.clip(m >> op.m_shift, 0, lut_m.shape[0] - 1)]


def _on(table: np.ndarray, like) -> np.ndarray:
    """A look-up table as int64 in the array library (and on the device) of ``like``."""
    xp = array_namespace(like)
    return xp.asarray(table.astype(np.int64), device=getattr(like, "device", None))
