"""A lower bound on the cores any placement needs, under snncc's own per-core cost model.

Each resource gives a bound (its unavoidable total over the per-core limit); the largest binds:
- neurons: every neuron on some core;
- synapse memory: every synapse stored at least once, at the cheapest bits per synapse the memory
  model allows (a block's header and word rounding spread over its synapses, the fewest index bits
  a sparse synapse can have); a shared conv kernel once per weight;
  where the memory also holds the synapse and axon maps, their entries for the axons below;
- input axons: a source axon (per bit plane and projection) that reaches r neurons of a layer
  enters every core holding one of them, at least ⌈r / cap⌉ cores (cap below);
- output axons: a neuron needs one per destination core, and its synapses into one layer span at
  least ⌈reached neurons / cap⌉ cores.
cap, the most neurons of a layer one core can hold: the neuron limit; the output-axon limit where
the layer has consumers (each of its neurons needs at least one); and where synapses are stored per
synapse, memory / (the fewest synapses any one of its neurons has x the cheapest bits per synapse),
less, where the memory holds the synapse map, one entry per input axon of that neuron (its synapses
from one projection come from distinct axons).  A core holding n neurons of the layer stores at
least n times that neuron's synapses, so n > cap would overfill it; a dense layer fed by a big
layer (every neuron thousands of synapses) thus spans several cores and every source axon
enters all of them.
Cores hold pieces of several layers, so no per-layer rounding is added: the bound stays a bound.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import numpy as np

from snncc.ir import Graph
from snncc.target import Target

from .connectivity import Projection, consumers, full_box, neuron_layers, projections, synapses_per_axon
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


def _bits_per_synapse(p: Projection, target: Target) -> float | None:
    """The fewest memory bits one synapse of ``p`` can cost; None where a conv kernel is stored once per core."""
    wbits = target.numerics.weight_bits
    if p.op.is_conv and target.memory_model in SHARED_CONV_MODELS:
        return None
    if target.memory_model in ("loihi1_synapse_words", "loihi2_shared_conv"):
        return cheapest_bits_per_synapse(wbits, index_bits(p.op.is_conv, 1))  # fewest index bits: 6
    return float(MEMORY_MODELS[target.memory_model](np.array([1]), wbits, 0)[0])


def _synapse_bits(graph: Graph, layer: str, target: Target) -> float:
    shape = graph[layer].shape
    bits = 0.0
    for p in projections(graph, layer):
        per = _bits_per_synapse(p, target)
        if per is None:
            bits += p.planes * int(np.prod(p.op.weight.shape)) * target.numerics.weight_bits
            continue
        bits += p.planes * int(synapses_per_axon(p, shape, full_box(shape)).sum()) * per
    return bits


def _fewest_synapses(p: Projection) -> int:
    """The fewest synapses (one plane) any one neuron has from ``p``: a dense neuron reads all its
    inputs (zero weights included, as the cost model counts them), a conv neuron its in-bounds taps."""
    conv = p.op.conv_view()
    if conv is None:
        if p.from_partial_sum:  # a join: one nonzero (identity) synapse per neuron
            return int(np.count_nonzero(p.op.weight.array, axis=1).min())
        return int(np.prod(p.op.read_shape(p.source_shape)))
    _, c_in_g, kh, kw = conv.weight.shape
    read = p.op.read_shape(p.source_shape)
    taps = []
    for axis, k in ((0, kh), (1, kw)):
        out = np.arange(conv.shape[1 + axis])[:, None] * conv.stride[axis] - conv.padding[axis]
        pos = out + np.arange(k)[None, :] * conv.dilation[axis]
        taps.append(int(((pos >= 0) & (pos < read[1 + axis])).sum(axis=1).min()))
    return c_in_g * taps[0] * taps[1]


def _cap(graph: Graph, layer: str, target: Target) -> int:
    """The most neurons of ``layer`` one core can hold (module docstring)."""
    pc = target.per_core
    cap = int(pc.neurons.value)
    if consumers(graph, layer):
        cap = min(cap, int(pc.fan_out_axons.value))
    bits = 0.0
    axons = 0
    for p in projections(graph, layer):
        synapses = p.planes * _fewest_synapses(p)
        axons += synapses
        per = _bits_per_synapse(p, target)
        bits += 0.0 if per is None else synapses * per
    maps = SHARED_MEMORY_MODELS.get(target.memory_model)
    if bits > 0:
        room = pc.synapse_memory_bits.value - (maps.per_input_axon * axons if maps is not None else 0)
        cap = min(cap, math.floor(room / bits + 1e-9))
    return max(cap, 1)  # 0 would mean the neuron fits no core: the design rules say so, the bound stays 1


def _input_axons(graph: Graph, layer: str, cap: int) -> int:
    shape = graph[layer].shape
    total = 0
    for p in projections(graph, layer):
        reached = synapses_per_axon(p, shape, full_box(shape))
        total += p.planes * int((-(-reached // cap)).sum())
    return total


def _output_axons(graph: Graph, layer: str, caps: dict[str, int]) -> int:
    """Per neuron: the most cores any one consumer layer's reached neurons must span."""
    per_neuron = np.zeros(graph[layer].shape, dtype=np.int64)
    for dst, proj in consumers(graph, layer):
        dst_shape = graph[dst].shape
        reached = synapses_per_axon(proj, dst_shape, full_box(dst_shape)).reshape(per_neuron.shape)
        per_neuron = np.maximum(per_neuron, -(-reached // caps[dst]))
    return int(per_neuron.sum())


def lower_bound_detail(graph: Graph, target: Target) -> Bound:
    pc = target.per_core
    layers = [name for name, _ in neuron_layers(graph)]
    caps = {n: _cap(graph, n, target) for n in layers}
    inputs = sum(_input_axons(graph, n, caps[n]) for n in layers)
    outputs = sum(_output_axons(graph, n, caps) for n in layers)
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
