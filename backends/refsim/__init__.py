"""The integer reference simulator: the executable spec of the integer IR (ir/SPEC.md §3)."""

from .simulator import RefSim

__all__ = ["RefSim"]
