"""Run a compiled artifact (the integer graph and its float graph) on a backend and score it.

On Lava and on nengo-loihi's Loihi 1 emulator the run is also compared with the reference backend bit for
bit (u, v and spikes of every layer at every step), so the summary says whether that simulator computed
exactly the specified network (snncc.fidelity names the semantics each comparison checks)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from snncc.backends import get_backend
from snncc.backends.refsim import RefSim
from snncc.compile import output_classes
from snncc.data import check_labels, verification_data
from snncc.ir import IntInput, Output, Stage, load, verify
from snncc.limits import check_graph
from snncc.passes.quantize import quantize_inputs
from snncc.verify import lava_check, predict


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
    classes = output_classes(int_graph)
    dataset = verification_data(data, input_shape=input_op.shape, steps=int_graph.meta.steps, classes=classes)
    check_labels(dataset, classes)
    x = dataset.x
    n = len(x) if samples is None else min(samples, len(x))
    x, y = x[:n], None if dataset.y is None else dataset.y[:n]
    reference = get_backend("floatsim").run(float_graph, {input_name: x})
    (out_name, out_op), *_ = int_graph.of_type(Output)
    float_predicted = predict(reference.outputs[out_name], out_op.readout)
    summary: dict[str, Any] = {
        "artifact": str(artifact),
        "backend": backend,
        "samples": n,
        "steps": int_graph.meta.steps,
        "float_accuracy": None if y is None else float(np.mean(float_predicted == y)),
    }
    if backend in ("lava", "nengo-loihi"):  # also compared with the reference backend bit for bit
        lava = lava_check(int_graph, {input_name: x}, float_predictions=float_predicted, labels=y, backend=backend)
        return {
            **summary,
            "deployed_accuracy": lava["deployed_accuracy"],
            "output_agreement": lava["output_agreement"],
            "wall_seconds": lava["wall_seconds"],
            "bit_exact_with_refsim": lava["bit_exact"],
            "compared_with_refsim": lava["compared"],
            "semantics": lava["semantics"],
            **({"first_mismatch": lava["first_mismatch"]} if "first_mismatch" in lava else {}),
        }
    runner = RefSim(device=device) if backend == "refsim" else get_backend(backend)
    trace = runner.run(int_graph, quantize_inputs(int_graph, {input_name: x}))
    predicted = predict(trace.outputs[out_name], out_op.readout)
    return {
        **summary,
        "deployed_accuracy": None if y is None else float(np.mean(predicted == y)),
        "output_agreement": float(np.mean(predicted == float_predicted)),
        "wall_seconds": round(trace.wall_seconds, 3),
        # neuron-steps whose summed input left the target's dendritic accumulator (refsim counts them)
        **(
            {"accumulator_overflows": {n: s.acc_overflows for n, s in trace.stats.items()}}
            if backend == "refsim"
            else {}
        ),
    }
