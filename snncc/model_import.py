"""The model file, by its format, as a FLOAT graph with the data it is verified on: NIR, a lava-dl
netx network (INTEGER), or a torch model read once and bound to its data (snncc/binding.py)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from snncc.binding import bind
from snncc.data import BUNDLED_DIGIT_SHAPES, Dataset, verification_data
from snncc.errors import Diagnostic, ImportFailed, InvalidGraph
from snncc.ir import Graph
from snncc.netx_model import import_netx_model, is_hdf5
from snncc.options import CompileOptions

Progress = Callable[[str], None]


def import_model(
    path: Path,
    options: CompileOptions,
    warn: Callable[[Diagnostic], None] | None = None,
    say: Progress | None = None,
) -> tuple[Dataset, Graph]:
    """``warn`` gets the importer's warnings, ``say`` what the loader chose (e.g. a checkpoint's entry)."""
    m = options.model
    if path.suffix.lower() == ".nir":
        from snncc.importers.nir import import_nir_file  # nir is imported only for NIR models

        return import_nir_file(
            path, dt=m.dt, steps=m.steps, readout=m.readout, exporter=m.nir_from, data=options.data.file, warn=warn
        )
    if is_hdf5(path):  # by content: a lava-dl netx network, whatever the file is called
        return import_netx_model(path, options)
    if path.suffix.lower() == ".onnx":
        raise ImportFailed(
            "an ONNX file is an ANN; snncc converts it to an SNN with `snncc convert`",
            code="IMT009",
            source=str(path),
            hint=f"run: snncc convert {path} --calib DATA.npz --steps T --target ... --out DIR",
        )
    from snncc.importers.torch import load_torch_model  # torch is imported only for torch models

    model = load_torch_model(path, allow_pickle=m.allow_pickle, arch=m.arch, note=say)
    dataset = None if options.data.file is None else verification_data(options.data.file)
    return bind_torch(model, dataset, options, source=f"torch:{path}", warn=warn)


def bind_torch(
    model: Any,
    dataset: Dataset | None,
    options: CompileOptions,
    source: str,
    warn: Callable[[Diagnostic], None] | None = None,
) -> tuple[Dataset, Graph]:
    """A torch module read once, then bound to ``dataset`` (None: the bundled digits); the
    importer's warnings go to ``warn`` once a shape fitted."""
    from snncc.importers.torch import read_torch

    # the input of the probe run that confirms an untraceable forward: the first shape bind tries
    sample = BUNDLED_DIGIT_SHAPES[0] if dataset is None else tuple(dataset.x.shape[1:])
    read = read_torch(
        model, steps=options.model.steps, readout=options.model.readout, source=source, probe_shape=sample
    )
    bound = bind(read.graph, dataset)
    for warning in read.warnings:
        (warn or (lambda _d: None))(warning)
    return bound


@contextlib.contextmanager
def located(path: Path) -> Iterator[None]:
    """Errors about the model name the model file (which file, which layer, what, what to do)."""
    try:
        yield
    except (ImportFailed, InvalidGraph) as err:
        raise err.located(str(path)) from err.__cause__
