"""How many connections separate each neuron layer from the inputs (ir/SPEC.md §1.1).

On a chip every connection costs one step (Lava, Loihi, SANA-FE), so a layer processes step t of a
sample that many steps late, and two paths of different lengths into one layer cannot run in step.
Read by the compiler (latency, align_depths), the exporters and the backends alike.
"""

from __future__ import annotations

from .graph import Graph


def recurrent_synapse(graph: Graph, synapse: str) -> bool:
    """Whether the synapse op reads its source over a recurrent edge (the previous step)."""
    return graph.is_recurrent(graph.predecessors(synapse)[0], synapse)


def _sources(graph: Graph, name: str) -> list[str]:
    """The nodes whose output reaches ``name`` over one connection: its synapses' sources (recurrent
    synapses aside), or its direct source (a partial sum reads its source's output itself)."""
    out = []
    for pred in graph.predecessors(name):
        if not graph[pred].IS_SYNAPSE:
            out.append(pred)
        elif not recurrent_synapse(graph, pred):
            out.append(graph.source_of(pred))  # an axon delay is no connection
    return out


def layer_depths(graph: Graph) -> dict[str, tuple[int, int]]:
    """Per neuron layer: (shortest, longest) number of connections from any input (recurrent ones aside)."""
    depth: dict[str, tuple[int, int]] = {}
    for name in graph.topo_order():
        op = graph[name]
        if op.IS_INPUT:
            depth[name] = (0, 0)
        elif op.IS_NEURON:
            sources = [depth[src] for src in _sources(graph, name)]
            depth[name] = (1 + min(s for s, _ in sources), 1 + max(longest for _, longest in sources))
    return {name: d for name, d in depth.items() if graph[name].IS_NEURON}
