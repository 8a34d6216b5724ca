"""compile_module(): `snncc compile` for a torch module built and loaded in Python (no model file)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from snncc.compile import compile_model
from snncc.data import dataset_from_arrays
from snncc.model_import import bind_torch
from snncc.options import CompileOptions
from snncc.pipeline import Progress
from snncc.result import CompileResult


def compile_module(
    model: Any,
    x: Any,
    y: Any = None,
    options: CompileOptions | None = None,
    progress: Progress | None = None,
    *,
    calib: Any = None,
) -> CompileResult:
    """`snncc compile` for a torch module built and loaded in Python (no model file, so no pickle):
    verified on the samples ``x`` (N, *input_shape), or (N, T, *input_shape) for one input per step,
    with optional integer labels ``y``; calibrated on ``calib`` (samples shaped as ``x``, numpy or
    torch), else on ``options.data.calib`` (a file), else on the first quarter of ``x``, then not
    scored.  The way in for models that cannot be saved whole (snntorch's Leaky holds a closure)."""
    options = options or CompileOptions()
    name = Path(f"<{type(model).__qualname__}>")
    dataset = dataset_from_arrays(x, y, source=ARRAY_X)  # the report names the data, not the model
    _, graph = bind_torch(model, dataset, options, source=f"torch:{name}")
    calibration = None if calib is None else dataset_from_arrays(calib, source=ARRAY_CALIB)
    return compile_model(name, options, progress, imported=(dataset, graph), calibration=calibration)


# how reports name data given as arrays (compile_module): a Dataset's path, never a file
ARRAY_X, ARRAY_CALIB = "<array x>", "<array calib>"
