"""Chip descriptions as validated, frozen data (targets/*.yaml).

Every number carries its source and a confidence mark.  Limits are read only from here:
never from defaults scattered in passes.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from snncc.ir import Numerics

Confidence = Literal["confirmed", "secondary", "uncertain"]  # ✅ / 🟡 / ❓ in the docs


@dataclass(frozen=True)
class Sourced:
    """A number with where it comes from."""

    value: float
    source: str
    confidence: Confidence = "confirmed"

    def __int__(self) -> int:
        return int(self.value)


@dataclass(frozen=True)
class CoreLimits:
    neurons: Sourced  # compartments per core
    fan_in_axons: Sourced  # input axon slots per core
    fan_out_axons: Sourced  # output axons per core
    synapse_memory_bits: Sourced  # synaptic memory per core


@dataclass(frozen=True)
class EnergyModel:
    """Per-event energies (pJ); the report multiplies event counts by these."""

    synop_pj: Sourced  # one synaptic operation (a spike delivered through one synapse)
    neuron_update_active_pj: Sourced  # one neuron update with input or nonzero state
    neuron_update_idle_pj: Sourced  # one neuron update without
    spike_in_core_pj: Sourced  # a spike delivered to a core on the same chip... within the tile
    hop_pj: Sourced  # one mesh hop of a spike message between cores
    chip_hop_pj: Sourced  # a spike crossing between chips
    static_w: Sourced | None = None  # static power per chip, W (reported, not added)


@dataclass(frozen=True)
class TimingModel:
    """Per-event times (ns) for the step-time estimate (snncc/latency.py); every value sourced."""

    synop_ns: Sourced  # one synaptic op, serial within a core
    neuron_update_active_ns: Sourced
    neuron_update_idle_ns: Sourced
    hop_ns: Sourced  # one mesh hop of a spike message
    barrier_ns: Sourced  # the end-of-step synchronization of all cores
    chip_message_ns: Sourced  # one spike message over a chip-to-chip link, serial per chip


@dataclass(frozen=True)
class Target:
    name: str  # what users type: --target loihi
    title: str
    path: Path  # the YAML file it came from
    numerics: Numerics
    backends: tuple[str, ...]  # backends that model this chip bit-exactly
    neuron_features: frozenset[str]  # e.g. {"reset_zero", "v_init"}: what the neuron hardware has
    input_encodings: tuple[str, ...]  # ("bitplane",) or ("graded", "bitplane"); first is the default
    cores_per_chip: Sourced
    chips: Sourced
    mesh: tuple[int, int]  # cores per chip as (columns, rows) for hop distances
    per_core: CoreLimits
    memory_model: str  # named synapse-memory cost model in snncc.mapping.cost
    energy: EnergyModel
    notes: str = ""
    timing: TimingModel | None = None  # optional: the report then gives time per step and per sample
    # what the section only its numerics family has says (snncc/families: Family.section), as the
    # family's plug-in builds it: XyloPools for xylo's neuron pools; None for a family without one
    family_part: Any = None
    # the sources of numerics.accumulator_bits and accumulator_overflow, as ("bits" | "overflow", Sourced)
    # pairs (Target stays hashable); read from the file's numerics entries
    accumulator: tuple[tuple[str, Sourced], ...] = ()

    @property
    def total_cores(self) -> int:
        return int(self.cores_per_chip) * int(self.chips)


def load_target(name_or_path: str | Path) -> Target:
    """Load and validate a target by name (targets/<name>.yaml) or by path."""
    from snncc.target_loader import load

    return load(name_or_path)
