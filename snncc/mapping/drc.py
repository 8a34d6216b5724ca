"""Design rules: small named checks, each with its hardware reason, all run so every violation is reported."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snncc.errors import Diagnostic
from snncc.families import family_of
from snncc.hints import framework_fix
from snncc.ir import Graph, IntInput, IntLIF
from snncc.target import Target

from .connectivity import neuron_layers, projections
from .placement import Piece
from .resources import piece_inputs, single_neuron_box

Rule = Callable[[Graph, Target], list[Diagnostic]]

REDUCE_FAN_IN = "reduce the layer's fan-in (fewer input channels, a smaller kernel, or fewer input bits)"

# snncc compile --approximate NAME (snncc/passes/approximate.py) for a missing neuron feature
APPROXIMATIONS_FOR: dict[str, tuple[str, ...]] = {
    "reset_subtract": ("soft-reset-as-hard",),
    "v_init": ("drop-initial-potential",),
    "v_floor": ("drop-floor",),
    "clif": ("clif-as-hard-reset", "clif-as-soft-reset"),
}


def input_encoding_supported(graph: Graph, target: Target) -> list[Diagnostic]:
    """The chip must be able to receive the input in its encoding (Loihi 1 has binary spikes only)."""
    return [
        Diagnostic(
            "error",
            "MAP001",
            f"{target.name} cannot receive {op.encoding!r} input",
            node=name,
            hint=f"compile with --input-encoding {target.input_encodings[0]}",
        )
        for name, op in graph.of_type(IntInput)
        if op.encoding not in target.input_encodings
    ]


def neuron_features_supported(graph: Graph, target: Target) -> list[Diagnostic]:
    """The neuron circuit must implement every feature the layer uses."""
    diags = []
    for name, op in graph.of_type(IntLIF):
        for feature in sorted(op.neuron_features() - target.neuron_features):
            approximations = ", ".join(APPROXIMATIONS_FOR.get(feature, ())) or "none exists"
            fix = framework_fix(graph, name, feature, target.name, target.numerics.family, op.reset)
            diags.append(
                Diagnostic(
                    "error",
                    "MAP002",
                    f"the layer needs the neuron feature {feature!r}, which {target.name} does not have",
                    node=name,
                    hint=f"{fix}; or choose a target that has it (see `snncc targets`), or accept a named "
                    f"approximation: {approximations}"
                    if fix
                    else f"choose a target that has it (see `snncc targets`), retrain without it, or accept a named "
                    f"approximation: {approximations}",
                )
            )
    return diags


def one_neuron_fits_a_core(graph: Graph, target: Target) -> list[Diagnostic]:
    """A neuron's input axons and synapses must fit one core; snncc.mapping.split splits the fan-in of
    the layers it can on targets with graded relays before these rules run, so what remains is reported."""
    pc = target.per_core
    diags = []
    for layer, op in neuron_layers(graph):
        axons, bits = piece_inputs(graph, target, Piece(layer, single_neuron_box(op.shape)))
        if axons > pc.fan_in_axons.value:
            diags.append(
                Diagnostic(
                    "error",
                    "MAP003",
                    f"one neuron needs {axons} input axons{_bit_plane_share(graph, layer)}; a core on {target.name} "
                    f"has {int(pc.fan_in_axons.value)}",
                    node=layer,
                    hint=REDUCE_FAN_IN
                    + (
                        "; a chip with graded spikes (e.g. loihi2) needs one axon per input value"
                        if _bit_plane_share(graph, layer)
                        else ""
                    )
                    + _no_split(graph, target, layer),
                )
            )
        if bits > pc.synapse_memory_bits.value:
            diags.append(
                Diagnostic(
                    "error",
                    "MAP004",
                    f"one neuron's synapses need {bits} bits; a core on {target.name} has {int(pc.synapse_memory_bits.value)}",
                    node=layer,
                    hint="reduce the layer's fan-in",
                )
            )
    return diags


def _no_split(graph: Graph, target: Target, layer: str) -> str:
    """'; why snncc could not split it' for a layer left too wide (partial sums are IntPartialSum, not neurons)."""
    from .split import why_not_split

    if graph[layer].IS_RELAY:  # a partial sum is split already
        return ""
    reason = why_not_split(graph, target, layer)
    return f"; {reason}" if reason else ""


def _bit_plane_share(graph: Graph, layer: str) -> str:
    """' (x bit planes of the input each)' where bit-plane input multiplies a layer's axons."""
    planes = {p.planes for p in projections(graph, layer) if p.planes > 1}
    if not planes:
        return ""
    return f" (the analog input arrives as {max(planes)} bit planes, one axon each per input value)"


def neurons_fit_the_system(graph: Graph, target: Target) -> list[Diagnostic]:
    """All neurons together cannot exceed the chip's (or system's) compartments."""
    total = sum(int(np.prod(op.shape)) for _, op in neuron_layers(graph))
    capacity = target.total_cores * int(target.per_core.neurons.value)
    if total <= capacity:
        return []
    biggest = max(neuron_layers(graph), key=lambda item: int(np.prod(item[1].shape)))
    return [
        Diagnostic(
            "error",
            "MAP005",
            f"the network has {total} neurons; {target.name} holds {capacity}",
            node=biggest[0],
            hint="reduce the largest layers, or choose a target with more cores or chips",
        )
    ]


def limits_are_confirmed(graph: Graph, target: Target) -> list[Diagnostic]:
    """Results that rely on uncertain hardware numbers must say so."""
    uncertain = [
        name
        for name in ("neurons", "fan_in_axons", "fan_out_axons", "synapse_memory_bits")
        if getattr(target.per_core, name).confidence == "uncertain"
    ]
    if not uncertain:
        return []
    return [
        Diagnostic(
            "warning",
            "MAP030",
            f"mapping relies on uncertain per-core limits of {target.name}: {', '.join(uncertain)}",
            source=target.path.name,  # reports travel: the file's name, not where snncc is installed
        )
    ]


RULES: tuple[Rule, ...] = (
    input_encoding_supported,
    neuron_features_supported,
    one_neuron_fits_a_core,
    neurons_fit_the_system,
    limits_are_confirmed,
)


def check_design_rules(graph: Graph, target: Target) -> list[Diagnostic]:
    return [d for rule in family_of(target.numerics).design_rules() for d in rule(graph, target)]
