"""The IR's side of a numerics family: what its integer graphs may hold and how its arithmetic reads them.

A family (Numerics.family) names one chip arithmetic: Loihi's (Lava's fixed-point LIF) or Xylo's
(bit-shift decays, int16 saturating state).  Here, read by the verifier, the simulators and the
compiler alike, each family says how large a stored weight is, which input encoding and which
integer ops exist in it, and whether a dendritic accumulator sums a step's input.  The compiler's
side of a family (quantizer, placer, design rules, target section, hints) is snncc/families/.
A new family adds one entry to FAMILIES here.
"""

from __future__ import annotations

from dataclasses import dataclass

from snncc.errors import Diagnostic

from .numerics import LOIHI, XYLO, Numerics
from .op import Op
from .ops import IntConv2d, IntDelay, IntInput, IntLIF, IntXyloLIF


@dataclass(frozen=True)
class NumericsFamily:
    name: str
    defaults: Numerics  # the family's formats where a target file does not restate them
    sign_magnitude_weights: bool  # a weight is weight_bits of magnitude plus a sign (Lava), else two's complement
    events_input: bool  # inputs arrive as events per channel (Xylo), not as graded values or bit planes
    # a dendritic accumulator of accumulator_bits sums a step's synaptic input (Loihi); without one
    # (Xylo) each weight adds into the saturating synaptic current
    accumulator: bool

    def weight_max(self, n: Numerics) -> int:
        return (1 << n.weight_bits) - 1 if self.sign_magnitude_weights else (1 << (n.weight_bits - 1)) - 1

    def check_op(self, name: str, op: Op, n: Numerics) -> list[Diagnostic]:
        """GRF054 where ``op`` does not exist in this family (the INTEGER stage's family check)."""
        if isinstance(op, IntInput) and (op.encoding == "events") != self.events_input:
            return [
                Diagnostic("error", "GRF054", f"{op.encoding} input does not exist in the {n.family} family", node=name)
            ]
        return self.foreign_op(name, op, n)

    def foreign_op(self, name: str, op: Op, n: Numerics) -> list[Diagnostic]:
        return []


class LoihiFamily(NumericsFamily):
    def foreign_op(self, name: str, op: Op, n: Numerics) -> list[Diagnostic]:
        if isinstance(op, IntXyloLIF):
            return [
                Diagnostic("error", "GRF054", f"int_xylo_lif needs numerics family xylo, not {n.family!r}", node=name)
            ]
        return []


class XyloFamily(NumericsFamily):
    def foreign_op(self, name: str, op: Op, n: Numerics) -> list[Diagnostic]:
        if isinstance(op, (IntLIF, IntConv2d, IntDelay)):
            return [
                Diagnostic(
                    "error",
                    "GRF054",
                    f"{op.OP} does not exist in the xylo family: Xylo runs int_dense into int_xylo_lif",
                    node=name,
                )
            ]
        return []


FAMILIES: dict[str, NumericsFamily] = {
    "loihi": LoihiFamily("loihi", LOIHI, sign_magnitude_weights=True, events_input=False, accumulator=True),
    "xylo": XyloFamily("xylo", XYLO, sign_magnitude_weights=False, events_input=True, accumulator=False),
}


def numerics_family(name: str) -> NumericsFamily:
    """The family called ``name``; ValueError naming the families for any other name."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown numerics family {name!r} (families: {', '.join(FAMILIES)})") from None
