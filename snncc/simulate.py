"""Run a compiled artifact (the integer graph and its float graph) on a backend and score it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snncc.backends import get_backend
from snncc.backends.refsim import RefSim
from snncc.compile import output_classes
from snncc.data import BUNDLED_DIGITS, check_labels, load_dataset
from snncc.errors import DataError
from snncc.ir import IntInput, Output, Stage, load, verify
from snncc.limits import check_graph
from snncc.passes.quantize import quantize_inputs
from snncc.verify import predict


def simulate_artifact(
    artifact: Path,
    *,
    data: Path | None = None,
    backend: str = "refsim",
    samples: int | None = None,
    device: str | None = None,
) -> dict[str, Any]:
    int_graph = verify(load(artifact, stem="graph"), Stage.INTEGER)
    float_graph = load(artifact, stem="float_graph")
    check_graph(int_graph, str(artifact))
    check_graph(float_graph, str(artifact))
    (input_name, input_op), *_ = int_graph.of_type(IntInput)
    dataset = load_dataset(data if data is not None else BUNDLED_DIGITS)
    x = dataset.x
    if tuple(x.shape[1:]) != input_op.shape:
        if int(np.prod(x.shape[1:])) != int(np.prod(input_op.shape)) or data is not None:
            raise DataError(
                f"samples have shape {tuple(x.shape[1:])} but the artifact takes {input_op.shape}",
                code="DAT008",
                source=str(dataset.path),
                hint="pass --data with inputs of the model's shape",
            )
        x = x.reshape(len(x), *input_op.shape)
    check_labels(dataset, output_classes(int_graph))
    n = len(x) if samples is None else min(samples, len(x))
    x, y = x[:n], None if dataset.y is None else dataset.y[:n]
    runner = RefSim(device=device) if backend == "refsim" else get_backend(backend)
    trace = runner.run(int_graph, quantize_inputs(int_graph, {input_name: x}))
    reference = get_backend("floatsim").run(float_graph, {input_name: x})
    (out_name, out_op), *_ = int_graph.of_type(Output)
    predicted = predict(trace.outputs[out_name], out_op.readout)
    float_predicted = predict(reference.outputs[out_name], out_op.readout)
    return {
        "artifact": str(artifact),
        "backend": backend,
        "samples": n,
        "steps": int_graph.meta.steps,
        "deployed_accuracy": None if y is None else float(np.mean(predicted == y)),
        "float_accuracy": None if y is None else float(np.mean(float_predicted == y)),
        "output_agreement": float(np.mean(predicted == float_predicted)),
        "wall_seconds": round(trace.wall_seconds, 3),
    }
