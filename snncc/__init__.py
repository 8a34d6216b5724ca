"""snncc: a deployment compiler for spiking neural networks.

Import order is one way: snncc.errors <- snncc.ir <- snncc.backends <- the front end.
The public API below is loaded lazily so that ``import snncc.ir`` stays light.
"""

from __future__ import annotations

from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "load_target": ("snncc.target", "load_target"),
    "compile_model": ("snncc.compile", "compile_model"),
    "compile_module": ("snncc.compile", "compile_module"),
    "write_report": ("snncc.report", "write_report"),
    "CompileOptions": ("snncc.options", "CompileOptions"),
    "SnnccError": ("snncc.errors", "SnnccError"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'snncc' has no attribute {name!r}")


__all__ = ["__version__", *_LAZY]
