"""The target's deployable form of a trained float graph: the named approximations it needs
(passes/approximate.py), chosen from what the model uses and what the target lacks, then the
canonical graph that fine-tuning trains and quantization takes."""

from __future__ import annotations

from snncc.analyses import Approximated
from snncc.errors import FinetuneError
from snncc.families import family_of
from snncc.ir import LIF, Graph, MaxPool2d
from snncc.mapping.drc import APPROXIMATIONS_FOR
from snncc.passes.approximate import MAXPOOL_AFTER_NEURON
from snncc.pipeline import Approximate, ApproximateCanonical, Canonicalize, Context, run_pipeline
from snncc.target import Target


def needed(graph: Graph, target: Target) -> tuple[str, ...]:
    """The approximations without which ``target`` cannot run ``graph`` (in the order they apply)."""
    names = [MAXPOOL_AFTER_NEURON] if graph.of_type(MaxPool2d) else []
    features = {f for _, op in graph.of_type(LIF) for f in op.neuron_features()}
    for feature in sorted(features - target.neuron_features):
        names.append(APPROXIMATIONS_FOR[feature][0])
    return tuple(names)


def trainable_for(target: Target) -> None:
    """FTN002 unless the training loop models the target's integer formats (grid.py: Loihi's)."""
    if not family_of(target.numerics).trainable:
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
