"""The complementary LIF neuron: float and integer forms (SPEC.md §clif, §int_clif)."""

from __future__ import annotations

from dataclasses import dataclass

from snncc.errors import InvalidGraph

from ..const import Const
from ..op import Shape
from .lif import LIF, IntLIF


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
