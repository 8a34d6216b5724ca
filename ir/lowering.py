"""Lowering tables: what each backend and exporter does with each op class, or why it refuses it.

Every backend (refsim's dialects, floatsim, lava, nengo-loihi, xylosim) and exporter (NIR, netx,
SANA-FE) holds one ``LoweringTable``: op class -> how it runs or lowers the op (any value the owner
understands), or a ``Refusal`` carrying a diagnostic code (snncc/error_codes.py).  Dispatch is a
lookup along the op's class hierarchy (IntCLIF finds IntLIF's entry unless it has its own), never a
chain of isinstance tests, so a new op is one entry per table; tests/unit/test_op_lowering.py checks
that every op of snncc.ir.ALL_OPS has one in every table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from snncc.errors import Diagnostic

from .graph import Graph
from .op import Op

T = TypeVar("T")

# entries of a simulator's table for the ops its interpreter handles itself
FED = "fed"  # a graph input: the run's data
READ = "read"  # an output: the readout of the neuron layer it reads


@dataclass(frozen=True)
class Refusal:
    """Why an owner cannot run or write an op: an error with a code of snncc/error_codes.py."""

    code: str
    reason: str
    hint: str | None = None

    def diagnostic(self, node: str | None = None) -> Diagnostic:
        return Diagnostic("error", self.code, self.reason, node=node, hint=self.hint)


def refuse(ops: Iterable[type[Op]], refusal: Refusal) -> dict[type[Op], Refusal]:
    """The same refusal for several op classes (a table's entries for a whole dialect)."""
    return dict.fromkeys(ops, refusal)


class LoweringTable(Generic[T]):
    """One owner's (backend's or exporter's) lowering of each op class.

    ``default``: the refusal of every op the table has no entry for, in a table whose owner runs a
    fixed set of ops (a chip model with no room for new features), so that a new op costs it nothing.
    """

    def __init__(self, owner: str, entries: Mapping[type[Op], T | Refusal], default: Refusal | None = None) -> None:
        self.owner = owner
        self.entries = dict(entries)
        self.default = default

    def lookup(self, op: Op | type[Op]) -> T | Refusal | None:
        """The entry of the op's class or its nearest base class that has one, else the table's default
        refusal; None if there is neither."""
        cls = op if isinstance(op, type) else type(op)
        for base in cls.__mro__:
            if base in self.entries:
                return self.entries[base]
        return self.default

    def refusal(self, op: Op | type[Op]) -> Refusal | None:
        """Why the owner refuses the op (an op it has no entry for included), or None if it lowers it."""
        entry = self.lookup(op)
        if entry is None:
            name = op.OP
            return Refusal("GRF012", f"{self.owner} has no lowering for op {name!r}")
        return entry if isinstance(entry, Refusal) else None

    def __getitem__(self, op: Op | type[Op]) -> T:
        """The lowering of an op the owner has checked it runs (refusals are reported by ``diagnostics``)."""
        entry = self.lookup(op)
        if entry is None or isinstance(entry, Refusal):
            raise KeyError(f"{self.owner} does not lower {op.OP!r}")
        return entry

    def diagnostics(self, graph: Graph) -> list[Diagnostic]:
        """One error per node of ``graph`` whose op the owner refuses, with the refusal's code."""
        out = []
        for name, op in graph.nodes:
            refusal = self.refusal(op)
            if refusal is not None:
                out.append(refusal.diagnostic(name))
        return out
