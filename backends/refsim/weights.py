"""The weight pipeline (snncc.ir.arith.effective_weights), kept for the next run of the same graph (memo.py)."""

from __future__ import annotations

from snncc.ir import arith

from . import memo

effective_weights = memo.by_identity(arith.effective_weights)
