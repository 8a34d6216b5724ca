"""CANONICAL -> CANONICAL: relay layers so that branches of unequal depth meet in step (SPEC.md §1.1).

Time in the IR is aligned, but a chip (and Lava) adds one step per connection: a neuron layer at
depth d (neuron layers on the longest path from the input) sees sample step t at hardware step
t + d.  Where a layer sums synapse inputs from sources of different depths (a residual skip),
the shallower source's spikes would arrive early.  This pass puts a chain of k *relays* on a
branch that is k layers short.  A relay is an ordinary lif that copies its source's spikes:

    identity synapse (weight 1) -> lif(beta 1, alpha 0, threshold 0.5, fire ">=", hard reset to 0)

It fires exactly when its input spiked (input 1 >= 0.5; input 0 never), and its potential is 0
again after every step (reset after a spike, nothing otherwise), so in aligned time its spikes
*are* its source's, at every step, and on a chip they are one step later: the delay.  The
synapse that read the source reads the relay instead, with its weights unchanged (spike
amplitudes are folded into them already).  One chain per source, named ``<source>.relay1``,
``<source>.relay2``, ..., shared by every layer that needs the source delayed by that much.
The graph's ``relays`` note maps each relay to the layer it copies (``relays_of``).

A branch from the graph's input cannot be delayed exactly: the input is analog (graded or bit
planes), not spikes.  Such graphs are refused (ImportFailed IMT014), naming the layers.
"""

from __future__ import annotations

import json

import numpy as np

from snncc.errors import Diagnostic, ImportFailed
from snncc.ir import LIF, Const, Delay, Graph, GraphBuilder

from .canonicalize import identity_synapse

RELAY_THRESHOLD = 0.5  # of a unit spike: fires on an input spike (1), never without one (0)


def relay_neuron(shape: tuple[int, ...]) -> LIF:
    """A lif that fires exactly when its weight-1 input spiked in the same step (see the module doc)."""
    zeros = Const(np.zeros(shape))
    return LIF(shape=shape, beta=1.0, threshold=RELAY_THRESHOLD, fire=">=", reset="zero", bias=zeros, v_init=zeros)


def relays_of(graph: Graph) -> dict[str, str]:
    """Relay layer -> the layer whose spikes it copies (empty for graphs without relays)."""
    note = graph.meta.note("relays")
    return json.loads(note) if note else {}


def align_depths(graph: Graph) -> Graph:
    """``graph`` (CANONICAL) with relays inserted wherever a layer's sources differ in depth."""
    depth: dict[str, int] = {}
    chains: dict[str, list[str]] = {}  # source -> its relays, nearest first
    builder = GraphBuilder()
    problems: list[Diagnostic] = []

    def delayed(source: str, k: int) -> str:
        """The relay that is ``k`` layers behind ``source`` (building the chain as far as needed)."""
        chain = chains.setdefault(source, [])
        while len(chain) < k:
            previous = chain[-1] if chain else source
            relay = f"{source}.relay{len(chain) + 1}"
            shape = tuple(graph[source].shape)
            synapse = builder.add(f"{relay}.identity", identity_synapse(shape, shape), [previous])
            chain.append(builder.add(relay, relay_neuron(shape), [synapse]))
            depth[chain[-1]] = depth[source] + len(chain)
        return chain[k - 1]

    for name in graph.topo_order():
        op = graph[name]
        if op.IS_INPUT:
            depth[name] = 0
            builder.add(name, op)
        elif op.IS_NEURON:
            synapses = graph.predecessors(name)
            sources = {syn: graph.predecessors(syn)[0] for syn in synapses}
            # a recurrent synapse reads the layer itself (the previous step): it sets no depth
            deepest = max(depth[src] for src in sources.values() if src != name)
            for syn, src in sources.items():
                gap = 0 if src == name else deepest - depth[src]
                if gap and graph[src].IS_INPUT:
                    problems.append(_input_skip(name, syn, src, gap))
                    gap = 0
                builder.add(syn, graph[syn], [delayed(src, gap) if gap else src])
            builder.add(name, op, synapses)
            depth[name] = deepest + 1
        elif isinstance(op, Delay):  # an axon delay adds no connection: the depth of its source
            depth[name] = depth[graph.predecessors(name)[0]]
            builder.add(name, op, graph.predecessors(name))
        elif op.IS_OUTPUT:
            builder.add(name, op, graph.predecessors(name))
        # synapse ops are added with the neuron layer they feed
    if problems:
        raise ImportFailed(diagnostics=problems)
    relays = {relay: source for source, chain in chains.items() for relay in chain}
    if not relays:
        return graph
    meta = graph.meta.with_notes(relays=json.dumps(relays, sort_keys=True))
    return builder.build(meta)


def _input_skip(layer: str, synapse: str, source: str, gap: int) -> Diagnostic:
    return Diagnostic(
        "error",
        "IMT014",
        f"its synapse {synapse!r} reads the input {source!r} directly while its other inputs pass {gap} neuron "
        f"layer(s); on a chip each layer adds a step, and the analog input cannot be delayed by spiking relays",
        node=layer,
        hint="start the skip connection after the first neuron layer (e.g. after the stem's ReLU), so that it "
        "carries spikes that snncc can relay",
    )
