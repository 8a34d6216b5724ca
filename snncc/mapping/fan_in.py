"""Why a neuron's fan-in is larger than the layer the user wrote.

Canonicalization fuses pooling into the synapses (passes/linear_chain.py): the average of spikes
is a fraction no chip neuron can send, so a Linear after an AvgPool2d reads the spikes of the
layer before the pooling, through pooled weights.  Its fan-in is then that layer's size, not the
Linear's in_features; the MAP003 error says so, naming the pooling.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncc.errors import Diagnostic
from snncc.ir import Graph

from .drc import REDUCE_FAN_IN


def explain_fan_in(diagnostics: list[Diagnostic], model: Graph) -> list[Diagnostic]:
    """MAP003 errors with the pooling that was fused into the layer's synapses named, from the
    imported (FLOAT) graph ``model``; other diagnostics unchanged."""
    return [_explained(d, model) if d.code == "MAP003" and d.node in model else d for d in diagnostics]


def _explained(d: Diagnostic, model: Graph) -> Diagnostic:
    pools, dense, source = _chain_into(model, d.node or "")
    if not pools:
        return d
    source_size = int(np.prod(model[source].shape))
    named = ", ".join(f"{type(model[p]).__name__} '{p}' ({model[p].kernel[0]}x{model[p].kernel[1]})" for p in pools)
    reads = f"'{dense}' takes {int(np.prod(_input_shape(model, dense)))} pooled values, but " if dense else ""
    why = (
        f"{reads}{named} was fused into its synapses: the average of spikes is a fraction that no neuron can send, "
        f"so each neuron reads the {source_size} spikes of '{source}' directly, one input axon each"
    )
    hint = (
        f"reduce the fan-in: pool more before '{dense or d.node}' (a larger or another pooling after a spiking "
        f"layer), or give '{source}' fewer channels"
    )
    rest = (d.hint or "").removeprefix(REDUCE_FAN_IN).removeprefix("; ")  # e.g. why no split, from the rule
    hint = f"{hint}; {rest}" if rest else hint
    return dataclasses.replace(d, message=f"{d.message}. {why}", hint=hint)


def _chain_into(model: Graph, layer: str) -> tuple[list[str], str | None, str | None]:
    """The pooling ops, the last Dense, and the neuron layer (or input) on the path feeding ``layer``."""
    pools: list[str] = []
    dense = None
    name = layer
    while True:
        preds = [p for p in model.predecessors(name) if p != layer]
        if len(preds) != 1:
            return pools, dense, None
        name = preds[0]
        op = model[name]
        if op.IS_NEURON or op.IS_INPUT:
            return pools[::-1], dense, name
        if op.IS_POOL and op.window_divisor() is not None:  # a linear pool, fused into the synapses
            pools.append(name)
        elif op.IS_SYNAPSE and not op.is_conv and dense is None:
            dense = name


def _input_shape(model: Graph, name: str) -> tuple[int, ...]:
    (pred,) = model.predecessors(name)
    return tuple(model[pred].shape)
