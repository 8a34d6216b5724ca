"""The Lava backend: the integer graph on Lava's fixed-point (Loihi) process models.

Importing this package does not import Lava; LavaBackend.run() does, after the
Python 3.11 import fix in compat.py.
"""

from .backend import LavaBackend

__all__ = ["LavaBackend"]
