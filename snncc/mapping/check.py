"""check_placement: validate a placement from scratch, without trusting the partitioner's numbers."""

from __future__ import annotations

import numpy as np

from snncc.errors import Diagnostic
from snncc.ir import Graph
from snncc.target import Target

from .connectivity import box_slices, neuron_layers
from .placement import CoreUsage, Placement
from .resources import fan_out, memory_bits, piece_inputs


def check_placement(graph: Graph, placement: Placement, target: Target) -> list[Diagnostic]:
    diags: list[Diagnostic] = []
    layers = dict(neuron_layers(graph))
    cover = {name: np.zeros(op.shape, dtype=np.int64) for name, op in layers.items()}
    for core in placement.cores:
        for piece in core.pieces:
            if piece.layer not in cover:
                diags.append(
                    Diagnostic("error", "MAP040", f"core {core.index} holds an unknown layer", node=piece.layer)
                )
                continue
            cover[piece.layer][box_slices(piece.box)] += 1
    for name, count in cover.items():
        if count.min() != 1 or count.max() != 1:
            diags.append(
                Diagnostic(
                    "error",
                    "MAP041",
                    f"{int((count == 0).sum())} neurons unplaced, {int((count > 1).sum())} placed more than once",
                    node=name,
                )
            )
    if diags:
        return diags
    pc = target.per_core
    outs = fan_out(graph, [(c.index, p) for c in placement.cores for p in c.pieces])
    for core in placement.cores:
        neurons = sum(p.neurons for p in core.pieces)
        inputs = [piece_inputs(graph, target, p) for p in core.pieces]
        recomputed = {
            "neurons": (neurons, pc.neurons.value),
            "input axons": (sum(a for a, _ in inputs), pc.fan_in_axons.value),
            "synapse bits": (
                memory_bits(CoreUsage(neurons, sum(b for _, b in inputs), 0, outs[core.index]), target),
                pc.synapse_memory_bits.value,
            ),
            "output axons": (outs[core.index], pc.fan_out_axons.value),
        }
        for what, (used, limit) in recomputed.items():
            if used > limit:
                diags.append(
                    Diagnostic(
                        "error",
                        "MAP042",
                        f"core {core.index} uses {used} {what}; the limit is {int(limit)}",
                        node=core.layers[0],
                    )
                )
        if core.chip != core.index // int(target.cores_per_chip):
            diags.append(Diagnostic("error", "MAP043", f"core {core.index} is on the wrong chip {core.chip}"))
    if placement.cores_used > target.total_cores:
        diags.append(
            Diagnostic("error", "MAP044", f"{placement.cores_used} cores used; {target.name} has {target.total_cores}")
        )
    return diags
