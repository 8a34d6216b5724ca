"""Time per step and per sample on the target, from the mapping and the deployed run's event counts.

Loihi steps are barrier-synchronized: within a step every core works through its own synaptic ops and
neuron updates serially, in parallel with the other cores; spike messages cross the mesh (a few ns per
hop) and, between chips, a serial link per chip; then all cores synchronize.  So

    step = max(busiest core, busiest chip-to-chip link) + longest mesh route + barrier

- a core's work per step = its synaptic ops × synop_ns + active updates × active_ns + idle × idle_ns.
  Updates per core are exact (its neurons × steps); a layer's synaptic ops and active updates are shared
  among its pieces in proportion to their neurons (the deployed run counts them per layer);
- a chip's link time per step = the spike messages leaving it for other chips × chip_message_ns, a
  layer's inter-chip messages shared among its pieces likewise;
- the longest route = the largest Manhattan distance between two used cores of a chip × hop_ns.

The step is flagged "chip-to-chip bound" when the busiest link takes longer than the busiest core.
A sample takes T steps of throughput (samples stream back to back) and T + depth steps of latency
(the last layer sees a sample's step t at t + depth, one step per connection).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from snncc.energy import EnergyReport
from snncc.ir import Graph
from snncc.mapping.placement import Placement
from snncc.target import Target


@dataclass(frozen=True)
class LatencyReport:
    step_ns: float
    busiest_core_ns: float
    busiest_core: int
    chip_link_ns: float
    mesh_ns: float
    barrier_ns: float
    bound: str  # "cores" or "chip-to-chip"
    steps: int
    depth: int
    coefficients: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        sample_ns = self.steps * self.step_ns
        return {
            "step_us": self.step_ns / 1e3,
            "sample_us": sample_ns / 1e3,
            "sample_latency_us": (self.steps + self.depth) * self.step_ns / 1e3,
            "samples_per_s": 1e9 / sample_ns if sample_ns else None,
            "bound": self.bound,
            "chip_to_chip_bound": self.bound == "chip-to-chip",
            "per_step_ns": {
                "busiest_core": self.busiest_core_ns,
                "busiest_core_index": self.busiest_core,
                "busiest_chip_link": self.chip_link_ns,
                "mesh_route": self.mesh_ns,
                "barrier": self.barrier_ns,
            },
            "coefficients": self.coefficients,
        }


def estimate(
    graph: Graph, placement: Placement, energy: EnergyReport, target: Target, depth: int
) -> LatencyReport | None:
    """None when the target gives no timing coefficients."""
    t = target.timing
    if t is None:
        return None
    steps = max(energy.steps, 1)
    core_ns: dict[int, float] = defaultdict(float)
    link_ns: dict[int, float] = defaultdict(float)
    for core in placement.cores:
        for piece in core.pieces:
            layer = energy.per_layer[piece.layer]
            share = piece.neurons / max(layer.neuron_updates / steps, 1)
            active = layer.active_updates * share / steps
            updates = piece.neurons  # every neuron is updated every step
            core_ns[core.index] += (
                layer.synops * share / steps * t.synop_ns.value
                + active * t.neuron_update_active_ns.value
                + max(updates - active, 0.0) * t.neuron_update_idle_ns.value
            )
            link_ns[core.chip] += layer.messages_between_chips * share / steps * t.chip_message_ns.value
    busiest = max(core_ns, key=core_ns.get)
    link = max(link_ns.values(), default=0.0)
    mesh = _longest_route(placement) * t.hop_ns.value
    step = max(core_ns[busiest], link) + mesh + t.barrier_ns.value
    coefficients = {
        name: {"value": c.value, "source": c.source, "confidence": c.confidence} for name, c in vars(t).items()
    }
    return LatencyReport(
        step_ns=step,
        busiest_core_ns=core_ns[busiest],
        busiest_core=busiest,
        chip_link_ns=link,
        mesh_ns=mesh,
        barrier_ns=t.barrier_ns.value,
        bound="chip-to-chip" if link > core_ns[busiest] else "cores",
        steps=steps,
        depth=depth,
        coefficients=coefficients,
    )


def for_result(result) -> LatencyReport | None:
    """The estimate for a CompileResult: its integer graph, placement, energy counts and target."""
    from snncc.ir.depths import layer_depths

    depth = max((longest for _, longest in layer_depths(result.int_graph).values()), default=0)
    return estimate(result.int_graph, result.placement, result.energy, result.target, depth)


def _longest_route(placement: Placement) -> int:
    by_chip: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for core in placement.cores:
        by_chip[core.chip].append(core.position)
    longest = 0
    for positions in by_chip.values():
        cols = [c for c, _ in positions]
        rows = [r for _, r in positions]
        longest = max(longest, max(cols) - min(cols) + max(rows) - min(rows))
    return longest
