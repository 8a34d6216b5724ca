"""Input data files: ``.npz`` with ``x`` (N, *input_shape) and optional integer labels ``y`` (N,)."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from snncc.errors import DataError

BUNDLED_DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits" / "test_data.npz"


@dataclass(frozen=True)
class Dataset:
    path: Path
    x: np.ndarray  # float64 (N, *shape)
    y: np.ndarray | None  # int64 (N,)

    def __len__(self) -> int:
        return len(self.x)

    def head(self, n: int | None) -> Dataset:
        if n is None or n >= len(self):
            return self
        return Dataset(self.path, self.x[:n], None if self.y is None else self.y[:n])


def load_dataset(path: str | Path, input_shape: tuple[int, ...] | None = None) -> Dataset:
    """Read and check a data file; ``input_shape`` (one sample) is checked when given."""
    path = Path(path)
    hint = "save it with numpy.savez(path, x=inputs, y=labels); x has shape (N, *input_shape)"
    if not path.is_file():
        raise DataError("data file not found", code="DAT002", source=str(path), hint=hint)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"cannot read the data file as .npz ({exc})", code="DAT003", source=str(path), hint=hint
        ) from exc
    if "x" not in arrays:
        raise DataError(
            f"no array 'x' in the data file (found {sorted(arrays) or 'nothing'})",
            code="DAT004",
            source=str(path),
            hint=hint,
        )
    x = arrays["x"]
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2:
        raise DataError(
            f"'x' must be a numeric array (N, *input_shape), got {x.dtype} {x.shape}",
            code="DAT005",
            source=str(path),
            hint=hint,
        )
    if len(x) == 0:
        raise DataError("the data file holds no samples", code="DAT006", source=str(path), hint=hint)
    if not np.all(np.isfinite(x)):
        raise DataError("'x' holds NaN or infinite values", code="DAT007", source=str(path))
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape):
        raise DataError(
            f"samples have shape {tuple(x.shape[1:])} but the model takes {tuple(input_shape)}",
            code="DAT008",
            source=str(path),
            hint="reshape the data to the model's input shape, or pass the right --data file",
        )
    y = arrays.get("y")
    if y is not None:
        if not np.issubdtype(y.dtype, np.integer) or y.shape != (len(x),):
            raise DataError(
                f"'y' must be integer labels of shape ({len(x)},), got {y.dtype} {y.shape}",
                code="DAT009",
                source=str(path),
            )
        y = y.astype(np.int64)
    return Dataset(path, x.astype(np.float64), y)
