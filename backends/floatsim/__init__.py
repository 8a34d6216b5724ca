"""Float simulator: the float64 reference the deployed network is verified against."""

from .sim import FloatSim

__all__ = ["FloatSim"]
