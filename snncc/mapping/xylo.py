"""Map a xylo-family integer graph onto one Xylo SNN core (ir/SPEC.md §6.3), laid out by snncc.xylo_layout
(the core's matrices, depths and what one core cannot hold)."""

from __future__ import annotations

import numpy as np

from snncc.errors import Diagnostic, MappingError
from snncc.families.xylo import XyloPools
from snncc.ir import Graph, IntDense, IntXyloLIF
from snncc.target import Target
from snncc.xylo_layout import XYLO_SHAPE, xylo_layout

from .connectivity import full_box
from .placement import Core, CoreUsage, LayerSplit, Piece, Placement


def place_xylo(graph: Graph, target: Target) -> Placement:
    """The one-core placement of a xylo graph, or MappingError naming what one core cannot hold."""
    layout = xylo_layout(graph, target.family_part)
    layers = dict(graph.of_type(IntXyloLIF))
    neurons = sum(int(np.prod(op.shape)) for op in layers.values())
    synapses = sum(int(np.count_nonzero(op.weight.array)) for _, op in graph.of_type(IntDense))
    usage = CoreUsage(
        neurons=neurons,
        synapse_bits=synapses * target.numerics.weight_bits,
        fan_in_axons=layout.w_in.shape[0],
        fan_out_axons=layout.w_out.shape[1],
    )
    pieces = tuple(Piece(n, full_box(op.shape)) for n, op in layers.items())
    pools = target.family_part
    splits = tuple(
        LayerSplit(
            n,
            1,
            int(np.prod(op.shape)),
            "output_neurons" if n == layout.output else "hidden_neurons",
            int(np.prod(op.shape)) / int(pools.output_neurons if n == layout.output else pools.hidden_neurons),
        )
        for n, op in layers.items()
    )
    return Placement(target.name, (Core(0, 0, (0, 0), pieces, usage),), 1, (), splits)


def core_fits(graph: Graph, target: Target) -> list[Diagnostic]:
    """Design rule of the xylo family: the graph has the shape and the sizes one core runs."""
    try:
        xylo_layout(graph, target.family_part)
    except MappingError as err:
        return list(err.diagnostics)
    return []


def pool_problems(graph: Graph, pools: XyloPools) -> list[Diagnostic]:
    """The layer sizes one core's pools cannot hold (input channels, hidden and output neurons), read
    from a graph at any stage: `snncc check` reports them beside quantization's refusals."""
    inputs = [(n, op) for n, op in graph.nodes if op.IS_INPUT]
    layers = [n for n in graph.topo_order() if graph[n].IS_NEURON]
    if len(inputs) != 1 or not layers:
        return []
    sizes = {n: int(np.prod(graph[n].shape)) for n in layers}
    counts = [
        (inputs[0][0], int(np.prod(inputs[0][1].shape)), int(pools.input_channels), "input channels"),
        (None, sum(sizes[n] for n in layers[:-1]), int(pools.hidden_neurons), "hidden neurons"),
        (layers[-1], sizes[layers[-1]], int(pools.output_neurons), "output neurons"),
    ]
    return [
        Diagnostic("error", "MAP050", f"{count} {what}; Xylo has {limit}", node=node, hint=XYLO_SHAPE)
        for node, count, limit, what in counts
        if count > limit
    ]
