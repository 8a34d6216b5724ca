"""Write an output directory atomically: build it in a temporary sibling, rename when complete."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from snncc.errors import OutputError


def check_output_dir(path: Path, force: bool) -> None:
    """Fail before any work if the result could not be written."""
    if path.exists() and not force:
        raise OutputError(
            "output directory already exists",
            code="OUT002",
            source=str(path),
            hint="choose another --out, or pass --force to replace it",
        )
    if path.exists() and not path.is_dir():
        raise OutputError("output path exists and is not a directory", code="OUT003", source=str(path))
    parent = path.parent if str(path.parent) else Path(".")
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(
            f"cannot create the parent directory: {exc.strerror}", code="OUT004", source=str(parent)
        ) from exc
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError("the parent directory is not writable", code="OUT004", source=str(parent))


@contextlib.contextmanager
def atomic_output_dir(path: Path, force: bool = False) -> Iterator[Path]:
    """Yield a temporary directory; on success it replaces ``path``, on any failure it is removed."""
    check_output_dir(path, force)
    tmp = Path(tempfile.mkdtemp(prefix=f".{path.name}.tmp-", dir=path.parent))
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the result should look like any new directory
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.old-", dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
