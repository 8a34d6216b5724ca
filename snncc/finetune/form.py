"""The target's deployable form of a trained float graph: the named approximations it needs
(passes/approximate.py), chosen from what the model uses and what the target lacks, then the
canonical graph that fine-tuning trains and quantization takes."""

from __future__ import annotations

import numpy as np

from snncc.analyses import Approximated
from snncc.errors import FinetuneError
from snncc.ir import CLIF, LIF, Graph, MaxPool2d
from snncc.mapping.drc import APPROXIMATIONS_FOR
from snncc.passes.approximate import MAXPOOL_AFTER_NEURON
from snncc.pipeline import Approximate, ApproximateCanonical, Canonicalize, Context, run_pipeline
from snncc.target import Target


def needed(graph: Graph, target: Target) -> tuple[str, ...]:
    """The approximations without which ``target`` cannot run ``graph`` (in the order they apply)."""
    names = [MAXPOOL_AFTER_NEURON] if graph.of_type(MaxPool2d) else []
    features = set()
    for _, op in graph.of_type(LIF):
        if op.spiking and op.reset == "subtract" and not isinstance(op, CLIF):
            features.add("reset_subtract")
        if op.v_floor is not None:
            features.add("v_floor")
        if any(c is not None and np.any(c.array != 0) for c in (op.v_init, op.i_init)):
            features.add("v_init")
        if isinstance(op, CLIF):
            features.add("clif")
    for feature in sorted(features - target.neuron_features):
        names.append(APPROXIMATIONS_FOR[feature][0])
    return tuple(names)


def trainable_for(target: Target) -> None:
    """FTN002 unless the training loop models the target's integer formats (grid.py: Loihi's)."""
    if target.numerics.family != "loihi":
        raise FinetuneError(
            f"finetune trains through Loihi's integer formats (weight mantissas with exponents, 12-bit decays); "
            f"{target.name}'s {target.numerics.family} formats are not modelled in its training loop",
            code="FTN002",
            hint="fine-tune for loihi, loihi2, nahuku32 or toy",
        )


def deployable(graph: Graph, target: Target) -> tuple[Graph, dict[str, list[str]]]:
    """The CANONICAL graph of ``graph`` in ``target``'s form, and per approximation the layers it changed."""
    trainable_for(target)
    names = needed(graph, target)
    ctx = Context(target=target)
    canonical = run_pipeline(graph, [Approximate(names), Canonicalize()], ctx)
    # canonicalization can create initial currents (a synapse bias into a decaying current)
    more = tuple(n for n in needed(canonical, target) if n not in names)
    canonical = run_pipeline(canonical, [ApproximateCanonical((*names, *more))], ctx)
    return canonical, ctx.get(Approximated).changed
