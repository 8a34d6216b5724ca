"""Import a trained torch SNN (snncc.nn neurons + standard layers) into a FLOAT-stage graph.

Three steps, each in a module of its own:
1. walk (torch_walk.py): list the layers the body applies, in forward order (torch.fx tracing
   with neurons and torch layers as leaves; if tracing fails, the registration order of a
   straight chain, confirmed by a probe run);
2. convert (torch_layers.py, snncc_neurons.py): one IR op per layer, reproducing its equations
   exactly (neurons: SPEC.md §2 lif);
3. readout (readout.py): an output node reproducing the SNN's reduction over time (mean, sum, last).
This module runs them (``build_chain`` adds the converted layers) and settles the steps and the
readout: from snncc.nn.SNN, from what the model's forward fixes, or from the arguments.

Node names are the modules' dotted paths in the user's model ("body.0"), so every
diagnostic points at user code.  Every unsupported layer is reported in one ImportFailed.

Models of other frameworks (spikingjelly, snntorch) go through the same three steps: their
importers (frameworks.py: registered, loaded only when a model uses that framework) add leaf
layers and converters, and may rewrite how the model is walked (``adapt``: spikingjelly's
multi-step containers and T-repeated input, snntorch's explicit-membrane time loop).

Python API: ``import_torch(model, input_shape, steps=..., readout=...)`` takes a module built
and loaded in Python (no file, no unpickling), e.g. ``model.load_state_dict(torch.load(p))``.
``read_torch`` does the shape-free part once (walk, steps, readout) and returns a ``TorchModel``
whose ``graph(shape)`` builds the graph for one input shape: what binding data to a model
(snncc/binding.py) tries, without reading the model again per candidate shape.

Codes: IMT002 unsupported module, IMT003 unsupported setting of a supported module,
IMT004 unsupported operation in forward, IMT005 steps/readout missing or invalid,
IMT006 forward order cannot be determined, IMT007 readout structure, IMT008 bad arguments;
warnings: IMT050 --steps/--readout override what the model's forward fixes, IMT051 an encoder in
the time loop imported as the input coding (spikingjelly.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from snncc import nn as snn
from snncc.errors import Diagnostic, ImportFailed, InvalidGraph
from snncc.hints import NEURON_CLASSES
from snncc.ir import Graph, GraphBuilder, GraphMeta, Input, Op, Shape, Stage, SumPool2d, verify

from . import input_reshape, time_loop
from .frameworks import Adapted, LayerCall, Walk, framework_of, neuron_classes
from .readout import add_readout
from .safe_load import load_torch_model
from .torch_layers import BYPASSED, SUPPORTED_NAMES, Unsupported, bypassed, convert, shaped, spike_or
from .torch_sanity import reject_module_cycles, reject_nir_only_frameworks
from .torch_walk import trace, walk_body, walk_trace

__all__ = ["TorchModel", "import_torch", "load_torch_model", "read_torch"]


def import_torch(
    model: nn.Module,
    input_shape: tuple[int, ...],
    *,
    steps: int | None = None,
    readout: str | None = None,
    source: str = "",
    warn: Callable[[Diagnostic], None] | None = None,
) -> Graph:
    """The FLOAT-stage graph of ``model`` on inputs of ``input_shape`` (one sample): read_torch, then
    the graph for that shape; ``warn`` gets the warnings once the import succeeded."""
    read = read_torch(model, steps=steps, readout=readout, source=source, probe_shape=input_shape)
    graph = read.graph(input_shape)
    for warning in read.warnings:
        (warn or (lambda _d: None))(warning)
    return graph


def read_torch(
    model: nn.Module,
    *,
    steps: int | None = None,
    readout: str | None = None,
    source: str = "",
    probe_shape: tuple[int, ...] | None = None,
) -> TorchModel:
    """``model`` read once (below); a module missing an attribute its class sets in __init__ is
    IMT019: an unpickled file can hold any subset of a module's attributes."""
    try:
        return _read_torch(model, steps=steps, readout=readout, source=source, probe_shape=probe_shape)
    except AttributeError as exc:
        raise ImportFailed(
            f"a module of the model lacks an attribute its class defines ({exc})",
            code="IMT019",
            source=source or None,
            hint="the file does not hold a module as its class builds it (damaged or edited?): save it again",
        ) from exc


def _read_torch(
    model: nn.Module,
    *,
    steps: int | None = None,
    readout: str | None = None,
    source: str = "",
    probe_shape: tuple[int, ...] | None = None,
) -> TorchModel:
    """What ``model`` computes per step, its steps and readout, whatever the input shape.

    ``model`` is an snncc.nn.SNN (steps and readout from it; the arguments override them),
    a bare single-step body (then steps and readout are required), or a spikingjelly/snntorch
    model (steps and readout from the model where its forward fixes them: spikingjelly's
    T-repeated input and mean/sum over time, snntorch's time loop; otherwise required).
    ``probe_shape``: the input shape of the probe run that confirms a forward torch.fx cannot trace.
    """
    if not isinstance(model, nn.Module):
        raise ImportFailed(f"expected a torch.nn.Module, got {type(model).__name__}", code="IMT008")
    reject_module_cycles(model)
    reject_nir_only_frameworks(model)
    shape = _input_shape(probe_shape if probe_shape is not None else (1,))
    adapted = None if isinstance(model, snn.SNN) else (_adapt(model, shape) or _hand_written_loop(model))
    warnings: list[Diagnostic] = []
    if adapted is None:
        body, prefix, steps, readout, notes = _unwrap(model, steps, readout, warnings)
        walk = walk_body(body, prefix, shape)
    else:
        steps, readout, notes = _adapted_time(adapted, steps, readout, warnings)
        walk = adapted.walk
    notes["import_order"] = walk.order_note
    if any(m.training and isinstance(m, (nn.modules.batchnorm._BatchNorm, *BYPASSED)) for m in model.modules()):
        notes["mode"] = "the model was in train mode; imported with eval semantics (batch-norm running statistics)"
    return TorchModel(walk, steps, readout, notes, tuple(warnings), source or f"torch:{type(model).__qualname__}")


@dataclass(frozen=True)
class TorchModel:
    """A torch model read once: the layers it applies per step, its steps and readout, the import
    notes, and the warnings (e.g. ``steps`` overriding the model's own) for the caller to emit once."""

    walk: Walk
    steps: int
    readout: str
    notes: dict[str, str]
    warnings: tuple[Diagnostic, ...]
    source: str

    def graph(self, input_shape: tuple[int, ...]) -> Graph:
        """The FLOAT-stage graph on inputs of ``input_shape`` (one sample); InvalidGraph GRF004 where
        a layer cannot take that shape."""
        shape, notes = _input_shape(input_shape), dict(self.notes)
        if self.walk.input_sizes is not None:
            given, shape = shape, input_reshape.resolve(self.walk.input_sizes, shape, "input")
            notes["input_reshape"] = f"forward reshapes its input: imported for samples of shape {shape}, not {given}"
        builder = GraphBuilder()
        builder.add("input", Input(shape=shape))
        chain = build_chain(builder, self.walk, shape)
        add_readout(builder, chain, self.readout, self.steps)
        classes = neuron_classes(self.walk, chain)
        if classes:  # so that a target's refusal can name the fix in the user's framework (snncc/hints.py)
            notes[NEURON_CLASSES] = classes
        meta = GraphMeta(
            stage=Stage.FLOAT, steps=self.steps, dt=None, source=self.source, notes=tuple(sorted(notes.items()))
        )
        return verify(builder.build(meta))


def build_chain(builder: GraphBuilder, walk: Walk, input_shape: Shape) -> list[tuple[str, Op]]:
    """Add one node per non-bypassed layer after "input"; returns the (name, op) chain.

    Every unsupported layer is collected before raising (ImportFailed); a shape mismatch
    raises InvalidGraph only when nothing is unsupported, since callers retry other shapes on it.
    """
    problems = list(walk.problems)
    chain: list[tuple[str, Op]] = []
    source_name, src = "input", input_shape
    shape_error: InvalidGraph | None = None
    kept = [i for i, c in enumerate(walk.calls) if not bypassed(c.module)]
    for i, call in enumerate(walk.calls):
        try:
            op = convert(call, src)
        except Unsupported as exc:
            problems.append(exc.diagnostic)
            src = None  # shapes downstream are unknown; keep checking the layers themselves
            continue
        except InvalidGraph as exc:
            shape_error = shape_error or exc
            src = None
            continue
        if op is None:
            continue
        if op.IS_NEURON and not op.spiking and i != kept[-1]:
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
        spikes = source_op is not None and source_op.IS_NEURON and source_op.spiking
        if op.IS_POOL and op.window_divisor() is None and spikes:  # max pooling of spikes: an OR of the window
            or_neuron = spike_or(op.shape, source_op)  # window sums, then the neuron making them an OR
            op = SumPool2d(shape=op.shape, kernel=op.kernel, stride=op.stride, padding=op.padding)
            pooled = builder.add(call.name, op, [source_name])
            source_name = builder.add(f"{call.name}.or", or_neuron, [pooled])
            chain += [(pooled, op), (source_name, or_neuron)]
            src = or_neuron.shape
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
    make = framework.recurrent.get(type(call.module)) if framework else None
    if make is None:
        return []
    try:
        synapse = shaped(make(call.name, call.module, op.shape), op.shape, f"{call.name}.recurrent")
    except Unsupported as exc:
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
    frameworks = {f.package: f for f in map(framework_of, map(type, model.modules())) if f is not None}
    for package in sorted(frameworks):
        adapted = frameworks[package].adapt(model, shape)
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
