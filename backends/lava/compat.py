"""Importing lava-nc 0.10.0 on Python 3.11.

lava/magma/compiler/var_model.py declares a dataclass field whose default is another
dataclass instance.  Since Python 3.11 dataclasses reject unhashable defaults, and a
dataclass with eq=True and no frozen has no __hash__, so the import fails.  While that one
module is imported, dataclasses.dataclass defaults to unsafe_hash=True (which gives those
instances a hash and nothing else); the original decorator is restored immediately after.

lava/magma/runtime/message_infrastructure/multiprocessing.py calls
``multiprocessing.set_start_method('fork')`` at import, which raises once anything in the process
has fixed the start method, as any multiprocessing lock does (tqdm makes one for every progress bar,
torch.fx's shape propagation shows one).  That module is imported here too, with a request for the
method already in use (fork, Linux's default) made a no-op; any other method is a clear error.
"""

from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import multiprocessing
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
        _import_with_fork()
        _ready = True


def _import_with_fork() -> None:
    """Import Lava's multiprocessing module, whose import-time set_start_method('fork') must not fail
    because the process already uses fork."""
    set_start_method = multiprocessing.set_start_method

    def tolerant(method: str | None, force: bool = False) -> None:
        current = multiprocessing.get_start_method(allow_none=True)
        if current is not None and current != method and not force:
            raise BackendError(
                f"Lava needs the {method!r} start method of multiprocessing; this process already uses {current!r}",
                code="BKD004",
                hint="run Lava in a process that does not call multiprocessing.set_start_method first",
            )
        if current != method or force:
            set_start_method(method, force=force)

    multiprocessing.set_start_method = tolerant  # type: ignore[assignment]
    try:
        importlib.import_module("lava.magma.runtime.message_infrastructure.multiprocessing")
    finally:
        multiprocessing.set_start_method = set_start_method  # type: ignore[assignment]
