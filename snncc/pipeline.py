"""Passes as named objects and the one runner that applies them (issue 16, first step).

A pass is a small frozen dataclass with a ``name``, the graph stage it takes and the stage it
leaves, and ``run(graph, ctx) -> Graph``.  ``run_pipeline`` applies passes in order, verifies the
graph against its stage after every pass (so a pass that breaks an invariant is named at once),
records each pass's time, and prints the graph after the passes ``dump_after`` names.  Side
results (which layers an approximation changed) go into the ``Context``, not into tuple returns.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from snncc.errors import DataError
from snncc.ir import Graph, Stage, verify
from snncc.ir.printer import print_graph
from snncc.passes.align_depths import align_depths
from snncc.passes.approximate import AFTER_CANONICALIZE, approximate
from snncc.passes.canonicalize import canonicalize


@dataclass
class Context:
    """What passes share besides the graph: side results, per-pass timings and the dump sink."""

    approximations: dict[str, list[str]] = field(default_factory=dict)  # approximation -> layers it changed
    timings: dict[str, float] = field(default_factory=dict)  # pass name -> seconds
    dump: Callable[[str, Graph], None] | None = None  # called after each pass named in dump_after


class Pass(Protocol):
    name: ClassVar[str]
    requires: ClassVar[Stage]
    produces: ClassVar[Stage]

    def run(self, graph: Graph, ctx: Context) -> Graph: ...


@dataclass(frozen=True)
class Approximate:
    """The named approximations the user accepted (passes/approximate.py), on the float graph."""

    names: tuple[str, ...]
    name: ClassVar[str] = "approximate"
    requires: ClassVar[Stage] = Stage.FLOAT
    produces: ClassVar[Stage] = Stage.FLOAT

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return _approximate(graph, self.names, ctx)


@dataclass(frozen=True)
class Canonicalize:
    """Fold batch norm, fuse pooling and flatten, fold gains, resets and spike amplitudes."""

    name: ClassVar[str] = "canonicalize"
    requires: ClassVar[Stage] = Stage.FLOAT
    produces: ClassVar[Stage] = Stage.CANONICAL

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return canonicalize(graph)


@dataclass(frozen=True)
class ApproximateCanonical:
    """The approximations that apply to canonical layers (e.g. drop-initial-potential after folds)."""

    names: tuple[str, ...]
    name: ClassVar[str] = "approximate-canonical"
    requires: ClassVar[Stage] = Stage.CANONICAL
    produces: ClassVar[Stage] = Stage.CANONICAL

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return _approximate(graph, tuple(n for n in self.names if n in AFTER_CANONICALIZE), ctx)


@dataclass(frozen=True)
class AlignDepths:
    """Relay layers where branches of unequal depth meet, so that they meet in step on a chip."""

    name: ClassVar[str] = "align-depths"
    requires: ClassVar[Stage] = Stage.CANONICAL
    produces: ClassVar[Stage] = Stage.CANONICAL

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return align_depths(graph)


def _approximate(graph: Graph, names: tuple[str, ...], ctx: Context) -> Graph:
    approximated, changed = approximate(graph, names)
    for name, layers in changed.items():
        ctx.approximations[name] = list(dict.fromkeys([*ctx.approximations.get(name, []), *layers]))
    return approximated


def canonical_passes(approximations: tuple[str, ...]) -> list[Pass]:
    """From the imported float graph to the canonical graph that quantization takes."""
    return [Approximate(approximations), Canonicalize(), ApproximateCanonical(approximations), AlignDepths()]


PASS_NAMES = tuple(p.name for p in canonical_passes(()))


def check_dump_after(names: Sequence[str]) -> None:
    unknown = [n for n in names if n not in PASS_NAMES]
    if unknown:
        raise DataError(
            f"--dump-after {', '.join(unknown)}: no such pass",
            code="DAT032",
            hint=f"passes: {', '.join(PASS_NAMES)}",
        )


def run_pipeline(graph: Graph, passes: Sequence[Pass], ctx: Context, dump_after: Sequence[str] = ()) -> Graph:
    """Apply ``passes`` in order, verifying the graph after every pass (and that it is at the stage
    each pass takes)."""
    check_dump_after(dump_after)
    for p in passes:
        if graph.meta.stage is not p.requires:
            verify(graph, p.requires)  # raises GRF010 naming both stages
        start = time.perf_counter()
        graph = verify(p.run(graph, ctx), p.produces)
        ctx.timings[p.name] = round(time.perf_counter() - start, 3)
        if p.name in dump_after and ctx.dump is not None:
            ctx.dump(p.name, graph)
    return graph


def dump_to(stream) -> Callable[[str, Graph], None]:
    """A dump sink printing the graph after a pass, as `snncc ... --dump-after PASS` shows it."""

    def dump(name: str, graph: Graph) -> None:
        print(f"--- graph after {name} ---\n{print_graph(graph)}", file=stream)

    return dump
