"""Input data: an ``.npz`` with ``x`` (N, *input_shape) and optional integer labels ``y`` (N,), or,
for data sets larger than memory, a directory holding ``x.npy`` (and ``y.npy``), which is
memory-mapped: verification then reads it batch by batch.  ``x`` of shape (N, T, *input_shape)
gives a different input at each of the T steps (e.g. spike trains); otherwise every step sees
the same sample (direct input)."""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import DataError
from snncc.limits import check_elements
from snncc.npz import declared, members, read_npz

# examples/digits/test_data.npz, installed as the package data of snncc.digits (pyproject.toml)
BUNDLED_DIGITS = Path(str(files("snncc.digits") / "test_data.npz"))
# training samples of the same split: what a compile on the bundled digits calibrates on
BUNDLED_DIGITS_CALIB = BUNDLED_DIGITS.with_name("calib_data.npz")


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
        return self.rows(0, n)

    def rows(self, start: int, stop: int | None = None) -> Dataset:
        return Dataset(self.path, self.x[start:stop], None if self.y is None else self.y[start:stop])


@dataclass(frozen=True)
class CalibrationSplit:
    """Which samples set the quantization scales, and which are scored, so that the report can say
    whether the scored samples were seen by calibration."""

    calibration: Dataset
    scored: Dataset
    how: str  # for the report: where the calibration samples come from
    overlaps: bool = False  # True: the scored samples include the calibration samples
    scored_start: int = 0  # the first scored sample's row in the data file (the rows before calibrate)


def split_for_calibration(data: Dataset, most: int) -> CalibrationSplit:
    """No separate calibration data: calibrate on the first min(most, N // 4) samples of ``data`` and
    score the others, so that accuracy is measured on samples calibration did not see.  A single
    sample cannot be split: it is both, and the split says so."""
    count = min(most, max(1, len(data) // 4))
    if len(data) < 2:
        return CalibrationSplit(data, data, f"the only sample of {data.path.name}, also scored", overlaps=True)
    return CalibrationSplit(
        data.rows(0, count),
        data.rows(count),
        f"the first {count} samples of {data.path.name} (not scored; the other {len(data) - count} are)",
        scored_start=count,
    )


# the input shapes the bundled digits fit: one 8x8 image with one channel, or its 64 pixels
BUNDLED_DIGIT_SHAPES: tuple[tuple[int, ...], ...] = ((1, 8, 8), (64,))


def verification_data(
    path: str | Path | None,
    *,
    input_shape: tuple[int, ...] | None = None,
    steps: int | None = None,
    classes: int | None = None,
) -> Dataset:
    """The samples a model is verified on (compile, NIR import and simulate choose them here).

    ``path`` (--data): that file, checked against ``input_shape`` when given (or, with ``steps``,
    one input per step).  Without one: the bundled digits test split (DAT010 if the install lacks
    it), in ``input_shape`` where that is one of BUNDLED_DIGIT_SHAPES (DAT011 otherwise); its
    labels 0-9 only for a model with at least ten output ``classes`` (else verified on agreement).
    """
    if path is not None:
        return load_dataset(path, input_shape, steps)
    if not BUNDLED_DIGITS.is_file():
        raise DataError(
            "no --data given and the bundled digits data is not available", code="DAT010", hint="pass --data FILE.npz"
        )
    digits = load_dataset(BUNDLED_DIGITS)
    if input_shape is not None:
        if tuple(input_shape) not in BUNDLED_DIGIT_SHAPES:
            raise DataError(
                f"the model takes samples of shape {tuple(input_shape)}, not the bundled 8x8 digits, and no --data"
                " was given",
                code="DAT011",
                hint="pass --data FILE.npz with x of shape (N, *input_shape) and optional labels y",
            )
        digits = Dataset(digits.path, digits.x.reshape(len(digits), *input_shape), digits.y)
    if classes is not None and digits.y is not None and digits.y.max() >= classes:
        digits = Dataset(digits.path, digits.x, None)
    return digits


def calibration_split(
    dataset: Dataset,
    *,
    input_shape: tuple[int, ...],
    steps: int,
    given: Dataset | None = None,
    calib: Path | None = None,
    data: Path | None = None,
    most: int = 256,
) -> CalibrationSplit:
    """Which samples set the scales: ``given``, else ``calib`` (--calib), else the bundled digits'
    training samples (for the bundled test split), else a part of ``dataset`` that is then not scored.
    ``data``: the --data path ``dataset`` was read from (None: the bundled digits); ``input_shape``
    and ``steps``: the imported model's, for calibration samples in another layout of the same values."""
    if given is not None:
        overlaps = given.path == dataset.path
        given = _like(given, dataset, input_shape, steps)  # DAT008 for samples of another shape
        return CalibrationSplit(given, dataset, f"{len(given)} samples of {given.path.name}", overlaps)
    if calib is not None:
        samples = _like(load_dataset(calib), dataset, input_shape, steps)
        same = data is not None and Path(calib).resolve() == Path(data).resolve()
        return CalibrationSplit(samples, dataset, f"{len(samples)} samples of {Path(calib).name} (--calib)", same)
    if data is None and dataset.path == BUNDLED_DIGITS and BUNDLED_DIGITS_CALIB.is_file():
        samples = _like(load_dataset(BUNDLED_DIGITS_CALIB), dataset, input_shape, steps)
        how = f"{len(samples)} training samples of the bundled digits (calib_data.npz)"
        return CalibrationSplit(samples, dataset, how)
    return split_for_calibration(dataset, most)


def _like(calib: Dataset, data: Dataset, input_shape: tuple[int, ...], steps: int) -> Dataset:
    """Calibration samples in the layout the data was imported with (direct or one input per step)."""
    sample = tuple(calib.x.shape[1:])
    if sample in (tuple(data.x.shape[1:]), tuple(input_shape), (steps, *input_shape)):
        return calib
    if int(np.prod(sample)) == int(np.prod(data.x.shape[1:])):  # e.g. (64,) samples for a (1, 8, 8) import
        return Dataset(calib.path, calib.x.reshape(len(calib.x), *data.x.shape[1:]), calib.y)
    raise DataError(
        f"calibration samples have shape {sample} but the model takes {tuple(input_shape)}"
        f" (or, one input per step, ({steps}, {', '.join(map(str, input_shape))}))",
        code="DAT008",
        source=str(calib.path),
        hint="give --calib samples of the same shape as the --data samples",
    )


def load_dataset(path: str | Path, input_shape: tuple[int, ...] | None = None, steps: int | None = None) -> Dataset:
    """Read and check a data file; ``input_shape`` (one sample) is checked when given, and with
    ``steps`` x may also hold one input per step, (N, steps, *input_shape)."""
    path = Path(path)
    hint = "save it with numpy.savez(path, x=inputs, y=labels); x has shape (N, *input_shape)"
    if path.is_dir():
        return _load_npy_dir(path, input_shape, steps)
    if not path.is_file():
        raise DataError("data file not found", code="DAT002", source=str(path), hint=hint)
    try:
        arrays = read_npz(path, ("x", "y"))  # only these: other members are never decompressed
    except (ValueError, OSError, zipfile.BadZipFile, EOFError) as exc:
        raise DataError(
            f"cannot read the data file as .npz ({exc})", code="DAT003", source=str(path), hint=hint
        ) from exc
    if "x" not in arrays:
        raise _no_x(path, members(path), hint)
    return _checked(path, arrays, input_shape, steps, hint)


def _no_x(path: Path, found: list[str], hint: str) -> DataError:
    """DAT004 naming the arrays the file does hold, and which of them may be meant as x and y."""
    named = ", ".join(repr(k) for k in found) if found else "no arrays at all"
    guess = {want: k for want in ("x", "y") for k in found if k.lower() in _ALIASES[want] and want not in found}
    if guess:
        renames = ", ".join(f"{want}={k}" for want, k in guess.items())
        hint = f"snncc reads the arrays named x (inputs) and y (labels): save them as numpy.savez(path, {renames})"
    return DataError(f"no array 'x' in the data file; it holds {named}", code="DAT004", source=str(path), hint=hint)


# names people give their inputs and labels, lower-cased: offered as x and y in DAT004's hint
_ALIASES = {
    "x": {"x", "inputs", "input", "data", "images", "samples", "features", "x_test", "x_train"},
    "y": {"y", "labels", "label", "targets", "target", "y_test", "y_train"},
}


def dataset_from_arrays(x: Any, y: Any = None, source: str = "<arrays>") -> Dataset:
    """The checks of a data file, for arrays in memory (numpy or CPU torch tensors)."""
    arrays = {"x": np.asarray(x)} if y is None else {"x": np.asarray(x), "y": np.asarray(y)}
    return _checked(Path(source), arrays, None, None, "pass x (N, *input_shape) and integer labels y (N,)")


def _checked(
    path: Path, arrays: dict[str, np.ndarray], input_shape: tuple[int, ...] | None, steps: int | None, hint: str
) -> Dataset:
    if "x" not in arrays:
        raise DataError(
            f"no array 'x' in the data file (found {sorted(arrays) or 'nothing'})",
            code="DAT004",
            source=str(path),
            hint=hint,
        )
    x = arrays["x"]
    for key in ("x", "y"):
        if key in arrays and np.iscomplexobj(arrays[key]):
            raise DataError(
                f"'{key}' holds complex numbers ({arrays[key].dtype}); snncc would drop their imaginary part",
                code="DAT015",
                source=str(path),
                hint="save real-valued inputs (e.g. the magnitude, or real and imaginary parts as channels)",
            )
    if not np.issubdtype(x.dtype, np.number) or x.ndim < 2:
        raise DataError(
            f"'x' must be a numeric array (N, *input_shape), got {x.dtype} {x.shape}",
            code="DAT005",
            source=str(path),
            hint=hint,
        )
    if len(x) == 0:
        raise DataError("the data file holds no samples", code="DAT006", source=str(path), hint=hint)
    per_step = steps is not None and tuple(x.shape[1:]) == (steps, *(input_shape or ()))
    if input_shape is not None and tuple(x.shape[1:]) != tuple(input_shape) and not per_step:
        also = f" or, one input per step, ({steps}, {', '.join(map(str, input_shape))})" if steps else ""
        raise DataError(
            f"samples have shape {tuple(x.shape[1:])} but the model takes {tuple(input_shape)}{also}",
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
    if not _all_finite(x):  # last: it reads all of x, which the checks above need not
        raise DataError("'x' holds NaN or infinite values", code="DAT007", source=str(path))
    return Dataset(path, x if isinstance(x, np.memmap) else x.astype(np.float64), y)


def check_labels(dataset: Dataset, classes: int) -> None:
    """Labels must name one of the model's output classes: another is never predicted, so the
    accuracy would be meaningless."""
    if dataset.y is None or len(dataset.y) == 0:
        return
    low, high = int(dataset.y.min()), int(dataset.y.max())
    if low < 0 or high >= classes:
        bad = low if low < 0 else high
        raise DataError(
            f"label {bad} in 'y' is not one of the model's {classes} output classes (0 to {classes - 1})",
            code="DAT014",
            source=str(dataset.path),
            hint="labels are class indices into the model's output; check that the data belongs to this model",
        )


def _load_npy_dir(path: Path, input_shape: tuple[int, ...] | None, steps: int | None) -> Dataset:
    """x.npy memory-mapped (never read whole), y.npy loaded; same checks as for .npz files."""
    hint = "save the arrays with numpy.save(DIR/'x.npy', inputs) and numpy.save(DIR/'y.npy', labels)"
    if not (path / "x.npy").is_file():
        raise DataError("the data directory has no x.npy", code="DAT004", source=str(path), hint=hint)
    arrays: dict[str, np.ndarray] = {}
    for name in ("x", "y"):
        file = path / f"{name}.npy"
        if file.is_file():
            try:
                # what the header declares, before mapping it (a sparse 8 KB file declares any size)
                check_elements(_declared_elements(file), f"{name}.npy", source=str(file))
                arrays[name] = np.load(file, mmap_mode="r", allow_pickle=False)
                if name == "y":  # read whole (x stays memory-mapped)
                    arrays[name] = np.array(arrays[name])
            except (ValueError, OSError, EOFError) as exc:
                raise DataError(f"cannot read {file.name} ({exc})", code="DAT003", source=str(file), hint=hint) from exc
    return _checked(path, arrays, input_shape, steps, hint)


def _declared_elements(file: Path) -> int:
    """The element count a .npy header declares (ValueError if it is not a .npy header)."""
    with open(file, "rb") as f:
        shape, _ = declared(f)
    return math.prod(shape)


def _all_finite(x: np.ndarray, chunk: int = 4096) -> bool:
    """np.isfinite over x in chunks of samples, so that a memory-mapped x is never read whole."""
    return all(np.isfinite(x[i : i + chunk]).all() for i in range(0, len(x), chunk))
