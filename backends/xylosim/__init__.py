"""The XyloSim backend: an integer graph of the xylo family on SynSense's own Xylo simulator.

XyloSim (rockpool 3.1.0 over the xylosim C++ package) is SynSense's bit-exact model of the Xylo
SNN core; it is snncc's oracle for the xylo target as Lava is for Loihi.  Importing this package
imports neither; XyloSimBackend.run() does.
"""

from .backend import XyloSimBackend

__all__ = ["XyloSimBackend"]
