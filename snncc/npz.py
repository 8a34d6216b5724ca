"""Read chosen members of an .npz, checking each declared shape against the limits first.

np.load reads a member only when asked, but a dict of every member decompresses them all: a
9 KB file can declare an 8 TiB member nobody uses.  Here only the named members are read, and
each .npy header (shape, dtype) is checked before its data is (snncc/limits.py).
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

import numpy as np

from snncc.limits import check_elements


def read_npz(path: Path, names: list[str] | tuple[str, ...]) -> dict[str, np.ndarray]:
    """The members ``names`` (without .npy) that the file has; others are never read.

    Raises ValueError/OSError/zipfile.BadZipFile for damaged files (as np.load does) and
    ResourceLimitError for a member declaring more than --max-elements.
    """
    arrays: dict[str, np.ndarray] = {}
    try:
        with np.load(path, allow_pickle=False) as npz:
            for name in names:
                if name not in npz.files:
                    continue
                with npz.zip.open(f"{name}.npy") as member:
                    shape, dtype = declared(member)
                check_elements(_elements(shape, dtype), f"array {name!r}", source=str(path))
                arrays[name] = npz[name]
    except (EOFError, zlib.error, struct.error, NotImplementedError) as exc:  # a member cut short or garbled
        raise ValueError(f"a damaged member ({type(exc).__name__}: {exc})") from exc
    return arrays


def members(path: Path) -> list[str]:
    """The names of the arrays an .npz holds (read from its directory: no member is decompressed)."""
    with np.load(path, allow_pickle=False) as npz:
        return sorted(npz.files)


def declared(stream) -> tuple[tuple[int, ...], np.dtype]:
    """The shape and dtype a .npy header declares (ValueError for anything else), its data unread."""
    try:
        version = np.lib.format.read_magic(stream)
        read = {(1, 0): np.lib.format.read_array_header_1_0, (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read is None:
            raise ValueError(f".npy format version {version} (snncc reads 1.0 and 2.0)")
        shape, _fortran, dtype = read(stream)
    except ValueError:
        raise
    except Exception as exc:  # numpy parses the header dict with tokenize and ast: a garbled one raises anything
        raise ValueError(f"a damaged .npy header ({type(exc).__name__})") from exc
    return tuple(shape), dtype


def _elements(shape: tuple[int, ...], dtype: np.dtype) -> int:
    """Elements, counting a wide dtype (e.g. a 1 GB void) as its size in 8-byte words."""
    return math.prod(shape) * max(1, dtype.itemsize // 8)
