"""Xylo's integer LIF with bit-shift decays (SPEC.md §int_xylo_lif)."""

from __future__ import annotations

from dataclasses import dataclass

from snncc.errors import InvalidGraph

from ..const import Const
from ..op import Op, Shape, expect_neuron_inputs


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
