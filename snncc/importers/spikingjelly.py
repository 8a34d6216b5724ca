"""spikingjelly 2.0.0 (``spikingjelly.activation_based``) models -> FLOAT IR, neurons mapped exactly.

Conventions, read in spikingjelly 2.0.0's source (``neuron/*.py``, ``_ops/*/reference.py`` and
``cpu.py``) and checked against spikingjelly itself by tests/unit/test_import_spikingjelly.py:
- charge: IF  H = V + X;  LIF  H = V + (X − (V − Vr0))/τ  (decay_input)  or  V − (V − Vr0)/τ + X,
  Vr0 = v_reset, or 0 for a soft reset;  PLIF as LIF with 1/τ = sigmoid(w);  KLIF  F = ReLU(k·H);
- fire: S = heaviside(H − θ) with heaviside(0) = 1 (``surrogate.heaviside`` is ``x >= 0``; the CPU
  kernels test ``h >= threshold``): fire ">=".  The surrogate changes only the backward pass,
  unless it is in non-spiking mode (then the forward is analog: refused);
- reset: v_reset None → V = H − θ·S (soft), else V = v_reset where S (hard);
- state at every sample start: the memory's reset value (``reset_net``): v_reset, or 0 for soft;
- single-step ('s') and multi-step ('m') modes apply the same per-step equations, so a multi-step
  network imports as its per-step chain; SeqToANNContainer / MultiStepContainer / StepModeContainer
  are unwrapped to their children (the node names keep the user's paths).
A forward that repeats its input over time (``x.unsqueeze(0).repeat(T, ...)``, or
``x.view(1, -1, C, H, W).repeat(T, ...)``) and reduces the output over time (``.mean(0)``,
``.sum(0)``, ``[-1]``) fixes the steps and the readout; so does a forward that loops single-step
modules over time itself, as the clock_driven tutorials do (``for t in range(T): out += self.net(x)``,
``out / T``, ``functional.reset_net``: time_loop.py folds it).  An encoder called in that loop is
the input coding: imported without it, with warning IMT051.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import operator
from collections import OrderedDict
from typing import Any

import torch
import torch.fx
from spikingjelly.activation_based import encoding, layer, neuron, surrogate
from spikingjelly.activation_based.base import MemoryModule, StepModule
from torch import nn

from snncc.errors import Diagnostic, ImportFailed
from snncc.ir import CLIF, LIF, Const, Op, Shape

from . import time_loop
from .frameworks import Adapted, Converter, FrameworkImporter, framework_of, register
from .fx_match import dim_arg, is_call, size_args
from .torch_layers import layer_converter, unsupported_setting
from .torch_walk import trace, walk_body, walk_trace

CONTAINERS: tuple[type[nn.Module], ...] = (layer.SeqToANNContainer, layer.MultiStepContainer, layer.StepModeContainer)
BYPASSED: tuple[type[nn.Module], ...] = (layer.Dropout, layer.Dropout2d)
ENCODERS: tuple[type[nn.Module], ...] = (encoding.PoissonEncoder,)  # stateless: one per step, x -> spikes
MULTI_STEP_ONLY: tuple[type[nn.Module], ...] = (neuron.DSRIFNode, neuron.DSRLIFNode)
SUPPORTED_NAMES = (
    "spikingjelly IFNode, LIFNode, ParametricLIFNode, KLIFNode, ComplementaryLIFNode, DSRIFNode, DSRLIFNode; "
    "layer.Linear, Conv2d, AvgPool2d, MaxPool2d (of spikes), BatchNorm1d/2d, Flatten, Dropout/Dropout2d; "
    "SeqToANNContainer, MultiStepContainer, StepModeContainer; and the torch layers snncc imports"
)


def is_leaf(m: nn.Module) -> bool:
    """Every spikingjelly module is a layer, except the containers (unwrapped by ``adapt``)."""
    return not isinstance(m, CONTAINERS)


# --- neurons --------------------------------------------------------------------------------------


def _number(name: str, m: nn.Module, attr: str) -> float:
    """A scalar setting of the module as a float (a tensor must hold one value)."""
    value = getattr(m, attr, None)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.detach().double().item()
    if isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value):
        return float(value)
    raise unsupported_setting(
        name, f"{attr}={value!r} is not one finite number", f"set {attr} to a number, as spikingjelly expects"
    )


def _check_node(name: str, m: nn.Module) -> None:
    """Settings that change a spikingjelly neuron's forward beyond its equations."""
    if getattr(m, "_neuron_precision", None) is not None:
        raise unsupported_setting(
            name,
            f"neuron precision {m._neuron_precision} stores the state in a low-precision format",
            "import the model with the default (float32) neuron precision",
        )
    function = getattr(m, "surrogate_function", None)
    if function is None:
        return
    if not getattr(function, "spiking", True):
        raise unsupported_setting(
            name,
            f"surrogate_function {type(function).__name__} is in non-spiking mode: the forward outputs its "
            "primitive function (analog values), not spikes",
            "call surrogate_function.set_spiking_mode(True) before saving",
        )
    try:
        with torch.no_grad():
            probe = function(torch.tensor([-1.0, 0.0, 1.0]))
        step = probe.tolist() == [0.0, 1.0, 1.0]
    except Exception:
        step = False
    if not step:
        raise unsupported_setting(
            name,
            f"surrogate_function {type(function).__name__} does not fire as heaviside(x) = [x >= 0] in its forward",
            "use a spikingjelly surrogate in spiking mode (the surrogate shapes the gradient only)",
        )


def _initial_v(name: str, m: MemoryModule) -> float:
    """The potential reset_net restores at the start of every sample."""
    value = getattr(m, "_memories_rv", {}).get("v", 0.0)
    if isinstance(value, torch.Tensor) and value.numel() == 1:
        value = value.item()
    if isinstance(value, (int, float)) and math.isfinite(value):
        return float(value)
    raise unsupported_setting(
        name,
        "the reset value of v is not one number (a per-neuron initial potential set on the module)",
        "keep spikingjelly's reset value (v_reset for a hard reset, 0 for a soft reset)",
    )


def _reset(name: str, m: nn.Module) -> dict[str, Any]:
    """Hard reset to v_reset, or soft reset by θ (v_reset None); v starts at the reset value."""
    hard = getattr(m, "v_reset", None) is not None
    v0 = _initial_v(name, m)
    return {
        "reset": "zero" if hard else "subtract",
        "v_reset": _number(name, m, "v_reset") if hard else 0.0,
        "v_init": Const(v0) if v0 != 0.0 else None,
    }


def _bias(value: float) -> Const | None:
    return Const(value) if value != 0.0 else None


def _v_rest(name: str, m: nn.Module) -> float:
    return 0.0 if getattr(m, "v_reset", None) is None else _number(name, m, "v_reset")


def if_node(name: str, m: neuron.IFNode, src: Shape | None) -> Op:
    """H = V + X."""
    _check_node(name, m)
    return LIF(shape=(), beta=1.0, gain=1.0, threshold=_number(name, m, "v_threshold"), fire=">=", **_reset(name, m))


def _leaky(name: str, m: nn.Module, inverse_tau: float, decay_input: bool, **extra: Any) -> Op:
    """H = (1 − 1/τ)·V + g·X + Vr0/τ with g = 1/τ (decay_input) or 1."""
    return LIF(
        shape=(),
        beta=1.0 - inverse_tau,
        gain=inverse_tau if decay_input else 1.0,
        bias=_bias(_v_rest(name, m) * inverse_tau),
        threshold=_number(name, m, "v_threshold"),
        fire=">=",
        **_reset(name, m),
        **extra,
    )


def lif_node(name: str, m: neuron.LIFNode, src: Shape | None) -> Op:
    _check_node(name, m)
    return _leaky(name, m, 1.0 / _number(name, m, "tau"), bool(m.decay_input))


def plif_node(name: str, m: neuron.ParametricLIFNode, src: Shape | None) -> Op:
    """As LIF with 1/τ = sigmoid(w), w the learned parameter."""
    _check_node(name, m)
    w = _number(name, m, "w")
    return _leaky(name, m, 1.0 / (1.0 + math.exp(-w)), bool(m.decay_input))


def klif_node(name: str, m: neuron.KLIFNode, src: Shape | None) -> Op:
    """F = ReLU(k·H) fires (F >= θ) and is stored; scale_reset stores F/k and resets by θ/k instead.

    k > 0: F = max(k(1 − 1/τ)·V + k·g·X + k·Vr0/τ, 0), an LIF with a floor at 0.  With
    scale_reset, F/k = max(H, 0) and F >= θ ⇔ max(H, 0) >= θ/k: the plain LIF with a floor
    and threshold θ/k.
    """
    _check_node(name, m)
    k, tau = _number(name, m, "k"), _number(name, m, "tau")
    if not k > 0:
        raise unsupported_setting(
            name, f"KLIF k = {k:.4g}: ReLU(k·H) is a neuron only for k > 0", "constrain k to be positive in training"
        )
    if m.scale_reset:
        threshold = _number(name, m, "v_threshold") / k
        return dataclasses.replace(_leaky(name, m, 1.0 / tau, bool(m.decay_input), v_floor=0.0), threshold=threshold)
    beta = k * (1.0 - 1.0 / tau)
    if beta > 1.0:
        raise unsupported_setting(
            name,
            f"KLIF k = {k:.4g} gives a voltage decay k(1 - 1/tau) = {beta:.4g} > 1 (a growing potential)",
            f"constrain k to at most tau/(tau - 1) = {tau / (tau - 1):.4g} in training",
        )
    op = _leaky(name, m, 1.0 / tau, bool(m.decay_input), v_floor=0.0)
    return dataclasses.replace(op, beta=beta, gain=k * op.gain, bias=_bias(k * _v_rest(name, m) / tau))


def clif_node(name: str, m: neuron.ComplementaryLIFNode, src: Shape | None) -> Op:
    """H = (1 − 1/τ)·V + X; m = m·σ(H/τ) + S; V = H − S·(θ + σ(m)) (SPEC.md §clif, m_tau = τ)."""
    _check_node(name, m)
    tau = _number(name, m, "tau")
    v0 = _initial_v(name, m)
    return CLIF(
        shape=(),
        beta=1.0 - 1.0 / tau,
        threshold=_number(name, m, "v_threshold"),
        fire=">=",
        reset="subtract",
        v_init=_bias(v0),
        m_tau=tau,
    )


def dsr_node(name: str, m: nn.Module, src: Shape | None) -> Op:
    """DSR fires at V >= α·Vth and subtracts Vth, emitting Vth (IF) or Vth/Δt (LIF).

    V' = V + (1 − α)·Vth fires at Vth and starts at V0 = (1 − α)·Vth; DSR-LIF's input gain
    (1 − β) makes the shift a constant bias (1 − β)·V0.  Vth is clamped to its lower bound.
    """
    vth = max(_number(name, m, "v_threshold"), _number(name, m, "v_threshold_lower_bound"))
    v0 = (1.0 - _number(name, m, "alpha")) * vth
    if isinstance(m, neuron.DSRLIFNode):
        delta_t = _number(name, m, "delta_t")
        beta = math.exp(-delta_t / _number(name, m, "tau"))
        gain, amplitude = 1.0 - beta, vth / delta_t
    else:
        beta, gain, amplitude = 1.0, 1.0, vth
    return LIF(
        shape=(),
        beta=beta,
        gain=gain,
        bias=_bias((1.0 - beta) * v0),
        threshold=vth,
        fire=">=",
        reset="subtract",
        v_init=_bias(v0),
        amplitude=amplitude,
    )


CONVERTERS: dict[type[nn.Module], Converter] = {
    neuron.IFNode: if_node,
    neuron.LIFNode: lif_node,
    neuron.ParametricLIFNode: plif_node,
    neuron.KLIFNode: klif_node,
    neuron.ComplementaryLIFNode: clif_node,
    neuron.DSRIFNode: dsr_node,
    neuron.DSRLIFNode: dsr_node,
    # step-mode wrappers of torch layers: per step they are the torch layer
    layer.Linear: layer_converter(nn.Linear),
    layer.Conv2d: layer_converter(nn.Conv2d),
    layer.AvgPool2d: layer_converter(nn.AvgPool2d),
    layer.MaxPool2d: layer_converter(nn.MaxPool2d),
    layer.BatchNorm1d: layer_converter(nn.BatchNorm1d),
    layer.BatchNorm2d: layer_converter(nn.BatchNorm2d),
    layer.Flatten: layer_converter(nn.Flatten),
}


def safe_classes() -> tuple[type, ...]:
    """Classes allowlisted for weights_only loading of a whole saved module.

    Unpickling them runs only their constructor or nn.Module.__setstate__ (attribute updates);
    they hold floats, strings, tensors and each other.
    """
    surrogates = tuple(
        v for v in vars(surrogate).values() if isinstance(v, type) and issubclass(v, surrogate.SurrogateFunctionBase)
    )
    return (*CONVERTERS, *BYPASSED, *CONTAINERS, *surrogates)


# --- walking a spikingjelly model -----------------------------------------------------------------


def adapt(model: nn.Module, input_shape: Shape) -> Adapted | None:
    """The per-step chain of a spikingjelly model, with the steps and readout its forward fixes.

    Works on a copy: containers become nn.Sequential with the same children, modules switch to
    single-step mode (for the probe run when torch.fx cannot trace the forward).
    """
    if is_leaf(model) and framework_of(type(model)) is not None:
        return None  # a single layer: the standard walk
    multi = _multi_step(model)
    try:
        body = copy.deepcopy(model)
    except Exception as exc:
        raise ImportFailed(
            f"cannot copy the model to unwrap its spikingjelly containers ({type(exc).__name__}: {exc})",
            code="IMT006",
            hint="keep only modules and tensors as attributes of the model",
        ) from exc
    body = _per_step(body, multi, inside=isinstance(body, CONTAINERS))
    if isinstance(body, CONTAINERS):
        body = nn.Sequential(OrderedDict(body.named_children()))
    try:
        graph = trace(body)
    except Exception:
        return Adapted(walk_body(body, "", input_shape), notes=_mode_note(multi))
    if not multi:
        looped = _time_loop(body, graph)
        if looped is not None:
            return looped
    steps, readout, notes = _strip_time(graph, multi)
    return Adapted(walk_trace(body, graph, ""), steps, readout, (*_mode_note(multi), *notes))


def _time_loop(body: nn.Module, graph: torch.fx.Graph) -> Adapted | None:
    """Single-step modules looped over time by forward (``for t in range(T): out += self.net(x)``,
    ``out / T``, ``functional.reset_net``: the clock_driven tutorials' loop), folded to one step.

    An encoder applied to the input inside the loop is the input coding (see _drop_encoders).
    """
    folded = time_loop.fold(body, graph, lambda m: isinstance(m, neuron.BaseNode))
    if folded is None:
        return None
    step, steps, readout = folded
    warnings = _drop_encoders(body, step)
    return Adapted(
        walk_trace(body, step, ""),
        steps,
        readout,
        (*_mode_note(False), ("time_loop", time_loop.note(steps))),
        warnings,
    )


def _drop_encoders(body: nn.Module, step: torch.fx.Graph) -> tuple[Diagnostic, ...]:
    """Remove spikingjelly encoders from the step: the chip receives the data as given.

    A Poisson encoder draws spikes with probability x at every step; imported without it, each
    step gets x itself, the spikes' expected value (deterministic, as the float reference is).
    To deploy the random spikes, encode the data beforehand and pass it per step.
    """
    warnings = []
    for node in list(step.nodes):
        if node.op == "call_module" and isinstance(body.get_submodule(str(node.target)), ENCODERS):
            node.replace_all_uses_with(node.args[0])
            step.erase_node(node)
            kind = type(body.get_submodule(str(node.target))).__name__
            warnings.append(
                Diagnostic(
                    "warning",
                    "IMT051",
                    f"forward applies the {kind} {str(node.target)!r} at every step: imported as the input "
                    "coding, so every step receives the data as given (for a Poisson encoder: its spikes' "
                    "expected value, deterministic) instead of random spikes",
                    node=str(node.target),
                    hint="to deploy encoded spikes, encode the data beforehand and pass x of shape (N, T, ...)",
                )
            )
    return tuple(warnings)


def _mode_note(multi: bool) -> tuple[tuple[str, str], ...]:
    mode = "multi-step ('m'): imported as its per-step chain" if multi else "single-step ('s')"
    return (("spikingjelly", f"step mode {mode}"),)


def _multi_step(model: nn.Module) -> bool:
    for m in model.modules():
        if isinstance(m, (layer.SeqToANNContainer, layer.MultiStepContainer, *MULTI_STEP_ONLY)):
            return True
        if isinstance(m, StepModule) and getattr(m, "step_mode", "s") == "m":
            return True
    return False


def _per_step(module: nn.Module, multi: bool, inside: bool) -> nn.Module:
    """Unwrap containers (same child names, so node names keep the user's paths); single-step modes.

    A plain nn.Flatten(2) applied to [T, N, ...] in a multi-step network flattens each sample.
    """
    for child_name, child in list(module.named_children()):
        replaced = _per_step(child, multi, inside or isinstance(child, CONTAINERS))
        if isinstance(child, CONTAINERS):
            replaced = nn.Sequential(OrderedDict(child.named_children()))
        elif multi and not inside and type(child) is nn.Flatten and (child.start_dim, child.end_dim) == (2, -1):
            replaced = nn.Flatten()
        if replaced is not child:
            setattr(module, child_name, replaced)
    if (
        isinstance(module, StepModule)
        and not isinstance(module, (*CONTAINERS, *MULTI_STEP_ONLY))
        and "s" in module.supported_step_mode()
    ):
        module.step_mode = "s"
    return module


def _strip_time(graph: torch.fx.Graph, multi: bool) -> tuple[int | None, str | None, tuple[tuple[str, str], ...]]:
    """Remove a multi-step forward's repetition of the input over T steps and its reduction over time.

    Returns (T, readout, notes); None where the forward does not fix it.  A multi-step output
    that is not reduced is the per-step record: readout "steps".
    """
    if not multi:
        return None, None, ()
    inputs = [n for n in graph.nodes if n.op == "placeholder"]
    output = next(n for n in graph.nodes if n.op == "output")
    if len(inputs) != 1:
        return None, None, ()  # the walk reports the extra inputs
    steps, notes = None, []
    repeated = _repetition(inputs[0])
    if repeated is not None:
        node, per_step, steps = repeated
        node.replace_all_uses_with(per_step)
        notes.append(("time", f"forward repeats the input over {steps} steps"))
    value = output.args[0]
    if not isinstance(value, torch.fx.Node):
        return steps, None, tuple(notes)
    reduced = _reduction(value)
    if reduced is None:
        return steps, "steps", tuple(notes)
    inner, readout = reduced
    output.args = (inner,)
    notes.append(("readout", f"forward takes the {readout} over time"))
    return steps, readout, tuple(notes)


def _repetition(x: torch.fx.Node) -> tuple[torch.fx.Node, torch.fx.Node, int] | None:
    """(node, per-step input, T) for x.unsqueeze(0).repeat(T, 1, ...), x.unsqueeze(0).expand(T, -1, ...),
    torch.stack([x] * T) or x.view(1, -1, *sizes).repeat(T, 1, ...) (the view then reshapes each sample)."""
    users = list(x.users)
    if len(users) != 1:
        return None
    (user,) = users
    if is_call(user, "stack") and dim_arg(user) in (0, None) and len(user.args) <= 2:
        items = user.args[0]
        if isinstance(items, (list, tuple)) and items and all(i is x for i in items):
            return user, x, len(items)
        return None
    grows = is_call(user, "unsqueeze") and dim_arg(user) == 0
    sizes = size_args(user) if is_call(user, "view") or is_call(user, "reshape") else ()
    reshapes = len(sizes) > 2 and sizes[0] == 1 and sizes[1] == -1 and all(isinstance(s, int) for s in sizes[2:])
    if not (grows or reshapes) or len(user.users) != 1:
        return None
    (grown,) = user.users
    if grown.op != "call_method" or grown.target not in ("repeat", "expand") or grown.kwargs:
        return None
    times = size_args(grown)
    rest = 1 if grown.target == "repeat" else -1
    if not (times and isinstance(times[0], int) and times[0] >= 1 and all(s == rest for s in times[1:])):
        return None
    if reshapes:  # x.view(1, -1, C, H, W) -> x.view(-1, C, H, W): the per-step reshape of the input
        user.args = (x, -1, *sizes[2:])
        return grown, user, int(times[0])
    return grown, x, int(times[0])


def _reduction(value: torch.fx.Node) -> tuple[torch.fx.Node, str] | None:
    """y.mean(0), y.sum(0) (or torch.mean/sum(y, 0)) and y[-1] reduce the per-step outputs."""
    for name in ("mean", "sum"):
        reduces_time = is_call(value, name) and dim_arg(value) == 0 and not value.kwargs.get("keepdim", False)
        if reduces_time and len(value.args) <= 2 and isinstance(value.args[0], torch.fx.Node):
            return value.args[0], name
    if value.op == "call_function" and value.target is operator.getitem and value.args[1] == -1:
        return value.args[0], "last"
    return None


IMPORTER = register(
    FrameworkImporter(
        package="spikingjelly",
        converters=CONVERTERS,
        bypassed=BYPASSED,
        supported_names=SUPPORTED_NAMES,
        is_leaf=is_leaf,
        adapt=adapt,
    )
)
