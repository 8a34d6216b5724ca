"""What a compile produces: the placed integer network (Deployment) and, verified, the CompileResult."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from snncc.data import CalibrationSplit, Dataset
from snncc.errors import Diagnostic
from snncc.ir import Graph
from snncc.passes.quantize import QuantizationReport
from snncc.target import Target
from snncc.verify import MAX_ACCURACY_DROP_PP, Comparison, verdict


@dataclass(frozen=True)
class CompileResult:
    model_path: Path
    target: Target
    dataset: Dataset
    float_graph: Graph  # the imported model (FLOAT stage; a netx file's INTEGER one) verified against
    int_graph: Graph
    quantization: QuantizationReport
    placement: Any  # snncc.mapping Placement
    comparison: Comparison
    energy: Any  # snncc.energy EnergyReport
    lava: dict[str, Any] | None
    diagnostics: tuple[Diagnostic, ...]
    approximations: dict[str, list[str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    calibration: CalibrationSplit | None = None  # which samples set the scales (None: not recorded)

    @property
    def verification_passed(self) -> bool:
        return self.verdict[0]

    @property
    def verdict(self) -> tuple[bool, list[str]]:
        """(passed, why it failed): snncc.verify.verdict on this compile's verification and Lava run."""
        return verdict(self.comparison.verification, self.min_agreement, self.lava, self.max_accuracy_drop)

    min_agreement: float = 0.95
    max_accuracy_drop: float = MAX_ACCURACY_DROP_PP  # percentage points below float accuracy a PASS allows
    approximation_costs: dict[str, Any] = field(default_factory=dict)  # snncc.approximation_cost.measure
    neurobench: dict[str, Any] | None = None  # NeuroBench's metrics of both models (snncc.neurobench.report)

    def summary(self) -> str:
        """A few lines: verdict, accuracy, energy, cores (snncc.report.summary_text)."""
        from snncc.report import summary_text

        return summary_text(self)

    def _repr_markdown_(self) -> str:  # Jupyter shows this: the verdict and report.md's summary table
        from snncc.report import summary_markdown

        return summary_markdown(self)


@dataclass(frozen=True)
class Deployment:
    """What the front half of the pipeline produces: the integer network placed on the target."""

    model_path: Path
    target: Target
    dataset: Dataset  # the samples to score: none of them was used for calibration unless calibration.overlaps
    calibration: CalibrationSplit | None  # None: nothing was calibrated (a netx network arrives integer)
    input_name: str
    model_graph: Graph  # the imported model (FLOAT stage; a netx file's INTEGER one): verified against
    float_graph: Graph | None  # CANONICAL stage, after any approximations; None for a netx network
    int_graph: Graph
    quantization: QuantizationReport
    placement: Any  # snncc.mapping Placement
    diagnostics: tuple[Diagnostic, ...]
    approximations: dict[str, list[str]]  # name -> layers it changed
