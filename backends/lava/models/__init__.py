"""Lava process models written by snncc (imported only after the Lava import fix)."""
