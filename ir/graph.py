"""A small immutable graph of named ops with deterministic order.

Nodes keep the order they were added in (importers add them in the source model's
order), and ``topo_order`` breaks ties by that order, so every traversal and every
artifact is deterministic.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from snncc.errors import InvalidGraph

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

    def __post_init__(self) -> None:
        index: dict[str, Op] = {}
        for name, op in self.nodes:
            if not isinstance(name, str) or not name:
                raise InvalidGraph(f"node names must be non-empty strings, got {name!r}", code="GRF002")
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

    def of_type(self, *types: type[Op]) -> list[tuple[str, Op]]:
        return [(n, op) for n, op in self.nodes if isinstance(op, types)]

    # --- order --------------------------------------------------------------------------
    def topo_order(self) -> tuple[str, ...]:
        """Kahn's algorithm with ties broken by insertion order; raises on cycles."""
        position = {n: i for i, n in enumerate(self.names)}
        indegree = {n: len(self._preds[n]) for n in self.names}
        ready = sorted((n for n, d in indegree.items() if d == 0), key=position.__getitem__)
        order: list[str] = []
        while ready:
            n = ready.pop(0)
            order.append(n)
            for s in self._succs[n]:
                indegree[s] -= 1
                if indegree[s] == 0:
                    ready.append(s)
                    ready.sort(key=position.__getitem__)
        if len(order) != len(self.nodes):
            stuck = [n for n in self.names if n not in set(order)]
            raise InvalidGraph(
                "the graph has a cycle; recurrent connections are not supported yet",
                code="GRF006",
                node=stuck[0],
                hint="remove the recurrent connection or unroll it",
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

    def build(self, meta: GraphMeta) -> Graph:
        return Graph(tuple(self._nodes), tuple(self._edges), meta)
