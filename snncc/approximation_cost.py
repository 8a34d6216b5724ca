"""What a named approximation costs, measured in the run that uses it.

The deployed network carries quantization error and every approximation together; to say what
each approximation alone costs, the float simulator runs the imported model with only that
approximation applied (snncc/passes/approximate.py) on the verified samples and compares it with
the model as imported: its accuracy, and the fraction of samples whose decision (argmax, first
class on a tie, as snncc.verify decides) it changes.  With several approximations, all of them
together are measured too ("all").
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.backends import get_backend
from snncc.ir import Graph, Output
from snncc.passes.approximate import AFTER_CANONICALIZE, approximate
from snncc.passes.canonicalize import canonicalize
from snncc.verify import Comparison, predict

ALL = "all"


def approximated(model_graph: Graph, names: tuple[str, ...]) -> Graph:
    """The imported model with ``names`` applied, as the pipeline applies them (some after canonicalizing)."""
    graph, _ = approximate(model_graph, names)
    late = tuple(n for n in names if n in AFTER_CANONICALIZE)
    if late:
        graph, _ = approximate(canonicalize(graph), late)
    return graph


def measure(
    model_graph: Graph,
    inputs: dict[str, np.ndarray],
    labels: np.ndarray | None,
    names: tuple[str, ...],
    comparison: Comparison,
    batch_size: int = 64,
) -> dict[str, dict[str, Any]]:
    """name (and "all" for several) -> accuracy with it, its change in percentage points, and the
    fraction of samples whose decision it changes, against the float model of ``comparison``."""
    (out_name, out_op), *_ = model_graph.of_type(Output)
    base = comparison.verification.float_predictions
    variants = {name: (name,) for name in dict.fromkeys(names)}
    if len(variants) > 1:
        variants[ALL] = tuple(variants)
    costs = {}
    for key, applied in variants.items():
        graph = approximated(model_graph, applied)
        predicted = predict(_outputs(graph, inputs, out_name, batch_size), out_op.readout)
        accuracy = None if labels is None else float(np.mean(predicted == labels))
        base_accuracy = comparison.verification.float_accuracy
        costs[key] = {
            "applied": list(applied),
            "float_accuracy_with": accuracy,
            "accuracy_delta_pp": None if accuracy is None else 100 * (accuracy - base_accuracy),
            "decisions_changed": float(np.mean(predicted != base)) if len(base) else 0.0,
        }
    return costs


def _outputs(graph: Graph, inputs: dict[str, np.ndarray], output: str, batch_size: int) -> np.ndarray:
    sim = get_backend("floatsim")
    count = len(next(iter(inputs.values())))
    parts = [
        sim.run(graph, {k: np.asarray(v[s : s + batch_size]) for k, v in inputs.items()}).outputs[output]
        for s in range(0, count, batch_size)
    ]
    return np.concatenate(parts)


def describe(costs: dict[str, dict[str, Any]]) -> str:
    """'clif-as-hard-reset costs -2.97 pp accuracy (float alone) and changes 4.0 % of decisions'; one
    clause per approximation, for the verdict line."""
    parts = []
    for name, c in costs.items():
        label = "all together" if name == ALL else f"`{name}`"
        delta = c["accuracy_delta_pp"]
        acc = "" if delta is None else f"{delta:+.2f} pp accuracy, "
        parts.append(f"{label}: {acc}{100 * c['decisions_changed']:.2f} % of decisions changed")
    return "; ".join(parts)
