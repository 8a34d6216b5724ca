"""The Xylo family: SynSense Xylo's bit-shift LIF on one core of fixed neuron pools (targets/xylo.yaml)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from snncc.errors import Diagnostic
from snncc.ir import Graph, Numerics
from snncc.target import Sourced, Target

from .family import Family

if TYPE_CHECKING:
    import numpy as np

    from snncc.mapping.drc import Rule
    from snncc.mapping.placement import Placement
    from snncc.passes.quantize import Calibration, QuantizationReport, Quantize


@dataclass(frozen=True)
class XyloPools:
    """A Xylo SNN core: fixed pools of input channels, hidden and output neurons, and per-step event caps."""

    input_channels: Sourced
    hidden_neurons: Sourced
    output_neurons: Sourced
    max_input_events: Sourced  # events one input channel delivers per step
    max_hidden_spikes: Sourced  # spikes a hidden neuron emits per step
    max_output_spikes: Sourced


# Xylo's only exact snntorch form: a current decay Xylo has, no leak-made initial potential
SNNTORCH_XYLO = (
    "snntorch.Synaptic(alpha=1 - 2**-k, beta=1.0) with the default reset_mechanism='subtract' "
    "(k = 1..15; nn.Linear layers, bias=False)"
)
NO_SPIKINGJELLY_XYLO = (
    "no spikingjelly neuron snncc imports reaches Xylo, whose neurons integrate a decaying synaptic "
    "current; train the model in snntorch as " + SNNTORCH_XYLO + ", or deploy on loihi or loihi2"
)


def is_xylo(n: Numerics) -> bool:
    """Whether numerics ``n`` are the xylo family's: a Xylo core runs no other."""
    return n.family == Xylo.name


class Xylo(Family):
    name: ClassVar[str] = "xylo"
    section: ClassVar[str | None] = "xylo"
    section_type: ClassVar[type | None] = XyloPools
    section_what: ClassVar[str] = "the neuron pools"
    # the dense matrices are hidden x hidden, so 65,536 already means 4 GiB; spikes per step are the
    # IR's 5-bit counters (ir/stages.py checks max_spikes within 1..31)
    section_ranges: ClassVar[dict[str, tuple[int, int]]] = {
        "input_channels": (1, 1 << 16),
        "hidden_neurons": (1, 1 << 16),
        "output_neurons": (1, 1 << 16),
        "max_input_events": (1, 1 << 16),
        "max_hidden_spikes": (1, 31),
        "max_output_spikes": (1, 31),
    }
    snntorch_form: ClassVar[str | None] = SNNTORCH_XYLO
    spikingjelly_refusal: ClassVar[str | None] = NO_SPIKINGJELLY_XYLO

    def quantize(
        self, graph: Graph, options: Quantize, calibration: Calibration | None
    ) -> tuple[Graph, QuantizationReport]:
        from snncc.passes.quantize_xylo import quantize_xylo

        return quantize_xylo(graph, options, calibration)

    def place(self, graph: Graph, target: Target, firing_rates: dict[str, np.ndarray] | None) -> Placement:
        from snncc.mapping.xylo import place_xylo  # fixed neuron pools on one core, not a mesh of cores

        return place_xylo(graph, target)

    def design_rules(self) -> tuple[Rule, ...]:
        from snncc.mapping.drc import input_encoding_supported, limits_are_confirmed
        from snncc.mapping.xylo import core_fits

        return (input_encoding_supported, core_fits, limits_are_confirmed)

    def capacity_problems(self, graph: Graph, target: Target) -> list[Diagnostic]:
        from snncc.mapping.xylo import pool_problems

        return pool_problems(graph, target.family_part)
