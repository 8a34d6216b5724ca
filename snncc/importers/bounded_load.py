"""torch.load(weights_only=True) of an untrusted file, with what it may allocate bounded.

torch's allowlist still lets a pickle *call* things: ``bytearray(n)``, ``torch.FloatStorage(n)``,
or an allowlisted layer's constructor (``nn.Linear(20000, 20000)``, 1.6 GB, from 137 bytes).  A
file saved with torch.save never does: modules are rebuilt with ``__new__`` and their tensors
come from the archive.  So unpickling runs (1) with layers constructed on the meta device,
where their weights take no memory (such a module is then refused, LOD016), (2) with the
address space bounded (snncc/limits.py), and (3) every tensor that results is checked against
--max-elements before anything computes with it (a zero-stride view declares any size).
"""

from __future__ import annotations

import math
import warnings
import zipfile
from pathlib import Path
from typing import Any

import torch

from snncc.errors import ModelLoadError, ResourceLimitError
from snncc.limits import address_space_bounded, check_elements, current

UNPICKLE_SLACK_BYTES = 1 << 30  # imports and torch's own bookkeeping while unpickling
MAX_OBJECTS = 1_000_000  # objects visited when looking for tensors (a pickle can share one list a million times)


def load_untrusted(path: Path) -> Any:
    """What the file holds, loaded with ``weights_only=True`` under the bounds above."""
    budget = current().max_elements * 8
    _check_archive(path, budget)
    try:
        with address_space_bounded(budget + UNPICKLE_SLACK_BYTES), torch.device("meta"), warnings.catch_warnings():
            # torch warns about plain pickles before refusing them; snncc's own error says it better
            warnings.filterwarnings("ignore", message="Detected pickle protocol", category=UserWarning)
            obj = torch.load(path, weights_only=True, map_location="cpu")
    except MemoryError as exc:
        raise _too_large(path) from exc
    except RuntimeError as exc:
        if "alloc" not in str(exc).lower():
            raise
        raise _too_large(path) from exc
    _check_tensors(obj, path)
    return obj


def _check_archive(path: Path, budget: int) -> None:
    """A zip checkpoint's members, decompressed, within the budget (a deflated member of zeros is tiny)."""
    if not zipfile.is_zipfile(path):
        return
    try:
        with zipfile.ZipFile(path) as archive:
            size = sum(info.file_size for info in archive.infolist())
    except (zipfile.BadZipFile, OSError):
        return  # torch.load reports the damage
    check_elements(size // 8, "the archive (its members decompressed, in 8-byte words)", source=str(path))


def _check_tensors(obj: Any, path: Path) -> None:
    total = 0
    for tensor in _tensors(obj, path):
        if tensor.is_meta:
            raise ModelLoadError(
                "the file calls a layer's constructor instead of storing the layer's weights "
                "(torch.save never writes that; a crafted file does, to allocate memory)",
                code="LOD016",
                source=str(path),
                hint="save the model with torch.save(model, path) or torch.save(model.state_dict(), path)",
            )
        elements = math.prod(tensor.shape)
        check_elements(elements, f"a tensor of shape {tuple(tensor.shape)}", source=str(path))
        total += elements
    check_elements(total, "the file's tensors together", source=str(path))


def _tensors(obj: Any, path: Path) -> list[torch.Tensor]:
    """Every tensor reachable from ``obj`` (containers, module attributes), each shared one once."""
    found, seen, stack = [], set(), [obj]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        if len(seen) > MAX_OBJECTS:
            raise ResourceLimitError(
                f"the file holds more than {MAX_OBJECTS:,} objects", code="LIM001", source=str(path)
            )
        if isinstance(item, torch.Tensor):
            found.append(item)
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            stack.extend(item)
        elif isinstance(item, torch.nn.Module):
            stack.append(vars(item))
    return found


def _too_large(path: Path) -> ResourceLimitError:
    limit = current().max_elements
    return ResourceLimitError(
        f"reading the file allocates more memory than {limit:,} elements allow (a crafted file, or a model "
        "larger than the limit)",
        code="LIM001",
        source=str(path),
        hint=f"if the file is yours and the model really is that large, raise the limit with --max-elements {limit * 4}",
    )
