"""A lower bound on the cores any placement needs, under snncc's own per-core cost model.

Each resource gives a bound (its unavoidable total over the per-core limit); the largest binds:
- neurons: every neuron on some core;
- synapse memory: every synapse stored at least once, at the cheapest bits per synapse the memory
  model allows (a block's header and word rounding spread over its synapses, the fewest index bits
  a sparse synapse can have); a shared conv kernel once per weight;
  where the memory also holds the synapse and axon maps, their entries for the axons below;
- input axons: every source axon (per bit plane) that reaches a layer enters at least one core
  holding that layer;
- output axons: a neuron needs one per destination core, and its synapses into one layer span at
  least ⌈reached neurons / neurons per core⌉ cores.
Cores hold pieces of several layers, so no per-layer rounding is added: the bound stays a bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from snncc.ir import Graph
from snncc.target import Target

from .connectivity import consumers, full_box, neuron_layers, projections, synapses_per_axon
from .cost import BLOCK, HEADER_BITS, MEMORY_MODELS, SHARED_CONV_MODELS, SHARED_MEMORY_MODELS, WORD_BITS, index_bits


@dataclass(frozen=True)
class Bound:
    cores: int
    binding: str  # the resource that gives the bound
    per_resource: dict[str, int]  # resource -> cores it alone requires


@cache
def cheapest_bits_per_synapse(weight_bits: int, index: int) -> float:
    """Fewest memory bits per synapse any block of 1..64 synapses costs (header and rounding included)."""
    words = [math.ceil((n * (weight_bits + index) + HEADER_BITS) / WORD_BITS) for n in range(1, BLOCK + 1)]
    return min(w * WORD_BITS / n for n, w in zip(range(1, BLOCK + 1), words, strict=True))


def _synapse_bits(graph: Graph, layer: str, target: Target) -> float:
    shape = graph[layer].shape
    wbits = target.numerics.weight_bits
    bits = 0.0
    for p in projections(graph, layer):
        if p.op.is_conv and target.memory_model in SHARED_CONV_MODELS:
            bits += p.planes * int(np.prod(p.op.weight.shape)) * wbits
            continue
        synapses = int(synapses_per_axon(p, shape, full_box(shape)).sum())
        if target.memory_model in ("loihi1_synapse_words", "loihi2_shared_conv"):
            per = cheapest_bits_per_synapse(wbits, index_bits(p.op.is_conv, 1))  # fewest index bits: 6
        else:
            per = float(MEMORY_MODELS[target.memory_model](np.array([1]), wbits, 0)[0])
        bits += p.planes * synapses * per
    return bits


def _input_axons(graph: Graph, layer: str) -> int:
    shape = graph[layer].shape
    return sum(
        p.planes * int(np.count_nonzero(synapses_per_axon(p, shape, full_box(shape))))
        for p in projections(graph, layer)
    )


def _output_axons(graph: Graph, layer: str, neurons_per_core: int) -> int:
    """Per neuron: the most cores any one consumer layer's reached neurons must span."""
    per_neuron = np.zeros(graph[layer].shape, dtype=np.int64)
    for dst, proj in consumers(graph, layer):
        dst_shape = graph[dst].shape
        reached = synapses_per_axon(proj, dst_shape, full_box(dst_shape)).reshape(per_neuron.shape)
        per_neuron = np.maximum(per_neuron, -(-reached // neurons_per_core))
    return int(per_neuron.sum())


def lower_bound_detail(graph: Graph, target: Target) -> Bound:
    pc = target.per_core
    layers = [name for name, _ in neuron_layers(graph)]
    inputs = sum(_input_axons(graph, n) for n in layers)
    outputs = sum(_output_axons(graph, n, int(pc.neurons.value)) for n in layers)
    memory = sum(_synapse_bits(graph, n, target) for n in layers)
    maps = SHARED_MEMORY_MODELS.get(target.memory_model)
    if maps is not None:  # the same memory holds the synapse and axon maps
        memory += maps.per_input_axon * inputs + maps.per_output_axon * outputs
    totals = {
        "neurons": (sum(int(np.prod(graph[n].shape)) for n in layers), pc.neurons.value),
        "synapse memory": (memory, pc.synapse_memory_bits.value),
        "input axons": (inputs, pc.fan_in_axons.value),
        "output axons": (outputs, pc.fan_out_axons.value),
    }
    per = {what: math.ceil(total / limit - 1e-9) for what, (total, limit) in totals.items()}
    binding = max(per, key=per.__getitem__)
    return Bound(max(1, per[binding]), binding, per)


def lower_bound(graph: Graph, target: Target) -> int:
    """No placement can use fewer cores (see the module docstring for what each resource counts)."""
    return lower_bound_detail(graph, target).cores


__all__ = ["Bound", "cheapest_bits_per_synapse", "lower_bound", "lower_bound_detail"]
