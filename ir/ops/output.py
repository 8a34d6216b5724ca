"""A graph output: the readout of one neuron layer (SPEC.md §output)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from snncc.errors import InvalidGraph

from ..op import Op, Shape, expect_inputs

Readout = Literal["spike_count", "v_last", "v_mean", "spike_steps", "v_steps"]
READOUTS: tuple[str, ...] = ("spike_count", "v_last", "v_mean", "spike_steps", "v_steps")
STEP_READOUTS: tuple[str, ...] = ("spike_steps", "v_steps")


@dataclass(frozen=True, kw_only=True)
class Output(Op):
    """A graph output: the readout of one neuron layer over the steps of a sample.

    spike_count: sum of spikes over steps; v_last: v after the last step;
    v_mean: mean of v over steps; spike_steps / v_steps: the spikes / v of every step,
    (steps, *shape) per sample.  The value is multiplied by ``scale``.
    """

    OP = "output"
    IS_OUTPUT = True
    readout: Readout = "spike_count"
    scale: float = 1.0

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        if self.readout not in READOUTS:
            raise InvalidGraph(f"unknown readout {self.readout!r}; use one of {READOUTS}", code="GRF005", node=name)
        return inputs[0]
