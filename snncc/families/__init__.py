"""Numerics families as plug-ins: one object per chip family supplies the compiler's side of it.

A family (Numerics.family, a target file's numerics.family) is one chip arithmetic with its own
quantizer, placer, design rules, target-file section, hints and fidelity facts (family.py lists
them); the IR's side (weight range, input encoding, ops that exist, accumulator) is
ir/families.py.  Everything else asks ``family_of(numerics)`` or ``family(name)`` and never compares
family names (tests/unit/test_families.py scans the source for such comparisons).

Adding a chip family means: one plug-in module here (a Family subclass) registered in FAMILIES,
its entry in ir/families.py's FAMILIES, its name in the schema's numerics.family (and its section,
if it has one) in targets/schema/target.schema.json, and one table entry per backend that runs it
(backends/refsim/simulator.py's DIALECTS).
"""

from __future__ import annotations

from snncc.ir import Numerics

from .family import Family
from .loihi import Loihi
from .xylo import Xylo

FAMILIES: dict[str, Family] = {f.name: f for f in (Loihi(), Xylo())}


def family(name: str) -> Family:
    """The plug-in of the family called ``name``; ValueError naming the families for any other name."""
    try:
        return FAMILIES[name]
    except KeyError:
        raise ValueError(f"unknown numerics family {name!r} (families: {', '.join(FAMILIES)})") from None


def family_of(n: Numerics) -> Family:
    """The plug-in of the family numerics ``n`` (a target's, a graph's) belong to."""
    return family(n.family)


__all__ = ["FAMILIES", "Family", "family", "family_of"]
