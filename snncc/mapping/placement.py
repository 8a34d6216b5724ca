"""Placement: which boxes of which neuron layers sit on which core, and what each core uses.

A separate immutable artefact: the graph never carries core ids.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from .connectivity import Box, box_size


@dataclass(frozen=True)
class Piece:
    layer: str
    box: Box

    @property
    def neurons(self) -> int:
        return box_size(self.box)


@dataclass(frozen=True)
class CoreUsage:
    neurons: int
    synapse_bits: int
    fan_in_axons: int
    fan_out_axons: int

    def __add__(self, other: CoreUsage) -> CoreUsage:
        return CoreUsage(
            self.neurons + other.neurons,
            self.synapse_bits + other.synapse_bits,
            self.fan_in_axons + other.fan_in_axons,
            self.fan_out_axons + other.fan_out_axons,
        )


@dataclass(frozen=True)
class Core:
    index: int  # global core number
    chip: int
    position: tuple[int, int]  # (column, row) on the chip's mesh
    pieces: tuple[Piece, ...]
    usage: CoreUsage

    @property
    def layers(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.layer for p in self.pieces))


@dataclass(frozen=True)
class LayerSplit:
    """How one layer was cut: pieces of at most ``neurons_per_piece`` neurons, bounded by ``binding``."""

    layer: str
    pieces: int
    neurons_per_piece: int
    binding: str  # the per-core limit the largest piece comes closest to
    binding_use: float  # that piece's use of the limit (0..1)


@dataclass(frozen=True)
class Placement:
    target: str
    cores: tuple[Core, ...]
    lower_bound_cores: int
    traffic: tuple[tuple[str, Any], ...] = ()  # how the cores were arranged and the spike traffic it expects
    layers: tuple[LayerSplit, ...] = ()  # why each layer needs the cores it has
    lower_bound_binding: str = ""  # the per-core resource that gives the lower bound (mapping/bound.py)

    @property
    def cores_used(self) -> int:
        return len(self.cores)

    def pieces_of(self, layer: str) -> list[tuple[int, Piece]]:
        return [(c.index, p) for c in self.cores for p in c.pieces if p.layer == layer]

    def to_dict(self) -> dict[str, Any]:
        return {
            "target": self.target,
            "cores_used": self.cores_used,
            "lower_bound_cores": self.lower_bound_cores,
            "lower_bound_binding": self.lower_bound_binding,
            "ratio_to_lower_bound": round(self.cores_used / self.lower_bound_cores, 4)
            if self.lower_bound_cores
            else None,
            "traffic": dict(self.traffic),
            "layers": [dataclasses.asdict(split) for split in self.layers],
            "cores": [
                {
                    "core": c.index,
                    "chip": c.chip,
                    "position": list(c.position),
                    "layers": list(c.layers),
                    "pieces": [{"layer": p.layer, "box": [list(r) for r in p.box]} for p in c.pieces],
                    "neurons": c.usage.neurons,
                    "synapse_bits": c.usage.synapse_bits,
                    "fan_in_axons": c.usage.fan_in_axons,
                    "fan_out_axons": c.usage.fan_out_axons,
                }
                for c in self.cores
            ],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Placement:
        cores = tuple(
            Core(
                index=c["core"],
                chip=c["chip"],
                position=tuple(c["position"]),  # type: ignore[arg-type]
                pieces=tuple(Piece(p["layer"], tuple(tuple(r) for r in p["box"])) for p in c["pieces"]),  # type: ignore[misc]
                usage=CoreUsage(c["neurons"], c["synapse_bits"], c["fan_in_axons"], c["fan_out_axons"]),
            )
            for c in data["cores"]
        )
        traffic = tuple(data.get("traffic", {}).items())
        layers = tuple(LayerSplit(**split) for split in data.get("layers", []))
        return cls(
            target=data["target"],
            cores=cores,
            lower_bound_cores=data["lower_bound_cores"],
            lower_bound_binding=data.get("lower_bound_binding", ""),
            traffic=traffic,
            layers=layers,
        )
