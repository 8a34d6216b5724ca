"""Energy from event counts: synaptic ops, neuron updates and spike messages x per-event energies.

Definitions (per sample = totals over the simulated batch / batch size):
- synaptic op: one nonzero input event (a spike, a nonzero graded value, or a set bit of a
  bit-plane input) delivered through one synapse with a nonzero weight.  This is NeuroBench's
  "effective synaptic operation" for binary spikes; for graded input NeuroBench counts a MAC,
  here it is one op per nonzero value, as the chip processes one message per value.
- neuron update: every neuron is updated every step; "active" when its input, u or v is nonzero
  before the update (the rest are idle updates, which cost less on Loihi).
- spike message: a spike sent to one destination core; within the same core it costs
  spike_in_core_pj, to another core of the chip hop_pj per mesh hop (Manhattan distance), and
  to another chip chip_hop_pj.  Input from the host is counted as messages entering the chip.
- a split layer's partial sum (ir/SPEC.md §int_partial_sum) is counted as a layer: its synaptic ops,
  an update per neuron per step, and one message per nonzero graded payload; the join adds one
  synaptic op per payload.  The equivalent ANN has no op for either.
- the equivalent ANN's energy: one MAC per weight per inference x 4.6 pJ (32-bit float
  multiply 3.7 pJ + add 0.9 pJ, Horowitz ISSCC 2014, 45 nm), for comparison only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from snncc.backends import Trace
from snncc.ir import Graph
from snncc.mapping.connectivity import box_slices, neuron_layers, nonzero_fan_out, projections
from snncc.mapping.placement import Placement
from snncc.mapping.resources import destination_masks
from snncc.passes.align_depths import relays_of
from snncc.target import Sourced, Target

ANN_MAC_PJ = Sourced(4.6, "Horowitz ISSCC 2014 (45 nm): 32-bit float multiply 3.7 pJ + add 0.9 pJ", "secondary")


@dataclass(frozen=True)
class LayerEnergy:
    synops: float
    neuron_updates: float
    active_updates: float
    spikes: float
    messages_in_core: float
    messages_between_cores: float
    mesh_hops: float
    messages_between_chips: float
    ann_macs: float
    total_pj: float


@dataclass(frozen=True)
class EnergyReport:
    samples: int
    steps: int
    per_layer: dict[str, LayerEnergy]
    coefficients: dict[str, Sourced]
    host_messages: float

    def total(self, field: str) -> float:
        return float(sum(getattr(e, field) for e in self.per_layer.values()))

    def by_event(self) -> dict[str, dict[str, float]]:
        """Per sample, by event type (EVENT_TYPES): count, pJ each and pJ; the pJ add up to the total."""
        pj = {name: c.value for name, c in self.coefficients.items()}
        layers = self.per_layer.values()
        counts = [event_counts(e) for e in layers]
        energies = [event_energies(e, pj) for e in layers]
        return {
            event: {
                "count": float(sum(c[event] for c in counts)),
                "pj_each": pj[coefficient],
                "pj": float(sum(e[event] for e in energies)),
            }
            for event, (_, coefficient) in EVENT_TYPES.items()
        }

    def to_dict(self) -> dict[str, Any]:
        total_pj = self.total("total_pj")
        ann_pj = self.total("ann_macs") * ANN_MAC_PJ.value
        return {
            "per_sample": True,
            "samples": self.samples,
            "steps": self.steps,
            "synops": self.total("synops"),
            "neuron_updates": self.total("neuron_updates"),
            "active_neuron_updates": self.total("active_updates"),
            "spikes": self.total("spikes"),
            "spike_messages": {
                "within_core": self.total("messages_in_core"),
                "between_cores": self.total("messages_between_cores"),
                "mesh_hops": self.total("mesh_hops"),
                "between_chips": self.total("messages_between_chips"),
                "from_host": self.host_messages,
            },
            "total_pj": total_pj,
            "by_event": self.by_event(),
            "ann_equivalent": {"macs": self.total("ann_macs"), "total_pj": ann_pj, "mac_pj": _coef(ANN_MAC_PJ)},
            "per_layer": {name: vars(e) for name, e in self.per_layer.items()},
            "coefficients": {name: _coef(c) for name, c in self.coefficients.items()},
        }


# event type -> (what it is, the coefficient it costs each)
EVENT_TYPES = {
    "synaptic_ops": ("synaptic ops", "synop_pj"),
    "active_neuron_updates": ("neuron updates, active", "neuron_update_active_pj"),
    "idle_neuron_updates": ("neuron updates, idle", "neuron_update_idle_pj"),
    "spikes_within_core": ("spike messages within a core", "spike_in_core_pj"),
    "mesh_hops": ("mesh hops of spike messages between cores", "hop_pj"),
    "between_chips": ("spike messages between chips", "chip_hop_pj"),
}


def event_counts(e: LayerEnergy) -> dict[str, float]:
    """A layer's count of each event type (EVENT_TYPES)."""
    return {
        "synaptic_ops": e.synops,
        "active_neuron_updates": e.active_updates,
        "idle_neuron_updates": e.neuron_updates - e.active_updates,
        "spikes_within_core": e.messages_in_core,
        "mesh_hops": e.mesh_hops,
        "between_chips": e.messages_between_chips,
    }


def event_energies(e: LayerEnergy, pj: dict[str, float]) -> dict[str, float]:
    """A layer's pJ of each event type: its count x that event's coefficient in ``pj``."""
    return {event: n * pj[EVENT_TYPES[event][1]] for event, n in event_counts(e).items()}


def _coef(c: Sourced) -> dict[str, Any]:
    return {"value": c.value, "source": c.source, "confidence": c.confidence}


def synaptic_ops(graph: Graph, trace: Trace) -> dict[str, float]:
    """Synaptic ops into each neuron layer, per sample: events of each source x its nonzero fan-out.

    Works on integer graphs (the deployed network) and on canonical float graphs run by the float
    simulator, where it is NeuroBench's effective-ops count for models without pooling between
    neuron layers (canonicalization folds pooling into the next synapses, which then see every
    spike rather than each pooled window).
    """
    batch = max(trace.batch, 1)
    ops = {}
    for layer, _ in neuron_layers(graph):
        total = 0.0
        for p in projections(graph, layer):
            events = trace.input_events[p.source] if p.from_host else trace.spike_counts[p.source]
            total += float((events.reshape(p.source_shape) * nonzero_fan_out(p)).sum())
        ops[layer] = total / batch
    return ops


def estimate(graph: Graph, placement: Placement, trace: Trace, target: Target) -> EnergyReport:
    e = target.energy
    coefficients = {
        "synop_pj": e.synop_pj,
        "neuron_update_active_pj": e.neuron_update_active_pj,
        "neuron_update_idle_pj": e.neuron_update_idle_pj,
        "spike_in_core_pj": e.spike_in_core_pj,
        "hop_pj": e.hop_pj,
        "chip_hop_pj": e.chip_hop_pj,
    }
    pj_per_event = {name: c.value for name, c in coefficients.items()}
    batch = max(trace.batch, 1)
    core_of = {c.index: c for c in placement.cores}
    per_layer: dict[str, LayerEnergy] = {}
    host_messages = 0.0
    synops_per_sample = synaptic_ops(graph, trace)
    relays = relays_of(graph)  # the ANN has no such layers: they cost the chip, not the ANN
    for layer, op in neuron_layers(graph):
        macs = 0.0
        for p in projections(graph, layer):
            # relays copy a layer and a split layer's join adds its partial sums: no ANN op does either
            copies = layer in relays or p.from_partial_sum
            macs += 0.0 if copies else p.op.macs()
            if p.from_host:
                host_messages += float(trace.input_events[p.source].sum())
        neurons = int(np.prod(op.shape))
        in_core, between, hops, chips = _messages(graph, placement, core_of, layer, trace.spike_counts[layer])
        batch_counts = LayerEnergy(  # over the whole batch; per sample below
            synops=synops_per_sample[layer] * batch,
            neuron_updates=neurons * trace.steps * trace.batch,
            active_updates=trace.stats[layer].active_updates,
            spikes=float(trace.spike_counts[layer].sum()),
            messages_in_core=in_core,
            messages_between_cores=between,
            mesh_hops=hops,
            messages_between_chips=chips,
            ann_macs=macs,
            total_pj=0.0,
        )
        pj = sum(event_energies(batch_counts, pj_per_event).values())
        per_layer[layer] = LayerEnergy(
            **{k: v / batch for k, v in vars(batch_counts).items() if k not in ("ann_macs", "total_pj")},
            ann_macs=macs,
            total_pj=pj / batch,
        )
    return EnergyReport(trace.batch, trace.steps, per_layer, coefficients, host_messages / batch)


def _messages(
    graph: Graph, placement: Placement, core_of: dict, layer: str, spikes: np.ndarray
) -> tuple[float, float, float, float]:
    """(within core, between cores of a chip, their mesh hops, between chips) spike messages of ``layer``."""
    core_pieces = [(c.index, p) for c in placement.cores for p in c.pieces]
    masks = destination_masks(graph, layer, core_pieces)
    in_core = between = hops = chips = 0.0
    for src_core, piece in placement.pieces_of(layer):
        region = box_slices(piece.box)
        counts = spikes.reshape(graph[layer].shape)[region]
        here = core_of[src_core]
        for dst_core, mask in masks:
            sent = float(counts[mask[region]].sum())
            there = core_of[dst_core]
            if dst_core == src_core:
                in_core += sent
            elif there.chip == here.chip:
                between += sent
                hops += sent * (abs(there.position[0] - here.position[0]) + abs(there.position[1] - here.position[1]))
            else:
                chips += sent
    return in_core, between, hops, chips
