"""snntorch 1.0.0 models -> FLOAT IR: ``Leaky``, ``Synaptic`` and ``RLeaky`` mapped exactly, in nn.Sequential or a time loop.

snntorch 1.0.0 ``Leaky`` (``snntorch/_neurons/leaky.py``, ``neurons.py``), per call, with U the
stored membrane (0 at the start: ``init_leaky()``, ``reset_hidden()``, or a new input shape):
    R_t = H(U_{t−1} − θ)                    the previous step's spike, recomputed from U_{t−1}
    subtract: U_t = β·U_{t−1} + X_t − R_t·θ
    zero:     U_t = β·(1 − R_t)·U_{t−1} + X_t
    none:     U_t = β·U_{t−1} + X_t
    S_t = H(U_t − θ)·graded_spikes_factor
H is the forward of ``spike_grad``: [x > 0] for every snntorch surrogate (fire ">"; probed per
layer), β is clamped to [0, 1].  ``reset_delay=False`` also removes (S_t − R_t)·θ (subtract) or
(S_t − R_t)·U_t (zero) in the same step.

As the IR's lif (v = the potential after reset, h before):
- zero: U_t = β·v_{t−1} + X_t with v = 0 where S: the IR's hard reset to 0, with or without delay;
- subtract with the delay: U_t = β·U_{t−1} + X_t − θ·S_{t−1}, so the reset removes θ/β before the
  decay.  With c = θ(1/β − 1) and V' = U + c it is exactly the IR's soft reset: threshold θ/β,
  reset by θ/β, bias (1 − β)·c, V'_0 = c (β = 1: c = 0, the plain soft reset);
- subtract without the delay: a soft reset by θ, except that a neuron whose potential stays above θ
  after its reset (it exceeded 2θ) must exceed 2θ to fire again — not expressible: refused;
- none (fires but never resets): the IR has no such reset: refused.

``RLeaky`` (``snntorch/_neurons/rleaky.py``) adds its recurrent connection to X_t: rec(S_{t−1}), with
rec its ``recurrent`` submodule (nn.Linear, nn.Conv2d, or one weight V per neuron) and S_0 = 0 —
the IR's recurrent synapse (SPEC.md §1.1), a dense/conv2d from the layer back to itself named
``<layer>.recurrent``.  Its resets follow Leaky's, except zero with the delay: RLeaky multiplies the
whole new membrane, input included, by 1 − R_t, a refractory step after each spike: refused
(reset_delay=False, the hard reset NIR's export means, maps exactly).

``Synaptic`` (``snntorch/_neurons/synaptic.py``) feeds the membrane a current instead of the input:
I_t = α·I_{t−1} + X_t (α clamped to [0, 1]), then Leaky's equations with I_t for X_t — the IR's lif
with current decay α and gain 1, every reset mapped as Leaky's, except zero with the delay, where
snntorch multiplies the whole new membrane, current included, by 1 − R_t (a refractory step, as
RLeaky's): refused.  Zero without the delay resets the membrane to 0 right after the spike, so R_t
is always 0: the IR's hard reset, the current kept.

``Leaky(init_hidden=True)`` keeps its membrane: nn.Sequential applies one step per call.
``Leaky(init_hidden=False)`` returns (spk, mem) and is called with an explicit membrane in the
user's forward (``RLeaky``: spike state and membrane), in a loop over a fixed number of steps;
``adapt`` reads that loop from its torch.fx trace: every step must apply the same layers to the same input, each Leaky getting the membrane it
returned the step before (zero at the first), and forward must return the stacked spikes of a
layer (``torch.stack(spk_rec)``, optionally with the membrane record; or its sum or mean over time;
or the running count ``cnt = cnt + spk``, optionally divided by the number of steps).
"""

from __future__ import annotations

import dataclasses
import operator
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.fx
from snntorch import Leaky, RLeaky, Synaptic
from snntorch._neurons.neurons import SpikingNeuron
from torch import nn

from snncc.errors import Diagnostic, ImportFailed
from snncc.ir import LIF, Const, Dense, Op, Shape

from . import time_loop
from .frameworks import Adapted, Converter, FrameworkImporter, register
from .fx_match import dim_arg, is_call
from .time_loop import same_step
from .torch_layers import layer_converter, unsupported_setting
from .torch_walk import trace, walk_trace

BYPASSED: tuple[type[nn.Module], ...] = ()
SUPPORTED_NAMES = (
    "snntorch Leaky (reset_mechanism 'subtract' or 'zero'), Synaptic, RLeaky (its recurrent connection "
    "included) and the torch layers snncc imports"
)
MECHANISMS = {"_base_sub": "subtract", "_base_zero": "zero", "_base_int": "none"}
NEURONS = (Leaky, Synaptic, RLeaky)
# the state an explicit-membrane call takes after its input, in order, and where the call returns it:
# spk, mem = rleaky(cur, spk, mem); spk, syn, mem = synaptic(cur, syn, mem)
STATE_ARGS: dict[type[nn.Module], tuple[tuple[str, int], ...]] = {
    Leaky: (("mem", 1),),
    Synaptic: (("syn", 1), ("mem", 2)),
    RLeaky: (("spk", 0), ("mem", 1)),
}


def is_leaf(m: nn.Module) -> bool:
    """snntorch's modules are neurons and layers, never containers."""
    return True


# --- Leaky ----------------------------------------------------------------------------------------


def _scalar(name: str, m: nn.Module, attr: str) -> float:
    """One value per layer (a tensor whose elements are all equal counts as one)."""
    value = getattr(m, attr, None)
    if isinstance(value, torch.Tensor):
        flat = value.detach().double().flatten()
        if flat.numel() >= 1 and bool(torch.all(flat == flat[0])) and bool(torch.isfinite(flat[0])):
            return float(flat[0])
        if flat.numel() > 1:
            raise unsupported_setting(
                name,
                f"{attr} differs between neurons (shape {tuple(value.shape)}); the IR's lif has one {attr} per layer",
                f"train with one {attr} per layer (a scalar), or fold per-neuron values into the weights",
            )
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise unsupported_setting(name, f"{attr}={value!r} is not a finite number", f"set {attr} to a number")


def _fire(name: str, m: Leaky) -> str:
    """The spike test of the layer's spike_grad forward: [x > 0] (every snntorch surrogate) or [x >= 0]."""
    try:
        with torch.no_grad():
            probe = m.spike_grad(torch.tensor([-1.0, 0.0, 1.0])).tolist()
    except Exception:
        probe = None
    if probe == [0.0, 0.0, 1.0]:
        return ">"
    if probe == [0.0, 1.0, 1.0]:
        return ">="
    raise unsupported_setting(
        name,
        f"spike_grad's forward is not a step function (gives {probe} at -1, 0, 1)",
        "use an snntorch surrogate (snntorch.surrogate.*): its forward is the step [x > 0]",
    )


def _mechanism(name: str, m: Leaky) -> str:
    """The reset the layer applies: its state function, which must agree with reset_mechanism_val."""
    function = getattr(getattr(m, "state_function", None), "__func__", None)
    mechanism = MECHANISMS.get(getattr(function, "__name__", ""))
    value = getattr(m, "reset_mechanism_val", None)
    stored = (
        list(SpikingNeuron.reset_dict)[int(value)] if isinstance(value, torch.Tensor) and value.numel() == 1 else None
    )
    if mechanism is None or stored not in (None, mechanism):
        raise unsupported_setting(
            name,
            f"the layer resets by {mechanism!r} but its reset_mechanism_val buffer says {stored!r} "
            "(a state dict loaded into a Leaky built with another reset_mechanism)",
            "build the Leaky with the reset_mechanism it was trained with",
        )
    return mechanism


def leaky(name: str, m: Leaky, src: Shape | None) -> Op:
    """Leaky as the IR's lif (module docstring)."""
    if getattr(m, "inhibition", False):
        raise unsupported_setting(
            name, "inhibition=True lets only the strongest neuron of a sample fire", "train with inhibition=False"
        )
    if getattr(m, "state_quant", False):
        raise unsupported_setting(
            name, "state_quant quantizes the membrane with a user function", "train with state_quant=False"
        )
    beta = min(max(_scalar(name, m, "beta"), 0.0), 1.0)  # snntorch clamps β in the forward
    theta = _scalar(name, m, "threshold")
    amplitude = _scalar(name, m, "graded_spikes_factor")
    fire = _fire(name, m)
    mechanism = _mechanism(name, m)
    if not theta > 0:
        raise unsupported_setting(
            name, f"threshold {theta} is not positive: a resting neuron would fire", "use a positive threshold"
        )
    common = {"shape": (), "beta": beta, "fire": fire, "amplitude": amplitude}
    if mechanism == "zero":  # identical with and without reset_delay
        return LIF(threshold=theta, reset="zero", **common)
    if mechanism == "none":
        raise unsupported_setting(
            name,
            "reset_mechanism='none' fires without resetting; the IR's lif always resets when it fires",
            "train with reset_mechanism='subtract' or 'zero'",
        )
    if not getattr(m, "reset_delay", True):
        raise unsupported_setting(
            name,
            "reset_mechanism='subtract' with reset_delay=False: a neuron whose potential exceeded 2·threshold "
            "keeps the previous reset and must exceed 2·threshold to fire again (snntorch 1.0.0), which no "
            "lif reproduces",
            "train with reset_delay=True (the default: loihi2; xylo with Synaptic and beta=1.0) or "
            "reset_mechanism='zero' (loihi, loihi2); docs/models.md: which forms deploy where",
        )
    if beta == 0.0:
        raise unsupported_setting(
            name,
            "beta 0 with reset_mechanism='subtract' carries only the reset into the next step",
            "train with beta > 0 or reset_mechanism='zero'",
        )
    shift = theta * (1.0 / beta - 1.0)  # V' = U + shift fires at θ/β and resets by θ/β
    return LIF(
        threshold=theta / beta,
        reset="subtract",
        bias=Const((1.0 - beta) * shift) if shift else None,
        v_init=Const(shift) if shift else None,
        **common,
    )


def rleaky(name: str, m: RLeaky, src: Shape | None) -> Op:
    """RLeaky as the IR's lif; its recurrent connection is ``recurrent_synapse`` (module docstring)."""
    _refuse_refractory_zero(name, m, "input")
    return leaky(name, m, src)


def synaptic(name: str, m: Synaptic, src: Shape | None) -> Op:
    """Synaptic as the IR's lif with current decay α (module docstring)."""
    _refuse_refractory_zero(name, m, "current")
    alpha = min(max(_scalar(name, m, "alpha"), 0.0), 1.0)  # snntorch clamps α in the forward
    return dataclasses.replace(leaky(name, m, src), alpha=alpha)


def _refuse_refractory_zero(name: str, m: RLeaky | Synaptic, dropped: str) -> None:
    """RLeaky and Synaptic (unlike Leaky) multiply the whole next membrane by 1 - reset under a delayed zero reset."""
    if _mechanism(name, m) == "zero" and getattr(m, "reset_delay", True):
        raise unsupported_setting(
            name,
            f"{type(m).__name__} with reset_mechanism='zero' and reset_delay=True zeroes the whole next membrane "
            f"after a spike, {dropped} included (snntorch 1.0.0 multiplies it by 1 - reset): a refractory step no "
            "lif has",
            "train with reset_delay=False (a reset to 0 right after the spike, the hard reset NIR and snncc use: "
            "loihi, loihi2) or reset_mechanism='subtract' (loihi2; xylo with Synaptic and beta=1.0); docs/models.md: "
            "which forms deploy where",
        )


def recurrent_synapse(name: str, m: RLeaky, shape: Shape) -> Op:
    """The synapse op that carries the layer's spikes of the previous step back to it (SPEC.md §1.1):
    ``recurrent`` is an nn.Linear (linear_features), an nn.Conv2d (conv2d_channels, kernel_size,
    padding kernel // 2) or, with all_to_all=False, one weight V per neuron (or one for all)."""
    rec = m.recurrent
    if isinstance(rec, (nn.Linear, nn.Conv2d)):
        return layer_converter(type(rec))(f"{name}.recurrent", rec, shape)
    n = int(np.prod(shape))
    v = torch.as_tensor(rec.V).detach().double().flatten()
    if v.numel() not in (1, n):
        raise unsupported_setting(
            name, f"V holds {v.numel()} weights for {n} neurons", "give one recurrent weight per neuron or one for all"
        )
    return Dense(shape=(), weight=Const(np.diag(np.broadcast_to(v.numpy(), (n,)).copy())))


CONVERTERS: dict[type[nn.Module], Converter] = {Leaky: leaky, Synaptic: synaptic, RLeaky: rleaky}
# class -> the synapse op of its recurrent connection (torch.py adds it from the layer back to itself)
RECURRENT: dict[type[nn.Module], Callable[[str, Any, Shape], Op]] = {RLeaky: recurrent_synapse}


# --- the explicit-membrane time loop --------------------------------------------------------------


def adapt(model: nn.Module, input_shape: Shape) -> Adapted | None:
    """A custom forward that loops Leaky(init_hidden=False) layers over time, folded to one step."""
    looped = {name for name, m in model.named_modules() if isinstance(m, NEURONS) and not m.init_hidden}
    if isinstance(model, NEURONS):
        return None
    if not looped:
        return _hidden_state_loop(model)  # None for nn.Sequential of init_hidden=True layers: the standard walk
    try:
        graph = trace(model)
    except Exception as exc:
        cause = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportFailed(
            f"cannot trace {type(model).__name__}.forward with torch.fx ({cause}); snncc reads the time loop of "
            "Leaky layers called with an explicit membrane from that trace",
            code="IMT006",
            hint="loop over a fixed number of steps (for step in range(num_steps)) without data-dependent "
            "control flow, or use Leaky(init_hidden=True) in nn.Sequential and pass --steps and --readout",
        ) from exc
    return _fold_loop(model, graph, looped)


def _hidden_state_loop(model: nn.Module) -> Adapted | None:
    """A forward that loops Leaky(init_hidden=True) layers (tutorial 7's ``for step in range(num_steps):
    spk_out, mem_out = self.net(x)``, after ``utils.reset(self.net)``), folded to one step by time_loop."""
    if isinstance(model, nn.Sequential):
        return None
    try:
        graph = trace(model)
    except Exception:  # the standard walk reports why it cannot be read
        return None
    folded = time_loop.fold(model, graph, lambda m: isinstance(m, NEURONS) and m.init_hidden)
    if folded is None:
        return None
    step, steps, readout = folded
    for node in list(step.nodes):  # Leaky(output=True) returns (spk, mem): the spikes are its output
        if node.op == "call_function" and node.target is operator.getitem and node.args[1] == 0:
            source = node.args[0]
            if (
                isinstance(source, torch.fx.Node)
                and source.op == "call_module"
                and isinstance(model.get_submodule(str(source.target)), NEURONS)
            ):
                node.replace_all_uses_with(source)
                step.erase_node(node)
    walk = walk_trace(model, step, "")
    return Adapted(walk, steps, readout, (("time_loop", time_loop.note(steps)),))


def _fold_loop(model: nn.Module, graph: torch.fx.Graph, looped: set[str]) -> Adapted:
    calls: dict[str, list[torch.fx.Node]] = defaultdict(list)
    for node in graph.nodes:
        if node.op == "call_module" and node.target in looped:
            calls[str(node.target)].append(node)
    record, readout = _spike_record(graph, calls)
    steps = len(record)
    problems = _state_problems(model, calls, steps)
    step_of = {c: i for cs in calls.values() for i, c in enumerate(cs)}
    for t in range(1, steps):
        if not same_step(record[t], record[0], t, 0, step_of, {}):
            problems.append(
                _problem(
                    None,
                    f"step {t + 1} of the loop does not apply the same layers to the same input as step 1",
                    "present the same input at every step (snncc's direct input) and apply the same layers",
                )
            )
            break
    if problems:
        raise ImportFailed(diagnostics=problems)
    walk = walk_trace(model, _one_step(graph, record[0], looped), "")
    note = f"snntorch time loop over {steps} steps folded into one step; Leaky membranes carried between steps"
    return Adapted(walk, steps, readout, (("snntorch", note),))


def _problem(node: str | None, message: str, hint: str) -> Diagnostic:
    return Diagnostic("error", "IMT004", message, node=node, hint=hint)


def _spike_record(graph: torch.fx.Graph, calls: dict[str, list[torch.fx.Node]]) -> tuple[list[torch.fx.Node], str]:
    """The per-step spikes forward returns: torch.stack(spk_rec) (readout "steps"), or its sum/mean over time."""
    output = next(n for n in graph.nodes if n.op == "output")
    value = output.args[0]
    candidates = list(value) if isinstance(value, (tuple, list)) else [value]
    membrane = False
    for candidate in candidates:
        counted = _spike_count(candidate, calls)
        if counted is not None:
            return counted
        stacked, readout = candidate, "steps"
        for name in ("sum", "mean"):
            if is_call(candidate, name) and dim_arg(candidate) == 0 and len(candidate.args) <= 2:
                stacked, readout = candidate.args[0], name
        if not (is_call(stacked, "stack") and dim_arg(stacked) in (0, None)):
            continue
        items = stacked.args[0]
        if not isinstance(items, (list, tuple)) or not items:
            continue
        spikes = [_output_of(i, calls) for i in items]
        if all(s is not None and s[1] == 0 for s in spikes):
            targets = {s[0].target for s in spikes}
            if len(targets) == 1:
                return list(items), readout
        membrane = membrane or all(s is not None and s[1] == 1 for s in spikes)
    what = "the membrane record only" if membrane else "no stacked spike record of a Leaky layer"
    raise ImportFailed(
        f"forward returns {what}; snncc reads out the spikes of the last layer at every step",
        code="IMT007",
        hint="return torch.stack(spk_rec) (optionally with torch.stack(mem_rec)), where spk_rec collects the last "
        "Leaky's spikes at each step, or the running count of its spikes (cnt = cnt + spk); a Leaky in "
        "nn.Sequential needs init_hidden=True",
    )


def _spike_count(value: Any, calls: dict[str, list[torch.fx.Node]]) -> tuple[list[torch.fx.Node], str] | None:
    """A running count of one Leaky's spikes over the loop (``cnt = cnt + spk``; divided by T: a rate)."""
    total, divisor = time_loop.divided(value)
    summands = time_loop.terms(total)
    spikes = [_output_of(s, calls) for s in summands]
    if len(summands) < 2 or not all(s is not None and s[1] == 0 for s in spikes):
        return None
    if len({s[0].target for s in spikes}) != 1 or divisor not in (None, len(summands)):
        return None
    return summands, "sum" if divisor is None else "mean"


def _output_of(node: Any, calls: dict[str, list[torch.fx.Node]]) -> tuple[torch.fx.Node, int] | None:
    """(neuron call, the index of what it returned: 0 its spikes, 1 its membrane, or for Synaptic 1 its
    current and 2 its membrane) for spk, mem = leaky(...) or spk, syn, mem = synaptic(...)."""
    if isinstance(node, torch.fx.Node) and node.op == "call_function" and node.target is operator.getitem:
        source, index = node.args
        if isinstance(source, torch.fx.Node) and source in calls.get(str(source.target), ()) and index in (0, 1, 2):
            return source, index
    return None


def _state_problems(model: nn.Module, calls: dict[str, list[torch.fx.Node]], steps: int) -> list[Diagnostic]:
    """Each Leaky runs once per step and gets the membrane it returned the step before (zero at first)."""
    problems = []
    for target, nodes in calls.items():
        if len(nodes) != steps:
            problems.append(
                _problem(
                    target,
                    f"the layer runs {len(nodes)} times, but forward records {steps} steps",
                    "call every Leaky once per step of the loop",
                )
            )
            continue
        states = STATE_ARGS[type(model.get_submodule(target))]
        for t, node in enumerate(nodes):
            for position, (state, returned) in enumerate(states, start=1):
                value = node.args[position] if len(node.args) > position else node.kwargs.get(state)
                what = "membrane" if state == "mem" else "spike state"
                if t == 0 and not _zero_state(model, value):
                    problems.append(
                        _problem(
                            target,
                            f"the {what} passed at the first step is not zero",
                            "start from the layer's init_leaky()/reset_mem() (snncc starts every sample from 0)",
                        )
                    )
                elif t > 0 and _output_of(value, calls) != (nodes[t - 1], returned):
                    problems.append(
                        _problem(
                            target,
                            f"at step {t + 1} the {what} passed is not the one the layer returned at step {t}",
                            "pass each layer its own state: spk, mem = leaky(cur, mem) or rleaky(cur, spk, mem)",
                        )
                    )
            if problems and problems[-1].node == target:
                break
    return problems


def _zero_state(model: nn.Module, mem: Any) -> bool:
    """None, torch.zeros(...)/zeros_like(...), or an attribute holding zeros (init_leaky() at trace time)."""
    if mem is None:
        return True
    if not isinstance(mem, torch.fx.Node):
        return False
    if mem.op == "call_function" and mem.target in (torch.zeros, torch.zeros_like):
        return True
    if mem.op == "call_method" and mem.target in ("zeros_like", "new_zeros"):
        return True
    if mem.op == "get_attr":
        value: Any = model
        for part in str(mem.target).split("."):
            value = getattr(value, part, None)
        return isinstance(value, torch.Tensor) and not bool(torch.any(value != 0))
    return False


def _one_step(graph: torch.fx.Graph, spikes: torch.fx.Node, looped: set[str]) -> torch.fx.Graph:
    """The first step as a graph of its own: Leaky calls without membranes, their spikes their outputs."""
    step = torch.fx.Graph()
    copied: dict[torch.fx.Node, torch.fx.Node] = {
        n: step.placeholder(str(n.target)) for n in graph.nodes if n.op == "placeholder"
    }

    def copy(node: torch.fx.Node) -> torch.fx.Node:
        if node not in copied:
            if node.op == "call_function" and node.target is operator.getitem and _leaky_call(node.args[0], looped):
                copied[node] = copy(node.args[0]) if node.args[1] == 0 else step.node_copy(node, copy)
            elif _leaky_call(node, looped):
                copied[node] = step.call_module(node.target, (copy(node.args[0]),))
            else:
                copied[node] = step.node_copy(node, copy)
        return copied[node]

    step.output(copy(spikes))
    return step


def _leaky_call(node: Any, looped: set[str]) -> bool:
    return isinstance(node, torch.fx.Node) and node.op == "call_module" and node.target in looped


IMPORTER = register(
    FrameworkImporter(
        package="snntorch",
        converters=CONVERTERS,
        bypassed=BYPASSED,
        supported_names=SUPPORTED_NAMES,
        is_leaf=is_leaf,
        adapt=adapt,
        recurrent=RECURRENT,
    )
)
