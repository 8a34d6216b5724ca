"""Trainable spiking neurons (spikingjelly conventions) and the multi-step ``SNN`` wrapper.

Models built from these classes and standard torch layers are what snncc imports:
``torch.save(model)`` them whole and ``snncc compile`` loads them without unpickling code.
"""

from .models import CLIF, DSRIF, DSRLIF, IMPIF, IMPLIF, KLIF, PLIF
from .neurons import IF, LIF, CubaLIF, Integrator, Neuron, reset_neurons
from .snn import READOUTS, SNN

NEURON_CLASSES = (LIF, IF, Integrator, PLIF, KLIF, CLIF, DSRIF, DSRLIF, IMPLIF, IMPIF, CubaLIF)

__all__ = [
    "CLIF",
    "DSRIF",
    "DSRLIF",
    "IF",
    "IMPIF",
    "IMPLIF",
    "KLIF",
    "LIF",
    "NEURON_CLASSES",
    "PLIF",
    "READOUTS",
    "SNN",
    "CubaLIF",
    "Integrator",
    "Neuron",
    "reset_neurons",
]
