"""What a numerics family supplies to the compiler; a plug-in (loihi.py, xylo.py) overrides what differs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from snncc.errors import Diagnostic
from snncc.ir import Graph, Numerics
from snncc.ir.families import NumericsFamily, numerics_family
from snncc.target import Sourced, Target

if TYPE_CHECKING:
    import numpy as np

    from snncc.mapping.drc import Rule
    from snncc.mapping.placement import Placement
    from snncc.passes.quantize import Calibration, QuantizationReport, Quantize


class Family:
    """One chip family's compiler side.  The passes and the mapper it names are imported when first
    called: they import this package (for the family of a target), so a top-level import would circle."""

    name: ClassVar[str]
    # its part of the target schema: the top-level section of the target file only this family's
    # targets have (targets/schema/target.schema.json), the frozen dataclass of sourced numbers it
    # becomes (Target.family_part), what it describes, and the ranges of its integers
    section: ClassVar[str | None] = None
    section_type: ClassVar[type | None] = None
    section_what: ClassVar[str] = ""
    section_ranges: ClassVar[dict[str, tuple[int, int]]] = {}
    trainable: ClassVar[bool] = False  # snncc finetune's training loop models its integer formats
    # fidelity: Lava's known differences from this family's silicon are counted in the report
    lava_differences: ClassVar[bool] = False
    # hints: the one snntorch form its neurons run exactly, and why no spikingjelly neuron does (None: no such limit)
    snntorch_form: ClassVar[str | None] = None
    spikingjelly_refusal: ClassVar[str | None] = None

    @property
    def numerics(self) -> NumericsFamily:
        """The IR's side of the family: weight range, input encoding, ops, accumulator (ir/families.py)."""
        return numerics_family(self.name)

    def target_part(self, section: dict[str, Any]) -> Any:
        """Target.family_part from the entries of the family's section (schema-valid sourced entries)."""
        assert self.section_type is not None, f"the {self.name} family has no target section"
        return self.section_type(**{k: Sourced(v["value"], v["source"], v["confidence"]) for k, v in section.items()})

    def quantize(
        self, graph: Graph, options: Quantize, calibration: Calibration | None
    ) -> tuple[Graph, QuantizationReport]:
        """CANONICAL -> INTEGER in the family's formats."""
        raise NotImplementedError

    def place(self, graph: Graph, target: Target, firing_rates: dict[str, np.ndarray] | None) -> Placement:
        """The placement of a graph that passed the design rules."""
        raise NotImplementedError

    def design_rules(self) -> tuple[Rule, ...]:
        """The checks run before placement, each a function (graph, target) -> diagnostics."""
        raise NotImplementedError

    def capacity_problems(self, graph: Graph, target: Target) -> list[Diagnostic]:
        """What the chip cannot hold, read from a graph at any stage: reported beside quantization's refusals."""
        return []

    def models_loihi1(self, n: Numerics) -> bool:
        """Whether numerics ``n`` are Loihi 1's, which nengo-loihi's emulator and the NIR paper's trace model."""
        return False
