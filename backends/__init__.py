"""Executors of snncc graphs: the integer reference simulator, Lava, and the float simulator."""

from .base import Backend, LayerStats, Record, Trace, first_mismatch
from .registry import available, get_backend

__all__ = ["Backend", "LayerStats", "Record", "Trace", "available", "first_mismatch", "get_backend"]
