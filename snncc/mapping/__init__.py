"""Mapping onto cores: design rules, partitioning and placement, and an independent placement check."""

from .check import check_placement
from .drc import RULES, check_design_rules
from .partition import lower_bound, partition
from .placement import Core, CoreUsage, Piece, Placement

__all__ = [
    "RULES",
    "Core",
    "CoreUsage",
    "Piece",
    "Placement",
    "check_design_rules",
    "check_placement",
    "lower_bound",
    "partition",
]
