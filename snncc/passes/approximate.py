"""Named approximations a user may ask for when the target lacks a neuron feature (or, for max
pooling of analog values, when no chip has the operation).

Each one rewrites the float graph (before canonicalization), so verification, which compares
the deployed network with the *imported* model, measures exactly what it costs.  None is
ever applied silently: `snncc compile --approximate NAME` names it, and the report lists the
layers it changed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from snncc.errors import Diagnostic, ImportFailed
from snncc.ir import LIF, AvgPool2d, Const, Graph, MaxPool2d, Op

# CLIF authors' recipe: run CLIF-trained weights as a LIF with a hard reset to a small negative
# potential (V_r = -0.06 at threshold 1 gave 95.08 % vs 95.41 % on CIFAR-10; neuron-models.md §3.3).
CLIF_HARD_RESET = -0.06


def _clif_as(reset: str) -> Callable[[LIF], LIF | None]:
    def rewrite(op: LIF) -> LIF | None:
        if "clif" not in op.neuron_features():  # a clif layer alone has the clif feature
            return None
        fields = {f.name: getattr(op, f.name) for f in dataclasses.fields(LIF)}
        if reset == "zero":
            # start at the reset potential too, so the chip needs no initial potential (Loihi 1 has none)
            v_reset = CLIF_HARD_RESET * op.threshold
            fields.update(reset="zero", v_reset=v_reset, v_init=Const(v_reset))
        return LIF(**fields)

    return rewrite


def _soft_as_hard(op: LIF) -> LIF | None:
    if "reset_subtract" not in op.neuron_features():  # a spiking soft reset (a clif's is part of the clif)
        return None
    return dataclasses.replace(op, reset="zero", v_reset=0.0)


def _drop_initial(op: LIF) -> LIF | None:
    changes: dict[str, Const | None] = {}
    if op.v_init is not None and op.v_init.array.any():
        changes["v_init"] = Const(0.0 if op.reset == "subtract" else op.v_reset)
    if op.i_init is not None and op.i_init.array.any():
        changes["i_init"] = None  # a synapse bias then enters the voltage at its steady state from step 1
    return dataclasses.replace(op, **changes) if changes else None


def _drop_floor(op: LIF) -> LIF | None:
    return None if op.v_floor is None else dataclasses.replace(op, v_floor=None)


def _maxpool_as_avgpool(op: MaxPool2d) -> AvgPool2d:
    return AvgPool2d(shape=op.shape, kernel=op.kernel, stride=op.stride, padding=op.padding)


MAXPOOL_AS_AVGPOOL = "maxpool-as-avgpool"
MAXPOOL_AFTER_NEURON = "maxpool-after-neuron"
# measured (benchmarks/maxpool_forms.py): 4 CSNNs with the pool before the neuron (snntorch's tutorial
# shape and a spikingjelly one, 2 seeds each) trained on the digits, deployed on loihi2 vs their float accuracy
MAXPOOL_COST = {
    MAXPOOL_AFTER_NEURON: "-2.45 to +1.55 pp, mean -0.45 pp",
    MAXPOOL_AS_AVGPOOL: "-60 to -84 pp",
}

# name -> (what it does, the op type it rewrites, the rewrite: None where it changes nothing)
APPROXIMATIONS: dict[str, tuple[str, type[Op], Callable[[Op], Op | None]]] = {
    "clif-as-hard-reset": (
        "CLIF run as a LIF with a hard reset to -0.06·threshold (the CLIF authors' recipe)",
        LIF,
        _clif_as("zero"),
    ),
    "clif-as-soft-reset": (
        "CLIF run as a LIF with a soft reset by the threshold (drops the sigmoid(m) term)",
        LIF,
        _clif_as("subtract"),
    ),
    "soft-reset-as-hard": ("soft reset (subtract the threshold) replaced by a hard reset to 0", LIF, _soft_as_hard),
    "drop-initial-potential": (
        "per-sample initial potential (and initial current) replaced by the resting state",
        LIF,
        _drop_initial,
    ),
    "drop-floor": ("voltage floor (KLIF's ReLU) removed", LIF, _drop_floor),
    MAXPOOL_AS_AVGPOOL: (
        "max pooling of analog values replaced by average pooling of the same window (zero padding counted); "
        f"costly: {MAXPOOL_COST[MAXPOOL_AS_AVGPOOL]} on user CSNNs",
        MaxPool2d,
        _maxpool_as_avgpool,
    ),
}


# rewrites of the graph's structure (passes/maxpool_forms.py): name -> what it does
RESTRUCTURING: dict[str, str] = {
    MAXPOOL_AFTER_NEURON: "max pooling before a neuron moved after it (the neuron at the pool's input resolution, "
    f"its spikes max-pooled: their OR, exact on chip); {MAXPOOL_COST[MAXPOOL_AFTER_NEURON]} on user CSNNs",
}
NAMES = (*APPROXIMATIONS, *RESTRUCTURING)


def describe(name: str) -> str:
    return RESTRUCTURING[name] if name in RESTRUCTURING else APPROXIMATIONS[name][0]


COSTLY_PP = 3.0  # an approximation that loses more than this many points is said to, with the way out


def cost_warning(
    changed: dict[str, list[str]], float_accuracy: float | None, deployed_accuracy: float | None
) -> list[Diagnostic]:
    """VER010 where the approximations a compile applied cost more than COSTLY_PP points of accuracy."""
    used = [name for name, layers in changed.items() if layers]
    if not used or float_accuracy is None or deployed_accuracy is None:
        return []
    lost = 100 * (float_accuracy - deployed_accuracy)
    if lost <= COSTLY_PP:
        return []
    return [
        Diagnostic(
            "warning",
            "VER010",
            f"the approximations {', '.join(used)} cost {lost:.2f} points of accuracy here "
            f"(float {100 * float_accuracy:.2f} %, deployed {100 * deployed_accuracy:.2f} %)",
            hint="`snncc finetune MODEL --target T --data TRAIN.npz --out DIR` adapts the trained model to the "
            "approximated form with the target's quantization in the loop; compile DIR/model.nir",
        )
    ]


# applied again to the canonical graph: canonicalization makes initial currents (canonicalize.py)
AFTER_CANONICALIZE = ("drop-initial-potential",)


def approximate(graph: Graph, names: tuple[str, ...]) -> tuple[Graph, dict[str, list[str]]]:
    """Apply the named approximations; returns the graph and, per name, the layers it changed."""
    unknown = sorted(set(names) - set(NAMES))
    if unknown:
        raise ImportFailed(
            f"unknown approximation(s): {', '.join(unknown)}",
            code="IMT030",
            hint=f"available: {', '.join(NAMES)}",
        )
    changed: dict[str, list[str]] = {name: [] for name in names}
    if MAXPOOL_AFTER_NEURON in names:
        graph, changed[MAXPOOL_AFTER_NEURON] = _maxpool_after_neuron(graph)
    for name in (n for n in names if n in APPROXIMATIONS):
        _, kind, rewrite = APPROXIMATIONS[name]
        updates = {}
        for layer, op in graph.of_type(kind):
            new = rewrite(op)
            if new is not None:
                updates[layer] = new
                changed[name].append(layer)
        graph = graph.replace_nodes(**updates)
    return graph, changed


def _maxpool_after_neuron(graph: Graph) -> tuple[Graph, list[str]]:
    # uncalibrated: calibrating the gains to the trained firing rates did not pay (passes/maxpool_forms.py)
    from .maxpool_forms import UNPOOLED, after_neuron, analog_pools

    moved = after_neuron(graph)
    return moved, [p for p, n in analog_pools(graph) if f"{n}{UNPOOLED}" in moved]
