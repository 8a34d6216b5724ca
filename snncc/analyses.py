"""Analysis results that have no type of their own, so that the pass context can look each one up by
its type (snncc.pipeline.Context.get): the other results are their modules' own classes
(Calibration, QuantizationReport, Placement, Comparison, EnergyReport)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from snncc.ir import Graph


@dataclass(frozen=True)
class Approximated:
    """Per accepted approximation, the layers it changed (the approximate passes)."""

    changed: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class QuantizedFrom:
    """The CANONICAL graph quantize took (what report and export show as the float network)."""

    graph: Graph


@dataclass(frozen=True)
class ApproximationCosts:
    """Approximation name -> what it costs the float model (snncc.approximation_cost.measure)."""

    costs: dict[str, Any]


@dataclass(frozen=True)
class OracleRun:
    """The bit-exact backend's run against refsim (snncc.verify.lava_check's dict)."""

    result: dict[str, Any]
