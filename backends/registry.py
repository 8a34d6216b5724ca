"""Backends by name, loaded lazily so that importing snncc never imports Lava or torch."""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points

from snncc.errors import BackendError

from .base import Backend

BUILTIN: dict[str, str] = {
    "refsim": "snncc.backends.refsim:RefSim",
    "lava": "snncc.backends.lava:LavaBackend",
    "floatsim": "snncc.backends.floatsim:FloatSim",
    "nengo-loihi": "snncc.backends.nengo_loihi:NengoLoihiBackend",
    "xylosim": "snncc.backends.xylosim:XyloSimBackend",
}


def available() -> dict[str, str]:
    """Name -> 'module:Class' for the built-ins and the entry-point group ``snncc.backends``."""
    found = dict(BUILTIN)
    for ep in entry_points(group="snncc.backends"):
        if ep.name in found:
            raise BackendError(
                f"backend name {ep.name!r} is registered twice ({found[ep.name]} and {ep.value})",
                code="BKD002",
            )
        found[ep.name] = ep.value
    return found


def get_backend(name: str) -> Backend:
    table = available()
    if name not in table:
        raise BackendError(
            f"unknown backend {name!r}",
            code="BKD003",
            hint=f"choose one of: {', '.join(sorted(table))}",
        )
    module_name, _, class_name = table[name].partition(":")
    module = importlib.import_module(module_name)
    return getattr(module, class_name)()
