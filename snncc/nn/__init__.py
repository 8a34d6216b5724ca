"""Trainable spiking neurons (spikingjelly conventions) and the multi-step ``SNN`` wrapper.

Models built from these classes and standard torch layers are what snncc imports:
``torch.save(model)`` them whole and ``snncc compile`` loads them without unpickling code.
"""

from .neurons import IF, LIF, Integrator, Neuron, reset_neurons
from .snn import READOUTS, SNN

__all__ = ["IF", "LIF", "READOUTS", "SNN", "Integrator", "Neuron", "reset_neurons"]
