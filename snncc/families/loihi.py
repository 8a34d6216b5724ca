"""The Loihi family: Lava's fixed-point LIF on a mesh of cores (loihi, loihi2, nahuku32, toy)."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from snncc.ir import Graph, Numerics
from snncc.target import Target

from .family import Family

if TYPE_CHECKING:
    import numpy as np

    from snncc.mapping.drc import Rule
    from snncc.mapping.placement import Placement
    from snncc.passes.quantize import Calibration, QuantizationReport, Quantize


class Loihi(Family):
    name: ClassVar[str] = "loihi"
    trainable: ClassVar[bool] = True  # snncc/finetune/grid.py: weight mantissas with exponents, 12-bit decays
    lava_differences: ClassVar[bool] = True

    def quantize(
        self, graph: Graph, options: Quantize, calibration: Calibration | None
    ) -> tuple[Graph, QuantizationReport]:
        from snncc.passes.quantize import quantize_loihi

        return quantize_loihi(graph, options, calibration)

    def place(self, graph: Graph, target: Target, firing_rates: dict[str, np.ndarray] | None) -> Placement:
        from snncc.mapping.partition import place_on_mesh

        return place_on_mesh(graph, target, firing_rates)

    def design_rules(self) -> tuple[Rule, ...]:
        from snncc.mapping.drc import RULES

        return RULES

    def models_loihi1(self, n: Numerics) -> bool:
        # Loihi 1 wraps q0 = a·2^6 at 21 bits + sign: a 16-bit accumulator that wraps
        return (n.accumulator_bits, n.accumulator_overflow) == (16, "wrap")
