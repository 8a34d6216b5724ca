"""Step 1 of a torch import: the layers a model's body applies per step, in forward order.

torch.fx traces forward with layers (torch.nn's, snncc neurons, other frameworks' modules) as
leaves; if tracing fails, the registration order of a straight chain is accepted when a probe
run confirms it.  Every unsupported operation in forward is collected (IMT004), an undeterminable
order is IMT006.
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from snncc import nn as snn
from snncc.errors import Diagnostic, ImportFailed
from snncc.ir import Shape

from . import input_reshape
from .frameworks import LayerCall, Walk, framework_of
from .fx_match import is_batch_size, source_line
from .torch_layers import LAYERS


class _LeafTracer(torch.fx.Tracer):
    """torch.fx tracer that stops at layers (torch.nn's, snncc neurons, subclasses of either); it keeps
    each node's source line, so that a problem names the line of forward to change."""

    record_stack_traces = True

    def is_leaf_module(self, m: nn.Module, module_qualified_name: str) -> bool:
        return _is_leaf(m)


def walk_body(body: nn.Module, prefix: str, input_shape: Shape) -> Walk:
    """The layers ``body`` applies per step, in order, with every unsupported operation found."""
    if _is_leaf(body):
        return Walk((LayerCall(prefix.rstrip(".") or type(body).__name__, body),), (), "single layer")
    try:
        graph = trace(body)
    except Exception as exc:  # data-dependent control flow and the like: try the straight chain
        return _registration_order(body, prefix, input_shape, exc)
    return walk_trace(body, graph, prefix)


def trace(body: nn.Module) -> torch.fx.Graph:
    """The torch.fx graph of ``body.forward`` with layers and neurons as leaves (raises what fx raises)."""
    return _LeafTracer().trace(body)


def walk_trace(body: nn.Module, graph: torch.fx.Graph, prefix: str) -> Walk:
    """The chain of layers a (possibly edited) trace of ``body`` applies, with every problem found."""
    sizes = input_reshape.strip(graph)
    return dataclasses.replace(_fx_calls(body, graph, prefix), input_sizes=sizes)


def _is_leaf(m: nn.Module) -> bool:
    """A layer, not a container; subclasses of supported layers stay leaves, to be reported, not traced."""
    framework = framework_of(type(m))
    if framework is not None:
        return bool(framework.is_leaf(m))
    if isinstance(m, (nn.Sequential, nn.ModuleList, nn.ModuleDict)):
        return False
    return isinstance(m, (snn.Neuron, *LAYERS)) or type(m).__module__.startswith(("torch.nn", "torch.ao.nn"))


def _fx_calls(body: nn.Module, graph: torch.fx.Graph, prefix: str) -> Walk:
    nodes = _live_nodes(graph)
    helpers = _batch_size_helpers(nodes)
    calls: list[LayerCall] = []
    problems: list[Diagnostic] = []
    seen: set[str] = set()
    previous: torch.fx.Node | None = None
    for node in nodes:
        if node.op == "placeholder":
            if previous is not None:
                problems.append(_op_problem(prefix + node.name, "forward takes more than one input"))
            previous = node
            continue
        if node in helpers:
            continue
        if node.op == "output":
            if node.args[0] is not previous:
                problems.append(
                    _op_problem(prefix + node.name, "forward must return one tensor, the last layer's output")
                )
            continue
        inputs = [a for a in (*node.args, *node.kwargs.values()) if isinstance(a, torch.fx.Node)]
        name = prefix + (str(node.target) if node.op == "call_module" else node.name)
        if node.op == "call_module":
            if node.target in seen:
                message = "the module is called more than once (shared weights or recurrence)"
                problems.append(_op_problem(name, _at(node, message)))
            seen.add(str(node.target))
            calls.append(LayerCall(name, body.get_submodule(str(node.target))))
        elif _is_flatten(node):
            inputs = inputs[:1]
            calls.append(LayerCall(name, None))
        elif (pool := _functional_pool(node)) is not None:
            inputs = inputs[:1]
            calls.append(LayerCall(name, pool))
        else:
            problems.append(_op_problem(name, _at(node, f"unsupported operation in forward: {_describe(node)}")))
        if inputs != [previous]:
            problems.append(_op_problem(name, "layers must form a chain (each reads the previous one's output)"))
        previous = node
    return Walk(tuple(calls), tuple(problems), "torch.fx trace")


def _live_nodes(graph: torch.fx.Graph) -> list[torch.fx.Node]:
    """Nodes the output depends on, in trace order (dead code in forward is not imported)."""
    live: set[torch.fx.Node] = set()
    stack = [n for n in graph.nodes if n.op == "output"]
    while stack:
        n = stack.pop()
        if n not in live:
            live.add(n)
            stack.extend(n.all_input_nodes)
    return [n for n in graph.nodes if n in live or n.op == "placeholder"]


def _batch_size_helpers(nodes: list[torch.fx.Node]) -> set[torch.fx.Node]:
    """Nodes that only compute the batch size for a flatten (x.size(0), x.shape[0], len(x))."""
    helpers: set[torch.fx.Node] = set()
    for node in nodes:
        if _is_flatten(node) and node.args:
            stack = [n for n in node.all_input_nodes if n is not node.args[0]]
            while stack:
                n = stack.pop()
                if n is not node.args[0] and n not in helpers:
                    helpers.add(n)
                    stack.extend(n.all_input_nodes)
    return helpers


# F.max_pool2d / F.avg_pool2d: their positional parameters after the input, as the modules name them
_FUNCTIONAL_POOLS: dict[Any, tuple[type[nn.Module], tuple[str, ...]]] = {
    F.max_pool2d: (nn.MaxPool2d, ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices")),
    F.avg_pool2d: (
        nn.AvgPool2d,
        ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    ),
}


def _functional_pool(node: torch.fx.Node) -> nn.Module | None:
    """The pooling module a functional call in forward amounts to (None: not one, or not constant)."""
    if node.op != "call_function" or node.target not in _FUNCTIONAL_POOLS:
        return None
    kind, names = _FUNCTIONAL_POOLS[node.target]
    settings = {**dict(zip(names, node.args[1:], strict=False)), **node.kwargs}
    if any(isinstance(v, torch.fx.Node) for v in settings.values()):
        return None  # a setting computed at run time
    return kind(**settings)


def _is_flatten(node: torch.fx.Node) -> bool:
    """torch.flatten(x, 1), x.flatten(1), x.view(x.size(0), -1), x.reshape(len(x), -1)."""
    args, kwargs = node.args, node.kwargs
    if (node.op == "call_function" and node.target is torch.flatten) or (
        node.op == "call_method" and node.target == "flatten"
    ):
        start = args[1] if len(args) > 1 else kwargs.get("start_dim", 0)
        end = args[2] if len(args) > 2 else kwargs.get("end_dim", -1)
        return start == 1 and end == -1
    if node.op == "call_method" and node.target in ("view", "reshape") and not kwargs:
        sizes = args[1] if len(args) == 2 and isinstance(args[1], (tuple, list)) else args[1:]
        return len(sizes) == 2 and is_batch_size(sizes[0], args[0]) and sizes[1] == -1
    return False


def _at(node: torch.fx.Node, message: str) -> str:
    where = source_line(node)
    return f"{message}, at {where}" if where else message


def _describe(node: torch.fx.Node) -> str:
    if node.op == "call_function":
        module = (getattr(node.target, "__module__", None) or "").replace("_operator", "operator")
        name = getattr(node.target, "__name__", str(node.target))
        return f"function {module}.{name}" if module else f"function {name}"
    if node.op == "call_method":
        return f"tensor method .{node.target}()"
    return f"attribute {node.target!r} used directly"


def _op_problem(name: str, message: str) -> Diagnostic:
    return Diagnostic(
        "error",
        "IMT004",
        message,
        node=name,
        hint="write the model as a chain of supported layers (nn.Sequential); apply functions outside the model",
    )


def _registration_order(body: nn.Module, prefix: str, input_shape: Shape, reason: Exception) -> Walk:
    """Leaves in registration order, accepted only if a probe run applies exactly that chain."""
    calls = tuple(LayerCall(prefix + name, m) for name, m in _leaves(body, ""))
    cause = str(reason).strip().splitlines()[0] if str(reason).strip() else type(reason).__name__
    problem = _probe_chain(body, calls, input_shape, prefix)
    if problem is not None:
        raise ImportFailed(
            "cannot tell the order of the layers: torch.fx cannot trace "
            f"{type(body).__name__}.forward ({cause}) "
            f"and a probe run does not apply the registered layers as a chain ({problem})",
            code="IMT006",
            node=prefix.rstrip(".") or None,
            hint="remove data-dependent Python control flow from forward, or write the model as nn.Sequential",
        )
    note = (
        f"registration order of children: torch.fx could not trace {type(body).__name__}.forward ({cause}); "
        "a probe run confirmed the chain"
    )
    return Walk(calls, (), note)


def _leaves(module: nn.Module, path: str) -> list[tuple[str, nn.Module]]:
    found = []
    for child_name, child in module.named_children():
        child_path = f"{path}{child_name}"
        found += [(child_path, child)] if _is_leaf(child) else _leaves(child, child_path + ".")
    return found


def _probe_chain(body: nn.Module, calls: tuple[LayerCall, ...], input_shape: Shape, prefix: str) -> str | None:
    """Run a copy of ``body`` on random data; None if it applies ``calls`` one after another, unchanged."""
    probe = copy.deepcopy(body).eval()
    snn.reset_neurons(probe)
    leaves = dict(_leaves(probe, ""))
    seen: list[tuple[str, torch.Tensor, torch.Tensor]] = []
    hooks = [
        m.register_forward_hook(lambda mod, args, out, name=name: seen.append((name, args[0], out)))
        for name, m in leaves.items()
    ]
    dtype = next((p.dtype for p in probe.parameters()), torch.float32)
    generator = torch.Generator().manual_seed(0)
    try:
        with torch.no_grad():
            for _ in range(2):
                seen.clear()
                x = torch.randn((2, *input_shape), generator=generator, dtype=dtype) * 2
                y = probe(x)
                problem = _chain_problem(seen, x, y, [c.name[len(prefix) :] for c in calls])
                if problem:
                    return problem
    except Exception as exc:
        return f"the probe run failed: {exc}"
    finally:
        for h in hooks:
            h.remove()
    return None


def _chain_problem(seen: list[tuple[str, Any, Any]], x: torch.Tensor, y: Any, expected: list[str]) -> str | None:
    order = [name for name, _, _ in seen]
    if order != expected:
        return f"layers run in the order {order}, registered as {expected}"
    value = x
    for name, args0, out in seen:
        if not (isinstance(args0, torch.Tensor) and args0.shape == value.shape and torch.equal(args0, value)):
            return f"the input of {name!r} is not the previous layer's output"
        value = out
    if not (isinstance(y, torch.Tensor) and y.shape == value.shape and torch.equal(y, value)):
        return "forward does not return the last layer's output"
    return None
