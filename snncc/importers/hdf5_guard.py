"""Refuse HDF5 files that reach outside themselves or declare more than the limits allow.

An HDF5 dataset can keep its bytes in another file (external storage), a link can point into
another file (external link), and a virtual dataset maps other files' data: reading such a
"model" reads /etc/passwd into the weights and from there into the artifact.  Before nir or
the netx reader sees a file, every object is visited (links inspected, not followed) and the
file is refused with LOD230 at the first dataset or link that refers elsewhere, or LOD231
when its datasets declare more elements than --max-elements (a compressed dataset of zeros
is tiny on disk).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from snncc.errors import ModelLoadError
from snncc.limits import check_elements

MAX_DEPTH = 64  # groups nest this deep at most (hard links can form cycles)
MAX_OBJECTS = 100_000


def check_hdf5(path: Path) -> None:
    """Raise ModelLoadError (LOD230) or ResourceLimitError (LIM001) for a hostile file; OSError if
    the file is not HDF5 at all (the caller's "unreadable file" error)."""
    import h5py

    try:
        with h5py.File(path, "r") as handle:
            total = _walk(handle, "", 0, [0], str(path))
    except (RuntimeError, KeyError, ValueError) as exc:  # h5py's words for a damaged group or object header
        raise OSError(f"a damaged HDF5 file ({exc})") from exc
    check_elements(total, "the file's datasets together", source=str(path))


def _walk(group: Any, where: str, depth: int, seen: list[int], source: str) -> int:
    import h5py

    if depth > MAX_DEPTH:
        raise _refuse(f"groups nest more than {MAX_DEPTH} deep at {where or '/'}", source)
    total = 0
    for name in group:
        seen[0] += 1
        if seen[0] > MAX_OBJECTS:
            raise _refuse(f"more than {MAX_OBJECTS:,} objects", source)
        at = f"{where}/{name}"
        link = group.get(name, getlink=True)
        if isinstance(link, h5py.ExternalLink):
            raise _refuse(f"{at} is a link into another file ({link.filename})", source)
        if isinstance(link, h5py.SoftLink):
            raise _refuse(f"{at} is a soft link (to {link.path})", source)
        item = group[name]
        if isinstance(item, h5py.Group):
            total += _walk(item, at, depth + 1, seen, source)
        elif isinstance(item, h5py.Dataset):
            total += _dataset_elements(item, at, source)
    return total


def _dataset_elements(dataset: Any, at: str, source: str) -> int:
    if dataset.external:
        files = ", ".join(str(entry[0]) for entry in dataset.external)
        raise _refuse(f"dataset {at} keeps its data in another file ({files})", source)
    if dataset.is_virtual:
        raise _refuse(f"dataset {at} is a virtual dataset (it maps data of other files)", source)
    shape = dataset.shape or ()
    elements = math.prod(shape) * max(1, dataset.dtype.itemsize // 8)
    check_elements(elements, f"dataset {at}", source=source)
    return elements


def _refuse(what: str, source: str) -> ModelLoadError:
    return ModelLoadError(
        f"the HDF5 file refers outside itself or is malformed: {what}; snncc reads only self-contained files",
        code="LOD230",
        source=source,
        hint="re-export the model with nir.write / lava-dl's export_hdf5, which write self-contained files",
    )
