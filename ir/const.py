"""Read-only arrays with value equality, so IR nodes can be frozen and compared."""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np


class Const:
    """An immutable numpy array.

    Equality compares dtype, shape and values; the hash is a digest of the same, so
    two graphs built from equal data compare equal and hash alike.
    """

    __slots__ = ("_array", "_digest")

    def __init__(self, value: Any, dtype: Any = None) -> None:
        array = np.array(value, dtype=dtype, copy=True)
        if array.dtype == object:
            raise TypeError("Const holds numeric arrays only")
        array.setflags(write=False)
        self._array = array
        self._digest: str | None = None

    @property
    def array(self) -> np.ndarray:
        return self._array

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self._array.shape)

    @property
    def dtype(self) -> np.dtype:
        return self._array.dtype

    def digest(self) -> str:
        if self._digest is None:
            h = hashlib.sha256()
            h.update(str(self._array.dtype).encode())
            h.update(repr(self._array.shape).encode())
            h.update(np.ascontiguousarray(self._array).tobytes())
            self._digest = h.hexdigest()
        return self._digest

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Const):
            return NotImplemented
        return (
            self._array.dtype == other._array.dtype
            and self._array.shape == other._array.shape
            and bool(np.array_equal(self._array, other._array, equal_nan=self._is_float()))
        )

    def _is_float(self) -> bool:
        return np.issubdtype(self._array.dtype, np.floating)

    def __hash__(self) -> int:
        return hash(self.digest())

    def __repr__(self) -> str:
        if self._array.size <= 4:
            return f"Const({self._array.tolist()!r}, {self._array.dtype})"
        return f"Const(shape={self.shape}, dtype={self._array.dtype})"

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self._array if dtype is None else self._array.astype(dtype)
