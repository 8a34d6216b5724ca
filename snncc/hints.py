"""The fix in the user's own framework for a neuron feature a target lacks.

Some features a target refuses were not written by the user but made by snncc's translation:
snntorch's default subtract reset acts one step late, which snncc expresses exactly as a soft
reset plus an initial potential θ(1/β − 1) (importers/snntorch.py); a refusal that only said
"retrain without v_init" would send the user looking for a setting they never wrote.  The
importers record which framework class made each neuron layer (graph note NEURON_CLASSES);
here each (framework, feature, target) gets the setting to train with, or says plainly that no
form of that framework reaches the target.  docs/models.md "Which forms deploy where" is the same table,
checked by tests/integration/test_framework_forms.py.
"""

from __future__ import annotations

import json

from snncc import families
from snncc.ir import Graph
from snncc.passes.maxpool_forms import UNPOOLED

# graph note: JSON {layer: "package.Class"} of the neuron layers another framework's modules made
NEURON_CLASSES = "neuron_classes"


def origin(graph: Graph, layer: str) -> str | None:
    """'snntorch.Leaky' for a layer that class made, else None (snncc.nn, NIR, netx, or no note)."""
    note = graph.meta.note(NEURON_CLASSES)
    if not note:
        return None
    try:
        classes = json.loads(note)
        # a neuron that maxpool-after-neuron moved before its pool keeps the trained layer's class
        return classes.get(layer) or classes.get(layer.removesuffix(UNPOOLED))
    except (ValueError, AttributeError):
        return None


def framework_fix(graph: Graph, layer: str, feature: str, target: str, family: str, reset: str = "") -> str | None:
    """What to train instead, in the framework that made ``layer``, when ``target`` (of the numerics
    ``family``) lacks ``feature`` (reset_subtract, reset_zero, v_init, current: a synaptic current
    decay); ``reset``: the layer's ("zero": an initial state comes from a bias, not from the reset).
    None where no framework's class made the layer."""
    made_by = origin(graph, layer)
    if made_by is None:
        return None
    framework, _, cls = made_by.partition(".")
    plugin = families.family(family)
    if framework == "snntorch":
        return _snntorch(cls, feature, target, plugin.snntorch_form, reset)
    if framework == "spikingjelly":
        return _spikingjelly(feature, target, plugin.spikingjelly_refusal)
    return None


def _snntorch(cls: str, feature: str, target: str, only_form: str | None, reset: str) -> str:
    """only_form: the one snntorch form the family runs exactly (Xylo's), else None."""
    if feature in ("v_init", "i_init") and (reset == "zero" or feature == "i_init"):
        return (
            f"snncc made this initial state from the bias of the layer feeding snntorch {cls}'s decaying current "
            f"(its resting current); train that layer with bias=False"
            + (f", and {target} runs exactly only {only_form}" if only_form else "")
        )
    zero = "reset_mechanism='zero'" + ("" if cls == "Leaky" else ", reset_delay=False")
    if only_form:  # --approximate drop-initial-potential is no way out: the leak's bias θ(1/β − 1)(1 − β) stays
        made = (
            f"snncc made this initial potential θ(1/β − 1) from the one-step delay of snntorch {cls}'s subtract "
            "reset with beta < 1; "
            if feature == "v_init"
            else ""
        )
        return f"{made}{target} runs exactly only {only_form}"
    if feature in ("reset_subtract", "v_init"):
        made = (
            "snncc made this initial potential θ(1/β − 1) from the one-step delay of snntorch's subtract reset"
            if feature == "v_init"
            else "snntorch's reset_mechanism='subtract' (its default) resets by subtraction"
        )
        return f"{made}; {target} resets to zero: train the {cls} with {zero}"
    return f"train the {cls} with the settings loihi2 lists (see docs/models.md: which forms deploy where)"


def _spikingjelly(feature: str, target: str, refusal: str | None) -> str:
    if refusal:  # the family runs no spikingjelly neuron
        return refusal
    if feature in ("reset_subtract", "v_init"):
        return f"{target} resets to zero: train with v_reset=0.0 (spikingjelly's default hard reset)"
    return "train with spikingjelly's defaults (v_reset=0.0, decay_input=True)"
