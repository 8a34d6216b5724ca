"""Importing lava-nc 0.10.0 on Python 3.11.

lava/magma/compiler/var_model.py declares a dataclass field whose default is another
dataclass instance.  Since Python 3.11 dataclasses reject unhashable defaults, and a
dataclass with eq=True and no frozen has no __hash__, so the import fails.  While that one
module is imported, dataclasses.dataclass defaults to unsafe_hash=True (which gives those
instances a hash and nothing else); the original decorator is restored immediately after.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import threading

from snncc.errors import BackendError

_lock = threading.Lock()
_ready = False

INSTALL_HINT = "run ./scripts/setup.sh, which installs lava-nc 0.10.0 into .venv"


def import_lava() -> None:
    """Make `import lava...` work; idempotent.  Raises BackendError if lava-nc is missing."""
    global _ready
    with _lock:
        if _ready:
            return
        if importlib.util.find_spec("lava") is None:
            raise BackendError("lava-nc is not installed", code="BKD001", hint=INSTALL_HINT)
        original = dataclasses.dataclass

        def hashable_dataclass(cls=None, /, **kwargs):
            kwargs.setdefault("unsafe_hash", True)
            return original(cls, **kwargs) if cls is not None else original(**kwargs)

        dataclasses.dataclass = hashable_dataclass  # type: ignore[assignment]
        try:
            importlib.import_module("lava.magma.compiler.var_model")
        except ImportError as exc:
            raise BackendError(f"lava-nc cannot be imported: {exc}", code="BKD001", hint=INSTALL_HINT) from exc
        finally:
            dataclasses.dataclass = original  # type: ignore[assignment]
        _ready = True
