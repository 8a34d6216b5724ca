"""What a block of neurons costs a core: input axons, synapse memory, and output axons.

Shared by the partitioner (to choose blocks) and by check_placement (to re-derive every
core's usage without trusting the partitioner's numbers).
"""

from __future__ import annotations

import numpy as np

from snncc.ir import Graph
from snncc.target import Target

from .connectivity import (
    Box,
    box_size,
    box_slices,
    consumers,
    projections,
    synapses_per_axon,
    used_synapse_counts,
)
from .cost import MEMORY_MODELS, SHARED_CONV_MODELS, SHARED_MEMORY_MODELS, index_bits, shared_conv_bits
from .placement import CoreUsage, Piece


def piece_inputs(graph: Graph, target: Target, piece: Piece) -> tuple[int, int]:
    """(input axons, synapse memory bits) of one block of neurons, summed over its projections; where
    the memory also holds the synapse map, its entries for these input axons count as memory."""
    shape = graph[piece.layer].shape
    bits_of = MEMORY_MODELS[target.memory_model]
    maps = SHARED_MEMORY_MODELS.get(target.memory_model)
    axons = bits = 0
    for p in projections(graph, piece.layer):
        used = used_synapse_counts(p, shape, piece.box)
        conv = p.op.is_conv
        axons += p.planes * used.size
        if conv and target.memory_model in SHARED_CONV_MODELS:
            _, c_in_g, kh, kw = p.op.weight.shape
            out_channels = piece.box[0][1] - piece.box[0][0]
            bits += p.planes * shared_conv_bits(out_channels, c_in_g, (kh, kw), used.size, target.numerics.weight_bits)
        else:
            per_synapse = target.numerics.weight_bits + p.delay_bits  # the delay field beside each weight
            bits += p.planes * int(bits_of(used, per_synapse, index_bits(conv, piece.neurons)).sum())
    if maps is not None:
        bits += maps.per_input_axon * axons
    return axons, bits


def translation_key(graph: Graph, piece: Piece) -> tuple | None:
    """A key equal for pieces of a layer whose piece_inputs are equal because they differ only by a
    shift: same extents and channels, and along each axis either the same range or, for every
    projection, a window that stays inside the source (plain convolutions and dense layers only)."""
    projs = projections(graph, piece.layer)
    if not all(p.op.part_of_source() is None and not p.from_partial_sum for p in projs):
        return None
    if len(piece.box) != 3:
        return (piece.layer, tuple(b - a for a, b in piece.box))
    (c0, c1), *spatial = piece.box
    key: list = [piece.layer, c0, c1]
    for axis, (a, b) in enumerate(spatial):
        inside = all(_inside(p, axis, a, b) for p in projs)
        key.append(b - a if inside else (a, b))
    return tuple(key)


def _inside(p, axis: int, start: int, stop: int) -> bool:
    if not p.op.is_conv:
        return True
    k = p.op.weight.shape[2 + axis]
    s, pad, dil = p.op.stride[axis], p.op.padding[axis], p.op.dilation[axis]
    return start * s - pad >= 0 and (stop - 1) * s - pad + (k - 1) * dil < p.source_shape[1 + axis]


def memory_bits(usage: CoreUsage, target: Target) -> int:
    """What a core's memory holds: its synapse bits, plus the axon map where the memory is shared."""
    maps = SHARED_MEMORY_MODELS.get(target.memory_model)
    return usage.synapse_bits + (maps.per_output_axon * usage.fan_out_axons if maps is not None else 0)


def destination_masks(graph: Graph, layer: str, core_pieces: list[tuple[int, Piece]]) -> list[tuple[int, np.ndarray]]:
    """For every core holding neurons fed by ``layer``: (core, bool mask over ``layer``'s neurons reaching it)."""
    shape = graph[layer].shape
    masks: dict[int, np.ndarray] = {}
    for dst, proj in consumers(graph, layer):
        dst_shape = graph[dst].shape
        for core, piece in core_pieces:
            if piece.layer != dst:
                continue
            reach = synapses_per_axon(proj, dst_shape, piece.box).reshape(shape) > 0
            masks[core] = masks[core] | reach if core in masks else reach
    return sorted(masks.items())


def fan_out(graph: Graph, core_pieces: list[tuple[int, Piece]]) -> dict[int, int]:
    """Output axons per core: each neuron needs one per distinct destination core."""
    out = {core: 0 for core, _ in core_pieces}
    layers = dict.fromkeys(p.layer for _, p in core_pieces)
    for layer in layers:
        masks = destination_masks(graph, layer, core_pieces)
        for core, piece in core_pieces:
            if piece.layer == layer:
                region = box_slices(piece.box)
                out[core] += sum(int(mask[region].sum()) for _, mask in masks)
    return out


def single_neuron_box(shape: tuple[int, ...]) -> Box:
    """The most connected single neuron: the centre of the layer (no padding at the borders)."""
    return tuple((s // 2, s // 2 + 1) for s in shape)


__all__ = [
    "box_size",
    "destination_masks",
    "fan_out",
    "memory_bits",
    "piece_inputs",
    "single_neuron_box",
    "translation_key",
]
