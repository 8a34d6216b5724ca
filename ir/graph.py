"""A small immutable graph of named ops with deterministic order.

Nodes keep the order they were added in (importers add them in the source model's
order), and ``topo_order`` breaks ties by that order, so every traversal and every
artifact is deterministic.

Recurrence (SPEC.md §1.1): a cycle is allowed when it passes through exactly one neuron layer
and at least one synapse op, and nothing on it other than that layer feeds anything outside
it: the layer's spikes come back to it one step later (an RLeaky-style recurrent layer).  The
edges that leave the layer into its own cycle are the *recurrent edges*; they carry the
previous step's output (zeros at the first step of a sample), and ``topo_order`` is the order
of the graph without them.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from snncc.errors import InvalidGraph
from snncc.text import has_control_characters

from .numerics import Numerics
from .op import Op


class Stage(enum.StrEnum):
    FLOAT = "float"  # importers' output: float ops incl. BatchNorm, pooling, flatten
    CANONICAL = "canonical"  # one synapse op per neuron input, biases and gains folded into neurons
    INTEGER = "integer"  # integer ops only, in the target's formats


@dataclass(frozen=True)
class Edge:
    src: str
    dst: str


@dataclass(frozen=True)
class GraphMeta:
    """Facts about the whole graph that no single node holds."""

    stage: Stage
    steps: int  # time steps per sample
    dt: float | None = None  # seconds per step, where the source model has one
    discretization: str = "euler"  # rule used to turn time constants into per-step decays
    source: str = ""  # framework and file the graph came from
    numerics: Numerics | None = None  # INTEGER stage: the formats quantized for
    notes: tuple[tuple[str, str], ...] = ()  # free-form provenance, e.g. ("input_encoding", "bitplane")

    def note(self, key: str) -> str | None:
        return dict(self.notes).get(key)

    def with_notes(self, **items: str) -> GraphMeta:
        merged = dict(self.notes)
        merged.update(items)
        return dataclasses.replace(self, notes=tuple(sorted(merged.items())))


@dataclass(frozen=True)
class Graph:
    nodes: tuple[tuple[str, Op], ...]
    edges: tuple[Edge, ...]
    meta: GraphMeta
    _index: dict[str, Op] = field(init=False, repr=False, compare=False, hash=False)
    _preds: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False, hash=False)
    _succs: dict[str, tuple[str, ...]] = field(init=False, repr=False, compare=False, hash=False)
    _order: tuple[tuple[str, ...], frozenset[Edge]] | None = field(
        init=False, default=None, repr=False, compare=False, hash=False
    )

    def __post_init__(self) -> None:
        index: dict[str, Op] = {}
        for name, op in self.nodes:
            if not isinstance(name, str) or not name:
                raise InvalidGraph(f"node names must be non-empty strings, got {name!r}", code="GRF002")
            if has_control_characters(name):
                raise InvalidGraph(
                    "the layer name holds control characters (terminal escapes, line breaks)",
                    code="GRF008",
                    node=name,
                    hint="rename the layer in the model (printable characters only) and save it again",
                )
            if name in index:
                raise InvalidGraph("duplicate node name", code="GRF002", node=name)
            if not isinstance(op, Op):
                raise InvalidGraph(f"node is not an op: {type(op).__name__}", code="GRF002", node=name)
            index[name] = op
        preds: dict[str, list[str]] = {n: [] for n in index}
        succs: dict[str, list[str]] = {n: [] for n in index}
        for e in self.edges:
            for end in (e.src, e.dst):
                if end not in index:
                    raise InvalidGraph(f"edge {e.src} -> {e.dst} refers to a missing node", code="GRF001", node=end)
            preds[e.dst].append(e.src)
            succs[e.src].append(e.dst)
        object.__setattr__(self, "_index", index)
        object.__setattr__(self, "_preds", {k: tuple(v) for k, v in preds.items()})
        object.__setattr__(self, "_succs", {k: tuple(v) for k, v in succs.items()})

    # --- lookup -------------------------------------------------------------------------
    @property
    def names(self) -> tuple[str, ...]:
        return tuple(n for n, _ in self.nodes)

    def __getitem__(self, name: str) -> Op:
        try:
            return self._index[name]
        except KeyError:
            raise InvalidGraph("no such node", code="GRF001", node=name) from None

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[tuple[str, Op]]:
        return iter(self.nodes)

    def __len__(self) -> int:
        return len(self.nodes)

    @property
    def node_map(self) -> Mapping[str, Op]:
        return dict(self._index)

    def predecessors(self, name: str) -> tuple[str, ...]:
        return self._preds[name]

    def successors(self, name: str) -> tuple[str, ...]:
        return self._succs[name]

    def carrier(self, name: str) -> str:
        """The node whose values ``name`` carries: itself, or, for a delay line (an op with HAS_STATE
        between a layer and its synapses), the layer or input it delays."""
        while self[name].HAS_STATE:
            name = self._preds[name][0]
        return name

    def source_of(self, synapse: str) -> str:
        """The layer or input whose values a synapse op reads, through any delay line in between."""
        return self.carrier(self._preds[synapse][0])

    def of_type(self, *types: type[Op]) -> list[tuple[str, Op]]:
        return [(n, op) for n, op in self.nodes if isinstance(op, types)]

    # --- order --------------------------------------------------------------------------
    def topo_order(self) -> tuple[str, ...]:
        """Kahn's algorithm on the graph without its recurrent edges, ties broken by insertion order.

        Raises InvalidGraph (GRF006, GRF007) for cycles the IR cannot run (see the module docstring).
        """
        return self._structure()[0]

    def recurrent_edges(self) -> frozenset[Edge]:
        """The edges that carry their source's output of the previous step (SPEC.md §1.1)."""
        return self._structure()[1]

    def is_recurrent(self, src: str, dst: str) -> bool:
        return Edge(src, dst) in self._structure()[1]

    def recurrent_layers(self) -> tuple[str, ...]:
        """Neuron layers whose own spikes come back to them, in insertion order."""
        sources = {e.src for e in self.recurrent_edges()}
        return tuple(n for n in self.names if n in sources)

    def _structure(self) -> tuple[tuple[str, ...], frozenset[Edge]]:
        if self._order is None:
            back = _recurrent_edges(self)
            object.__setattr__(self, "_order", (self._kahn(back), back))
        return self._order  # type: ignore[return-value]

    def _kahn(self, back: frozenset[Edge]) -> tuple[str, ...]:
        position = {n: i for i, n in enumerate(self.names)}
        indegree = {n: sum(Edge(p, n) not in back for p in self._preds[n]) for n in self.names}
        ready = sorted((n for n, d in indegree.items() if d == 0), key=position.__getitem__)
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for s in self._succs[n]:
                if Edge(n, s) in back:
                    continue
                indegree[s] -= 1
                if indegree[s] == 0:
                    ready.append(s)
                    ready.sort(key=position.__getitem__)
        if len(order) != len(self.nodes):  # unreachable: _recurrent_edges breaks every cycle or raises
            raise InvalidGraph(
                "the graph has a cycle", code="GRF006", node=next(n for n in self.names if n not in order)
            )
        return tuple(order)

    # --- building -----------------------------------------------------------------------
    def replace_nodes(self, **changes: Op) -> Graph:
        missing = set(changes) - set(self._index)
        if missing:
            raise InvalidGraph("cannot replace missing node", code="GRF001", node=sorted(missing)[0])
        return dataclasses.replace(self, nodes=tuple((n, changes.get(n, op)) for n, op in self.nodes))

    def with_meta(self, **changes: Any) -> Graph:
        return dataclasses.replace(self, meta=dataclasses.replace(self.meta, **changes))


def _recurrent_edges(graph: Graph) -> frozenset[Edge]:
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(graph.names)
    g.add_edges_from((e.src, e.dst) for e in graph.edges)
    neurons = {n for n, op in graph.nodes if op.IS_NEURON}
    synapses = {n for n, op in graph.nodes if op.IS_SYNAPSE}
    return frozenset(Edge(a, b) for a, b in recurrent_edges_of(g, neurons, synapses))


def recurrent_edges_of(g: Any, neurons: set[str], synapses: set[str]) -> list[tuple[str, str]]:
    """The recurrence rule (module docstring) on a networkx DiGraph whose nodes are in insertion order:
    the (layer, first op of its cycle) edges, or InvalidGraph GRF006/GRF007 naming the cycle.

    Importers call it on the source model's graph to report a bad cycle in the model's own terms.
    """
    import networkx as nx

    position = {n: i for i, n in enumerate(g)}
    back: list[tuple[str, str]] = []
    for component in sorted(nx.strongly_connected_components(g), key=lambda c: min(map(position.__getitem__, c))):
        members = sorted(component, key=position.__getitem__)
        if len(members) == 1 and not g.has_edge(members[0], members[0]):
            continue
        layers = [n for n in members if n in neurons]
        if len(layers) > 1:
            loop = _describe_cycle(_ordered_subgraph(g, members), neurons)
            raise InvalidGraph(
                f"recurrent connection through several neuron layers ({', '.join(layers)}): {loop}; only a "
                "layer's own spikes may come back to it (hardware delivers a connection one step per layer it "
                "spans, so a longer loop would not mean 'the previous step')",
                code="GRF007",
                node=layers[0],
                hint="feed each layer's spikes back to that layer only (as snntorch's RLeaky does), or unroll the loop",
            )
        layer = layers[0] if layers else None
        path = _ordered_subgraph(g, [n for n in members if n != layer])
        # without the layer, what is left must be acyclic, and every way round must cross a synapse op
        unweighted = _ordered_subgraph(g, [n for n in members if n not in synapses])
        if layer is None or not nx.is_directed_acyclic_graph(path) or not nx.is_directed_acyclic_graph(unweighted):
            missing = "a neuron layer" if layer is None or not nx.is_directed_acyclic_graph(path) else "a synapse op"
            culprit = (
                _ordered_subgraph(g, members) if layer is None else path if missing == "a neuron layer" else unweighted
            )
            raise InvalidGraph(
                f"cycle {_describe_cycle(culprit, neurons)} does not pass through {missing}: a value cannot depend on "
                "itself within one step",
                code="GRF006",
                node=layer or members[0],
                hint="a recurrent connection runs from a neuron layer through a synapse op (dense, conv2d) back "
                "to the same layer",
            )
        for n in path:
            leaks = [s for s in g.successors(n) if s not in component]
            if leaks:
                raise InvalidGraph(
                    f"{n} lies on the recurrent connection of {layer} but also feeds {', '.join(leaks)}",
                    code="GRF007",
                    node=n,
                    hint=f"read {layer}'s spikes through a synapse op of their own",
                )
        back += [(layer, n) for n in members if g.has_edge(layer, n)]
    return back


def _ordered_subgraph(g: Any, members: list[str]) -> Any:
    """g's induced subgraph with nodes and edges in g's order.  A networkx subgraph view of a few nodes
    iterates a set, so messages built from it would change with the hash seed (issue 8: determinism)."""
    import networkx as nx

    keep = set(members)
    sub = nx.DiGraph()
    sub.add_nodes_from(n for n in g if n in keep)
    sub.add_edges_from((a, b) for a, b in g.edges if a in keep and b in keep)
    return sub


def _describe_cycle(subgraph: Any, first: set[str] = frozenset()) -> str:
    """'a -> b -> a' for one cycle of a networkx subgraph that has one, starting at a node of ``first``
    where the cycle has one (else at its earliest node in the subgraph's order)."""
    import networkx as nx

    cycle = [src for src, _ in nx.find_cycle(subgraph)]
    order = {n: i for i, n in enumerate(subgraph)}
    start = min(range(len(cycle)), key=lambda i: (cycle[i] not in first, order[cycle[i]]))
    cycle = cycle[start:] + cycle[:start]
    return " -> ".join([*cycle, cycle[0]])


class GraphBuilder:
    """Mutable helper for importers and passes; ``build()`` returns the frozen Graph."""

    def __init__(self) -> None:
        self._nodes: list[tuple[str, Op]] = []
        self._names: set[str] = set()
        self._edges: list[Edge] = []

    def unique_name(self, base: str) -> str:
        if base not in self._names:
            return base
        i = 1
        while f"{base}_{i}" in self._names:
            i += 1
        return f"{base}_{i}"

    def add(self, name: str, op: Op, inputs: tuple[str, ...] | list[str] = ()) -> str:
        name = self.unique_name(name)
        self._nodes.append((name, op))
        self._names.add(name)
        for src in inputs:
            self._edges.append(Edge(src, name))
        return name

    def connect(self, src: str, dst: str) -> None:
        """An edge between two nodes added already (e.g. a recurrent synapse back into its layer)."""
        self._edges.append(Edge(src, dst))

    def build(self, meta: GraphMeta) -> Graph:
        return Graph(tuple(self._nodes), tuple(self._edges), meta)
