"""A forward that loops stateful neurons over time by hand, folded to the one step snncc imports.

Users who do not wrap their body in ``snncc.nn.SNN`` write the time loop themselves::

    def forward(self, x):
        reset_neurons(self)
        out = 0
        for t in range(self.T):
            out = out + self.fc2(self.lif(self.fc1(x)))
        return out / self.T            # or torch.stack(outs).mean(0) / .sum(0), or the last step

torch.fx unrolls such a loop: every layer is called once per step.  This module checks that every
step applies the same layers to the same (direct) input, reads the number of steps from the
neurons' calls and the readout from how forward combines the per-step outputs (mean, sum, last, or
every step), and returns the first step as the chain to import.  The neurons carry their own state
between calls, so folding is exact.  spikingjelly's single-step loops (spikingjelly.py) fold here
too; snntorch's explicit-membrane loop (snntorch.py) uses ``same_step``, ``terms`` and ``divided``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Any

import torch
import torch.fx
from torch import nn

from snncc.errors import Diagnostic, ImportFailed

from .fx_match import dim_arg, is_call

ADDS = (operator.add, operator.iadd, torch.add)
HINT = (
    "loop over a fixed number of steps (for t in range(T)), apply the same layers to the same input at every "
    "step, and return the mean, sum or stack of the per-step outputs (or the last one)"
)


def fold(
    model: nn.Module, graph: torch.fx.Graph, is_neuron: Callable[[nn.Module], bool]
) -> tuple[torch.fx.Graph, int, str] | None:
    """(one-step graph, steps, readout) of a hand-written loop; None when no neuron runs twice."""
    calls: dict[str, list[torch.fx.Node]] = {}
    for node in graph.nodes:
        if node.op == "call_module" and is_neuron(model.get_submodule(str(node.target))):
            calls.setdefault(str(node.target), []).append(node)
    if not calls or all(len(c) == 1 for c in calls.values()):
        return None
    counts = {len(c) for c in calls.values()}
    if len(counts) != 1:
        raise ImportFailed(
            diagnostics=[
                _problem(
                    target,
                    f"the neuron layer runs {len(nodes)} times in forward; every neuron layer must run once per step",
                )
                for target, nodes in calls.items()
            ]
        )
    steps = counts.pop()
    step_of = {c: i for cs in calls.values() for i, c in enumerate(cs)}
    per_step, readout = _per_step_outputs(graph)
    if readout == "last":
        if _steps_used(per_step[0], step_of) != {steps - 1}:
            raise ImportFailed(
                diagnostics=[
                    _problem(
                        None, "forward returns neither a combination of the per-step outputs nor the last step's output"
                    )
                ]
            )
    elif len(per_step) != steps:
        raise ImportFailed(
            diagnostics=[
                _problem(None, f"forward combines {len(per_step)} per-step outputs, but the neurons run {steps} times")
            ]
        )
    for t in range(1, len(per_step)):
        if not same_step(per_step[t], per_step[0], t, 0, step_of, {}):
            raise ImportFailed(
                diagnostics=[
                    _problem(
                        None, f"step {t + 1} of the loop does not apply the same layers to the same input as step 1"
                    )
                ]
            )
    return _one_step(graph, per_step[0]), steps, readout


def note(steps: int) -> str:
    return f"time loop of forward over {steps} steps folded into one step; neurons keep their state between steps"


def _steps_used(node: Any, step_of: dict) -> set[int]:
    """The loop steps whose neuron calls ``node`` depends on."""
    found, seen, stack = set(), set(), [node]
    while stack:
        n = stack.pop()
        if isinstance(n, torch.fx.Node) and n not in seen:
            seen.add(n)
            if n in step_of:
                found.add(step_of[n])
            stack.extend(n.all_input_nodes)
    return found


def _problem(node: str | None, message: str) -> Diagnostic:
    return Diagnostic("error", "IMT004", message, node=node, hint=HINT)


def _per_step_outputs(graph: torch.fx.Graph) -> tuple[list[Any], str]:
    """The per-step outputs forward returns and how it combines them over time."""
    output = next(n for n in graph.nodes if n.op == "output")
    value = output.args[0]
    for name in ("mean", "sum"):  # torch.stack(outs).mean(0) / .sum(0)
        if is_call(value, name) and dim_arg(value) == 0 and len(value.args) <= 2 and _stacked(value.args[0]):
            return list(value.args[0].args[0]), name
    if _stacked(value):
        return list(value.args[0]), "steps"
    total, divisor = divided(value)
    summands = terms(total)
    if len(summands) > 1:
        if divisor is None:
            return summands, "sum"
        if divisor == len(summands):
            return summands, "mean"
    elif divisor is None and isinstance(value, torch.fx.Node):
        return [value], "last"
    raise ImportFailed(
        "forward does not return the mean, sum or stack of per-step outputs over its time loop",
        code="IMT007",
        hint=HINT,
    )


def _stacked(node: Any) -> bool:
    return (
        is_call(node, "stack")
        and dim_arg(node) in (0, None)
        and isinstance(node.args[0], (list, tuple))
        and node.args[0]
    )


def divided(node: Any) -> tuple[Any, float | None]:
    """(x, d) for x / d, x.div(d), x * (1/d); (node, None) otherwise."""
    if isinstance(node, torch.fx.Node) and len(node.args) == 2 and isinstance(node.args[1], (int, float)):
        x, k = node.args
        if node.target in (operator.truediv, torch.div, "div", "true_divide") and k:
            return x, float(k)
        if node.target in (operator.mul, torch.mul, "mul") and k:
            return x, 1.0 / float(k)
    return node, None


def terms(node: Any) -> list[Any]:
    """The summands of a chain of additions (out = out + y), dropping a literal 0 start."""
    if isinstance(node, torch.fx.Node) and node.target in (*ADDS, "add") and len(node.args) == 2 and not node.kwargs:
        return [t for arg in node.args for t in terms(arg)]
    if isinstance(node, (int, float)) and node == 0:
        return []
    return [node]


def same_step(a: Any, b: Any, ta: int, tb: int, step_of: dict, seen: dict) -> bool:
    """Whether a (step ta) computes what b (step tb) computes, with step ta's neuron calls.

    A neuron call is compared on its first argument (its input; snntorch's membrane argument is
    checked separately), everything else node by node; nodes computed before the loop are shared.
    """
    if isinstance(a, torch.fx.Node) != isinstance(b, torch.fx.Node):
        return False
    if isinstance(a, (list, tuple)):
        return (
            isinstance(b, (list, tuple))
            and len(a) == len(b)
            and all(same_step(x, y, ta, tb, step_of, seen) for x, y in zip(a, b, strict=True))
        )
    if not isinstance(a, torch.fx.Node):
        return type(a) is type(b) and a == b
    if (a, b) in seen:
        return seen[(a, b)]
    if a in step_of or b in step_of:  # a neuron call: this step's, on the same input
        same = step_of.get(a) == ta and step_of.get(b) == tb and a.target == b.target
        same = same and same_step(a.args[0], b.args[0], ta, tb, step_of, seen)
    elif a is b:  # computed once, before the loop
        same = True
    else:
        same = (
            a.op == b.op
            and a.target == b.target
            and same_step(list(a.args), list(b.args), ta, tb, step_of, seen)
            and a.kwargs.keys() == b.kwargs.keys()
            and all(same_step(a.kwargs[k], b.kwargs[k], ta, tb, step_of, seen) for k in a.kwargs)
        )
    seen[(a, b)] = same
    return same


def _one_step(graph: torch.fx.Graph, result: torch.fx.Node) -> torch.fx.Graph:
    """The computation of ``result`` (the first step's output) as a graph of its own."""
    step = torch.fx.Graph()
    copied: dict[torch.fx.Node, torch.fx.Node] = {
        n: step.placeholder(str(n.target)) for n in graph.nodes if n.op == "placeholder"
    }

    def copy(node: torch.fx.Node) -> torch.fx.Node:
        if node not in copied:
            copied[node] = step.node_copy(node, copy)
        return copied[node]

    step.output(copy(result))
    return step
