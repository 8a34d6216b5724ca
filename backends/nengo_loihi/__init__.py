"""A second Loihi 1 oracle: nengo-loihi 1.1.0's chip emulator (imported only inside run())."""

from .backend import NengoLoihiBackend

__all__ = ["NengoLoihiBackend"]
