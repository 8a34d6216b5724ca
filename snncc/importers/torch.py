"""Import a trained torch SNN (snncc.nn neurons + standard layers) into a FLOAT-stage graph.

Three steps, each a function below:
1. walk: list the layers the body applies, in forward order (torch.fx tracing with neurons
   and torch layers as leaves; if tracing fails, the registration order of a straight chain,
   confirmed by a probe run);
2. convert: one IR op per layer, reproducing its equations exactly (neurons: SPEC.md §2 lif);
3. readout: an output node reproducing the SNN's reduction over time (mean, sum, last).

Node names are the modules' dotted paths in the user's model ("body.0"), so every
diagnostic points at user code.  Every unsupported layer is reported in one ImportFailed.

Models of other frameworks (spikingjelly, snntorch) go through the same three steps: their
importer modules (FRAMEWORKS below, loaded only when a model uses that framework) add leaf
layers and converters, and may rewrite how the model is walked (``adapt``: spikingjelly's
multi-step containers and T-repeated input, snntorch's explicit-membrane time loop).

Python API: ``import_torch(model, input_shape, steps=..., readout=...)`` takes a module built
and loaded in Python (no file, no unpickling), e.g. ``model.load_state_dict(torch.load(p))``.

Codes: IMT002 unsupported module, IMT003 unsupported setting of a supported module,
IMT004 unsupported operation in forward, IMT005 steps/readout missing or invalid,
IMT006 forward order cannot be determined, IMT007 readout structure, IMT008 bad arguments;
warnings: IMT050 --steps/--readout override what the model's forward fixes, IMT051 an encoder in
the time loop imported as the input coding (spikingjelly.py).
"""

from __future__ import annotations

import copy
import dataclasses
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
import torch.fx
from torch import nn
from torch.nn import functional as F

from snncc import nn as snn
from snncc.errors import Diagnostic, ImportFailed, InvalidGraph
from snncc.ir import (
    LIF,
    AvgPool2d,
    BatchNorm,
    Const,
    Conv2d,
    Dense,
    Flatten,
    Graph,
    GraphBuilder,
    GraphMeta,
    Input,
    MaxPool2d,
    Op,
    Shape,
    Stage,
    SumPool2d,
    verify,
)
from snncc.ir.op import pair

from . import input_reshape, time_loop
from .fx_match import is_batch_size, source_line
from .readout import add_readout
from .safe_load import load_torch_model
from .snncc_neurons import NEURON_CONVERTERS
from .torch_sanity import layer_problems, reject_module_cycles

__all__ = ["import_torch", "load_torch_model"]

BYPASSED: tuple[type[nn.Module], ...] = (nn.Identity, nn.Dropout, nn.Dropout1d, nn.Dropout2d, nn.AlphaDropout)
NEURONS: tuple[type[nn.Module], ...] = tuple(NEURON_CONVERTERS)
LAYERS: tuple[type[nn.Module], ...] = (
    nn.Linear,
    nn.Conv2d,
    nn.AvgPool2d,
    nn.MaxPool2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Flatten,
    *BYPASSED,
    *NEURONS,
)
SUPPORTED_NAMES = "Linear, Conv2d, AvgPool2d, MaxPool2d of spikes, BatchNorm1d/2d, Flatten, Dropout, Identity and the snncc.nn neurons"

# package of a model's classes -> snncc importer module for it.  Each provides CONVERTERS
# (class -> converter), BYPASSED, SUPPORTED_NAMES, is_leaf(module) and
# adapt(model, input_shape) -> Adapted | None.
FRAMEWORKS: dict[str, str] = {"spikingjelly": "snncc.importers.spikingjelly", "snntorch": "snncc.importers.snntorch"}


def framework_of(kind: type) -> Any | None:
    """The snncc importer module for a class of another framework, or None."""
    name = FRAMEWORKS.get(str(getattr(kind, "__module__", "")).partition(".")[0])
    return importlib.import_module(name) if name else None


# --- 1. walk ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerCall:
    """One step of the body's forward: a leaf module, or a functional flatten (module None)."""

    name: str
    module: nn.Module | None


@dataclass(frozen=True)
class Walk:
    calls: tuple[LayerCall, ...]
    problems: tuple[Diagnostic, ...]
    order_note: str
    input_sizes: tuple[int, ...] | None = None  # forward's reshape of its input, per sample (-1: inferred)


@dataclass(frozen=True)
class Adapted:
    """A model as a framework importer reads it: the per-step layers and what the model fixes about time."""

    walk: Walk
    steps: int | None = None  # the model's own number of steps (e.g. spikingjelly's T-repeated input)
    readout: str | None = None  # the model's own reduction of the per-step outputs over time
    notes: tuple[tuple[str, str], ...] = ()
    warnings: tuple[Diagnostic, ...] = ()  # what the user should know about how the model was read


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


# --- 2. convert ---------------------------------------------------------------------------------


class _Unsupported(Exception):
    def __init__(self, diagnostic: Diagnostic) -> None:
        super().__init__(diagnostic.message)
        self.diagnostic = diagnostic


def _unsupported_module(name: str, module: nn.Module) -> Diagnostic:
    kind = type(module)
    framework = framework_of(kind)
    subclass = None if framework else next((base.__name__ for base in LAYERS if isinstance(module, base)), None)
    message = f"unsupported layer {kind.__module__}.{kind.__qualname__}"
    if subclass:
        message += f" (a subclass of {subclass}; its forward may differ)"
    supported = framework.SUPPORTED_NAMES if framework else SUPPORTED_NAMES
    return Diagnostic("error", "IMT002", message, node=name, hint=f"snncc imports {supported}")


def _setting(name: str, message: str, hint: str) -> _Unsupported:
    return _Unsupported(Diagnostic("error", "IMT003", message, node=name, hint=hint))


def unsupported_setting(name: str, message: str, hint: str) -> Exception:
    """For converters: an unsupported setting of a supported layer (IMT003), collected with the others."""
    return _setting(name, message, hint)


def layer_converter(kind: type[nn.Module]) -> Callable[[str, Any, Shape | None], Op]:
    """The converter of a torch layer class (framework wrappers of torch layers reuse it)."""
    return _CONVERTERS[kind]


def _bypassed(module: nn.Module | None) -> bool:
    if module is None:
        return False
    kind = type(module)
    framework = framework_of(kind)
    return kind in BYPASSED or (framework is not None and kind in framework.BYPASSED)


def _const(t: torch.Tensor | None) -> Const | None:
    return None if t is None else Const(t.detach().cpu().to(torch.float64).numpy())


def convert(call: LayerCall, src: Shape | None) -> Op | None:
    """The IR op of one layer (None: bypassed), with its output shape when ``src`` is known.

    Raises _Unsupported for settings snncc cannot import, InvalidGraph for shape mismatches.
    """
    module, name = call.module, call.name
    if module is None:
        return _shaped(Flatten(shape=()), src, name)
    kind = type(module)
    if _bypassed(module):
        return None
    problems = layer_problems(name, module)
    if problems:
        raise _Unsupported(problems[0])
    framework = framework_of(kind)
    converter = framework.CONVERTERS.get(kind) if framework else _CONVERTERS.get(kind)
    if converter is None:
        raise _Unsupported(_unsupported_module(name, module))
    return _shaped(converter(name, module, src), src, name)


def _shaped(op: Op, src: Shape | None, name: str) -> Op:
    if src is None:
        return op
    if isinstance(op, LIF):  # a neuron layer takes the shape of its input
        op = dataclasses.replace(op, shape=src)
    return dataclasses.replace(op, shape=op.infer_shape([src], name))


def _linear(name: str, m: nn.Linear, src: Shape | None) -> Op:
    if src is not None and len(src) > 1 and src[-1] != m.in_features:
        raise InvalidGraph(
            f"Linear(in_features={m.in_features}) cannot take a {src} input (torch applies it to the last axis)",
            code="GRF004",
            node=name,
        )
    if src is not None and len(src) > 1 and src[-1] == m.in_features:
        raise _setting(
            name,
            f"Linear applied to a {src} input acts on its last axis; snncc's dense layer flattens its input",
            "add nn.Flatten() before the Linear layer",
        )
    return Dense(shape=(), weight=_const(m.weight), bias=_const(m.bias))


def _conv2d(name: str, m: nn.Conv2d, src: Shape | None) -> Op:
    if m.padding_mode != "zeros":
        raise _setting(name, f"padding_mode={m.padding_mode!r}", "use padding_mode='zeros' (the default)")
    padding = m.padding
    if isinstance(padding, str):
        spans = [d * (k - 1) for d, k in zip(m.dilation, m.kernel_size, strict=True)]
        if padding == "same" and any(s % 2 for s in spans):
            raise _setting(
                name,
                "padding='same' with an even kernel pads asymmetrically",
                "use an odd kernel or explicit padding",
            )
        padding = tuple(s // 2 for s in spans) if padding == "same" else (0, 0)
    return Conv2d(
        shape=(),
        weight=_const(m.weight),
        bias=_const(m.bias),
        stride=m.stride,
        padding=padding,
        dilation=m.dilation,
        groups=m.groups,
    )


def _avgpool2d(name: str, m: nn.AvgPool2d, src: Shape | None) -> Op:
    if m.ceil_mode or not m.count_include_pad or m.divisor_override is not None:
        raise _setting(
            name,
            "AvgPool2d with ceil_mode, count_include_pad=False or divisor_override",
            "use AvgPool2d(kernel, stride, padding) with the default options",
        )
    return AvgPool2d(shape=(), kernel=m.kernel_size, stride=m.stride or m.kernel_size, padding=m.padding)


def _maxpool2d(name: str, m: nn.MaxPool2d, src: Shape | None) -> Op:
    """Max pooling as trained; build_chain turns it into an exact OR where it pools spikes."""
    if m.return_indices or m.ceil_mode or pair(m.dilation) != (1, 1):
        raise _setting(
            name,
            "MaxPool2d with return_indices, ceil_mode or dilation",
            "use MaxPool2d(kernel, stride, padding) with the default options",
        )
    return MaxPool2d(shape=(), kernel=m.kernel_size, stride=m.stride or m.kernel_size, padding=m.padding)


def _spike_or(pooled: Shape, source: LIF) -> LIF:
    """The neuron after a MaxPool2d's window sums: the max of 0-or-a spikes is a times their OR,
    which a relay-like lif computes exactly (passes/align_depths.py): it fires when the sum exceeds
    a/2, resets to 0, and holds 0 otherwise, so in aligned time its spikes are the pooled spikes.
    Firing on ">" (sums are multiples of a, so ">=" would fire alike) keeps it NIR's IF exactly.
    Max pooling of analog values stays a maxpool2d op (canonicalize refuses it unless approximated)."""
    a = source.amplitude
    return LIF(shape=pooled, beta=1.0, threshold=0.5 * a, fire=">", reset="zero", amplitude=a)


def _batchnorm(name: str, m: nn.BatchNorm1d | nn.BatchNorm2d, src: Shape | None) -> Op:
    if m.running_mean is None or m.running_var is None:
        raise _setting(name, "batch norm without running statistics", "use track_running_stats=True (the default)")
    if src is not None and len(src) not in ((1, 2) if isinstance(m, nn.BatchNorm1d) else (3,)):
        raise InvalidGraph(f"{type(m).__name__} cannot take a {src} input", code="GRF004", node=name)
    ones = torch.ones_like(m.running_mean)
    return BatchNorm(
        shape=(),
        mean=_const(m.running_mean),
        var=_const(m.running_var),
        weight=_const(m.weight if m.weight is not None else ones),
        bias=_const(m.bias if m.bias is not None else ones * 0),
        eps=float(m.eps),
    )


def _flatten(name: str, m: nn.Flatten, src: Shape | None) -> Op:
    if m.start_dim != 1 or m.end_dim != -1:
        raise _setting(name, f"Flatten(start_dim={m.start_dim}, end_dim={m.end_dim})", "use nn.Flatten() (start_dim=1)")
    return Flatten(shape=())


_CONVERTERS: dict[type[nn.Module], Callable[[str, Any, Shape | None], Op]] = {
    nn.Linear: _linear,
    nn.Conv2d: _conv2d,
    nn.AvgPool2d: _avgpool2d,
    nn.MaxPool2d: _maxpool2d,
    nn.BatchNorm1d: _batchnorm,
    nn.BatchNorm2d: _batchnorm,
    nn.Flatten: _flatten,
    **NEURON_CONVERTERS,
}


# --- entry point --------------------------------------------------------------------------------


def import_torch(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    steps: int | None = None,
    readout: str | None = None,
    source: str = "",
    warn: Callable[[Diagnostic], None] | None = None,
) -> Graph:
    """A FLOAT-stage graph computing what ``model`` computes on inputs of ``input_shape`` (one sample).

    ``model`` is an snncc.nn.SNN (steps and readout from it; the arguments override them),
    a bare single-step body (then steps and readout are required), or a spikingjelly/snntorch
    model (steps and readout from the model where its forward fixes them: spikingjelly's
    T-repeated input and mean/sum over time, snntorch's time loop; otherwise required).
    ``warn`` gets the warnings (e.g. ``steps`` overriding the model's own), once the import succeeded.
    """
    if not isinstance(model, nn.Module):
        raise ImportFailed(f"expected a torch.nn.Module, got {type(model).__name__}", code="IMT008")
    reject_module_cycles(model)
    shape = _input_shape(input_shape)
    adapted = None if isinstance(model, snn.SNN) else (_adapt(model, shape) or _hand_written_loop(model))
    warnings: list[Diagnostic] = []
    if adapted is None:
        body, prefix, steps, readout, notes = _unwrap(model, steps, readout, warnings)
        walk = walk_body(body, prefix, shape)
    else:
        steps, readout, notes = _adapted_time(adapted, steps, readout, warnings)
        walk = adapted.walk
    if walk.input_sizes is not None:
        given, shape = shape, input_reshape.resolve(walk.input_sizes, shape, "input")
        notes["input_reshape"] = f"forward reshapes its input: imported for samples of shape {shape}, not {given}"
    builder = GraphBuilder()
    builder.add("input", Input(shape=shape))
    chain = build_chain(builder, walk, shape)
    add_readout(builder, chain, readout, steps)
    notes["import_order"] = walk.order_note
    if any(m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, *BYPASSED)) for m in model.modules()):
        notes["mode"] = "the model was in train mode; imported with eval semantics (batch-norm running statistics)"
    meta = GraphMeta(
        stage=Stage.FLOAT,
        steps=steps,
        dt=None,
        source=source or f"torch:{type(model).__qualname__}",
        notes=tuple(sorted(notes.items())),
    )
    graph = verify(builder.build(meta))
    for warning in warnings:
        (warn or (lambda _d: None))(warning)
    return graph


def build_chain(builder: GraphBuilder, walk: Walk, input_shape: Shape) -> list[tuple[str, Op]]:
    """Add one node per non-bypassed layer after "input"; returns the (name, op) chain.

    Every unsupported layer is collected before raising (ImportFailed); a shape mismatch
    raises InvalidGraph only when nothing is unsupported, since callers retry other shapes on it.
    """
    problems = list(walk.problems)
    chain: list[tuple[str, Op]] = []
    source_name, src = "input", input_shape
    shape_error: InvalidGraph | None = None
    kept = [i for i, c in enumerate(walk.calls) if not _bypassed(c.module)]
    for i, call in enumerate(walk.calls):
        try:
            op = convert(call, src)
        except _Unsupported as exc:
            problems.append(exc.diagnostic)
            src = None  # shapes downstream are unknown; keep checking the layers themselves
            continue
        except InvalidGraph as exc:
            shape_error = shape_error or exc
            src = None
            continue
        if op is None:
            continue
        if isinstance(op, LIF) and not op.spiking and i != kept[-1]:
            problems.append(
                Diagnostic(
                    "error",
                    "IMT007",
                    "an Integrator must be the last layer (it outputs a potential, not spikes)",
                    node=call.name,
                    hint="move the Integrator to the end of the model",
                )
            )
        if src is None:  # after a problem upstream: the layers are checked, not built
            continue
        source_op = chain[-1][1] if chain else None
        if isinstance(op, MaxPool2d) and isinstance(source_op, LIF) and source_op.spiking:
            spike_or = _spike_or(op.shape, source_op)  # window sums, then the neuron making them an OR
            op = SumPool2d(shape=op.shape, kernel=op.kernel, stride=op.stride, padding=op.padding)
            pooled = builder.add(call.name, op, [source_name])
            source_name = builder.add(f"{call.name}.or", spike_or, [pooled])
            chain += [(pooled, op), (source_name, spike_or)]
            src = spike_or.shape
            continue
        source_name = builder.add(call.name, op, [source_name])
        chain.append((source_name, op))
        src = op.shape
        problems += _add_recurrent(builder, call, source_name, op)
    if problems:
        raise ImportFailed(diagnostics=problems)
    if shape_error is not None:
        raise shape_error
    if not chain:
        raise ImportFailed("the model has no layers to import", code="IMT007", hint=f"snncc imports {SUPPORTED_NAMES}")
    return chain


def _add_recurrent(builder: GraphBuilder, call: LayerCall, name: str, op: Op) -> list[Diagnostic]:
    """A recurrent neuron's connection back to itself (snntorch's RLeaky), named after its submodule."""
    framework = framework_of(type(call.module)) if call.module is not None else None
    make = getattr(framework, "RECURRENT", {}).get(type(call.module))
    if make is None:
        return []
    try:
        synapse = _shaped(make(call.name, call.module, op.shape), op.shape, f"{call.name}.recurrent")
    except _Unsupported as exc:
        return [exc.diagnostic]
    builder.connect(builder.add(f"{call.name}.recurrent", synapse, [name]), name)
    return []


def _input_shape(input_shape: Any) -> Shape:
    try:
        shape = tuple(int(s) for s in input_shape)
    except (TypeError, ValueError):
        shape = ()
    if not shape or any(s < 1 for s in shape):
        raise ImportFailed(
            f"input_shape must be the positive sizes of one sample, e.g. (1, 8, 8); got {input_shape!r}",
            code="IMT008",
        )
    return shape


def _adapt(model: nn.Module, shape: Shape) -> Adapted | None:
    """The first framework importer that claims the model (one per framework its classes come from)."""
    frameworks = {framework_of(type(m)) for m in model.modules()} - {None}
    for framework in sorted(frameworks, key=lambda f: f.__name__):
        adapted = framework.adapt(model, shape)
        if adapted is not None:
            return adapted
    return None


def _hand_written_loop(model: nn.Module) -> Adapted | None:
    """A forward that loops snncc.nn neurons over time itself (time_loop.py), folded to one step."""
    if not any(isinstance(m, snn.Neuron) for m in model.modules()):
        return None
    try:
        graph = trace(model)
    except Exception:  # the standard walk reports why it cannot be read
        return None
    folded = time_loop.fold(model, graph, lambda m: isinstance(m, snn.Neuron))
    if folded is None:
        return None
    step, steps, readout = folded
    return Adapted(walk_trace(model, step, ""), steps, readout, (("time_loop", time_loop.note(steps)),))


def _adapted_time(
    adapted: Adapted, steps: int | None, readout: str | None, warnings: list[Diagnostic]
) -> tuple[int, str, dict[str, str]]:
    notes = {"importer": "torch", **dict(adapted.notes)}
    warnings += adapted.warnings
    warnings += _override(notes, steps, readout, adapted.steps, adapted.readout)
    missing = [
        flag
        for flag, given, own in (("--steps", steps, adapted.steps), ("--readout", readout, adapted.readout))
        if given is None and own is None
    ]
    if missing:
        unknown = " and ".join({"--steps": "number of time steps", "--readout": "readout"}[m] for m in missing)
        raise ImportFailed(
            f"the model's forward does not fix its {unknown} (it computes one step, or takes a sequence)",
            code="IMT005",
            hint=f"pass {' and '.join(missing)} (readout: mean, sum or last of the per-step outputs)",
        )
    steps = adapted.steps if steps is None else steps
    readout = adapted.readout if readout is None else readout
    _check_time(steps, readout)
    return steps, readout, notes


def _override(notes: dict[str, str], steps: Any, readout: Any, own_steps: Any, own_readout: Any) -> list[Diagnostic]:
    """Note and warn where --steps/--readout differ from what the model's forward fixes."""
    warnings = []
    for key, given, own in (("steps", steps, own_steps), ("readout", readout, own_readout)):
        if given is not None and own is not None and given != own:
            notes[key] = f"{given} given, overriding the model's {own}"
            warnings.append(
                Diagnostic(
                    "warning",
                    "IMT050",
                    f"--{key} {given} overrides the model's own {key} {own} (fixed by its forward): "
                    f"snncc deploys {given}, not what the model was trained with",
                    hint=f"drop --{key} to deploy the model's {own}",
                )
            )
    return warnings


def _check_time(steps: Any, readout: Any) -> None:
    if not isinstance(steps, int) or isinstance(steps, bool) or steps < 1:
        raise ImportFailed(f"steps must be a positive integer, got {steps!r}", code="IMT005")
    if readout not in snn.READOUTS:
        raise ImportFailed(f"readout must be one of {', '.join(snn.READOUTS)}, got {readout!r}", code="IMT005")


def _unwrap(
    model: nn.Module, steps: int | None, readout: str | None, warnings: list[Diagnostic]
) -> tuple[nn.Module, str, int, str, dict[str, str]]:
    notes: dict[str, str] = {"importer": "torch"}
    if isinstance(model, snn.SNN):
        body, prefix = model.body, "body."
        warnings += _override(notes, steps, readout, model.steps, model.readout)
        steps = model.steps if steps is None else steps
        readout = model.readout if readout is None else readout
    else:
        body, prefix = model, ""
        missing = [flag for flag, value in (("--steps", steps), ("--readout", readout)) if value is None]
        if missing:
            raise ImportFailed(
                "the model is not an snncc.nn.SNN, so its number of time steps and readout are unknown",
                code="IMT005",
                hint=f"pass {' and '.join(missing)} (readout: mean, sum or last of the per-step outputs), "
                "or wrap the body in snncc.nn.SNN(body, steps, readout)",
            )
    _check_time(steps, readout)
    return body, prefix, steps, readout, notes
