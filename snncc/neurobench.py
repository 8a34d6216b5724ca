"""NeuroBench's metrics, with neurobench 2.3.0's keys and definitions, for the float model and for the
deployed integer network (which NeuroBench cannot run).

Both are measured the way NeuroBench measures a model: one run over the same samples, counting, at every
step, what each synapse op receives and how each neuron layer's membrane changes.  The run is the
simulators' own (floatsim for the float model, refsim for the integer network) on the shared
interpreter, with a counting wrapper around their dialect; nothing is re-simulated differently.  A
compile measures both on the first MAX_SAMPLES verified samples; ``metrics`` takes any samples.

Keys (per sample where NeuroBench averages over samples):
- ``Footprint``: bytes.  Float model: its parameters as float32 (weights, biases, batch-norm
  parameters and statistics), what ``torch.save`` writes for them; NeuroBench also counts the torch
  module's other buffers (snntorch's Leaky keeps 20 bytes of constants per layer), which the IR does
  not carry.  Integer network: the synapse memory of the placed cores in the target's memory format
  (``target.memory_model``, weight_bits-bit weights, index and axon-map bits as the mapper counts them)
  plus each neuron's bias mantissa.
- ``ConnectionSparsity``: zero weights / weights of the synapse ops (biases not counted), rounded to 4
  decimals as NeuroBench rounds it.  Integer network: zero integer weights (quantization adds zeros).
- ``ActivationSparsity``: 1 − nonzero outputs / (spiking neurons × steps × samples), over the spiking
  layers (relays included; a Xylo neuron spiking several times in a step counts once).
- ``SynapticOperations``: ``Effective_MACs`` and ``Effective_ACs``, the (nonzero input, nonzero weight)
  pairs of every synapse op at every step, a call whose input holds only 0 and ±1 counting as ACs and
  any other (graded spikes, analog input, a split layer's partial sums) as MACs; ``Dense``: every
  (input, weight) pair within bounds, zeros included.  Integer network: the deployed synapses (pooling
  folded into them, relays and split layers' parts included), bit-plane input counted per set bit and
  Xylo's input per event as ACs, as the chip receives it (Dense: per plane, per possible event).
- ``MembraneUpdates``: neuron-steps whose membrane potential (before the reset, as snntorch stores it)
  differs from the step before, every neuron counted at a sample's first step (float: beyond 1e-9
  relative, float64 rounding that snntorch's float32 cannot see).  Not counted on Xylo.
- ``NeuronOperations``: NeuroBench's per-update operation counts of snntorch's neuron models (Leaky:
  4, Synaptic: 6 with a subtractive reset and 8 with a reset to zero), a layer with a decaying current
  counted as Synaptic: ``Effective Neuron Ops`` per membrane update, ``Neuron Dense Ops`` per neuron-step.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from snncc.backends.base import Record
from snncc.backends.floatsim.sim import FloatDialect
from snncc.backends.int_inputs import check_int_inputs, input_events, is_per_step
from snncc.backends.interpreter import interpret, port_sum
from snncc.backends.refsim.kernels import unwrapped_port_sum
from snncc.backends.refsim.simulator import DIALECTS, LoihiDialect
from snncc.ir import (
    CLIF,
    LIF,
    Graph,
    IntLIF,
    Stage,
)
from snncc.ir.arith import accumulate
from snncc.ir.ops.conv2d import conv2d as float_conv2d
from snncc.ir.ops.lif import int_lif_step, lif_step
from snncc.mapping.connectivity import Projection, nonzero_fan_out, projections
from snncc.mapping.placement import Placement
from snncc.passes.quantize import quantize_inputs

NEUROBENCH_VERSION = "2.3.0"  # the definitions followed (neurobench/metrics in that release)
BATCH = 64  # samples per run, as the verification's batches (memory stays bounded)
# NeuroBench's figures are per-sample means: a compile measures them on at most this many of the verified
# samples, as the counting run costs several times refsim's fused run (numpy steps, per-step counts)
MAX_SAMPLES = 256
# operations per membrane update of snntorch's neuron models (neurobench/metrics/workload/neuron_operations.py)
NEURON_OPS = {"Leaky": {"subtract": 4, "zero": 4}, "Synaptic": {"subtract": 6, "zero": 8}}
FLOAT_RTOL = 1e-9  # a float64 potential "unchanged" within this (snntorch's float32 cannot tell smaller changes)


@dataclass
class _Tally:
    """Counts of one run (over all its batches), per synapse op and neuron layer."""

    ac_inputs: dict[str, np.ndarray] = field(default_factory=dict)  # synapse -> nonzero inputs per position
    mac_inputs: dict[str, np.ndarray] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)  # synapse -> samples x steps it ran
    updates: dict[str, int] = field(default_factory=dict)  # neuron layer -> membrane updates
    active: dict[str, int] = field(default_factory=dict)  # neuron layer -> nonzero outputs (spikes)
    samples: int = 0


class _Counting:
    """A dialect that counts what NeuroBench counts, then does what ``base`` does."""

    def __init__(self, base: Any, graph: Graph, tally: _Tally, constant: set[str], pre_reset: Any) -> None:
        self.base, self.graph, self.tally, self.pre_reset = base, graph, tally, pre_reset
        self.value_dtype, self.message_dtype = base.value_dtype, base.message_dtype
        self.put, self.get, self.initial_state = base.put, base.get, base.initial_state
        self.stateful = getattr(base, "stateful", None)  # a delay line: not counted, its synapses are
        self.repeats = {n: graph.meta.steps if n in _constant_ops(graph, constant) else 1 for n, _ in graph.nodes}
        self.previous: dict[str, np.ndarray] = {}  # neuron layer -> potential before reset, the step before
        # each neuron layer with its spike turned off: its step then leaves the potential before the reset
        self.quiet = {n: dataclasses.replace(op, spiking=False) for n, op in graph.of_type(LIF, IntLIF)}

    def stateless(self, name: str, op: Any, x: Any) -> Any:
        if op.IS_SYNAPSE:
            self._count_input(name, x)
        return self.base.stateless(name, op, x)

    def neuron(self, name: str, op: Any, inputs: list[Any], layer: Any) -> Any:
        if op.IS_RELAY:  # a split layer's part reads its source through its own weights
            self._count_input(name, inputs[0])
            return self.base.neuron(name, op, inputs, layer)
        if self.pre_reset is not None:  # before the step: refsim's fused step updates the state in place
            h = self.pre_reset(name, self.quiet[name], inputs, layer)
            before = self.previous.get(name)
            if before is None:
                changed = h.size  # NeuroBench counts every neuron at a sample's first step
            elif np.issubdtype(h.dtype, np.floating):
                changed = int(np.count_nonzero(~np.isclose(h, before, rtol=FLOAT_RTOL, atol=0.0)))
            else:
                changed = int(np.count_nonzero(h != before))
            self.previous[name] = h
            self.tally.updates[name] = self.tally.updates.get(name, 0) + changed
        step = self.base.neuron(name, op, inputs, layer)
        if step.spikes is not None:  # NeuroBench counts nonzero outputs (a Xylo neuron's several spikes: once)
            self.tally.active[name] = self.tally.active.get(name, 0) + int(np.count_nonzero(self.get(step.spikes)))
        return step

    def _count_input(self, name: str, x: Any) -> None:
        x = np.asarray(self.get(x))
        src = self.graph[self.graph.predecessors(name)[0]]
        if src.IS_INPUT and getattr(src, "encoding", "graded") in (
            "bitplane",
            "events",
        ):  # binary messages: a set bit, an event
            nonzero, binary = input_events(src, x, 1), True
        else:
            nonzero = np.count_nonzero(x, axis=0)
            binary = not np.any((x != 0) & (x != 1) & (x != -1))  # NeuroBench's test, per call
        counts = (self.tally.ac_inputs if binary else self.tally.mac_inputs).setdefault(
            name, np.zeros(nonzero.shape, np.int64)
        )
        counts += nonzero.astype(np.int64) * self.repeats[name]
        self.tally.calls[name] = self.tally.calls.get(name, 0) + len(x) * self.repeats[name]


def _constant_ops(graph: Graph, constant: set[str]) -> set[str]:
    """The ops the interpreter computes once per run (fed only by inputs that are the same every step)."""
    out = set(constant)
    for name in graph.topo_order():
        preds = graph.predecessors(name)
        if preds and not graph[name].IS_NEURON and all(p in out for p in preds):
            out.add(name)
    return out


def _float_pre_reset(name: str, quiet: LIF, inputs: list[np.ndarray], layer: Any) -> np.ndarray:
    """floatsim's potential before the reset: its own step of the layer with its spike turned off."""
    return lif_step(quiet, layer.state, port_sum(inputs, layer.batch, quiet.shape))[1].v


def _int_pre_reset(dialect: LoihiDialect):
    def pre_reset(name: str, quiet: IntLIF, inputs: list[np.ndarray], layer: Any) -> np.ndarray:
        """refsim's potential before the reset (its accumulator and step, the spike turned off)."""
        a, _ = accumulate(unwrapped_port_sum([p.reshape(layer.batch, *quiet.shape) for p in inputs]), dialect.numerics)
        return int_lif_step(a, layer.state, quiet, dialect.bias[name], dialect.numerics)[1].v

    return pre_reset


def _run(graph: Graph, x: dict[str, np.ndarray]) -> _Tally:
    """Run ``graph`` on the float samples ``x`` (input node -> (N, *shape) or (N, T, *shape)), counting."""
    tally = _Tally()
    integer = graph.meta.stage is Stage.INTEGER
    if not integer:
        base, pre_reset = FloatDialect(), _float_pre_reset
    else:  # numpy: kernels prepared once for all batches; Xylo's neurons: no membrane updates counted
        base = DIALECTS[graph.meta.numerics.family](graph, None)
        pre_reset = _int_pre_reset(base) if isinstance(base, LoihiDialect) else None
    n = len(next(iter(x.values())))
    for start in range(0, n, BATCH):
        batch = {k: np.asarray(v[start : start + BATCH]) for k, v in x.items()}  # memory-mapped data: one batch read
        if integer:
            values = check_int_inputs(graph, quantize_inputs(graph, batch), narrow=True)
            constant = {k for k, v in values.items() if not is_per_step(graph[k], v)}
        else:
            values = {k: np.asarray(v, dtype=np.float64) for k, v in batch.items()}
            constant = {k for k, v in values.items() if v.shape[1:] == tuple(graph[k].shape)}
        timed = {k: v if k in constant else np.moveaxis(v, 1, 0) for k, v in values.items()}  # time-major
        size = len(next(iter(values.values())))
        interpret(graph, _Counting(base, graph, tally, constant, pre_reset), timed, constant, size, Record())
        tally.samples += size
    return tally


def metrics(graph: Graph, x: dict[str, np.ndarray], placement: Any = None, target: Any = None) -> dict[str, Any]:
    """NeuroBench's metrics of ``graph`` (a FLOAT or CANONICAL graph: the float model; an INTEGER one: the
    deployed network, whose footprint needs its ``placement`` on ``target``) on the samples ``x``."""
    tally = _run(graph, x)
    samples = max(tally.samples, 1)
    steps = graph.meta.steps
    synapses = [n for n, op in graph.nodes if op.IS_SYNAPSE or op.IS_RELAY]
    macs = acs = dense = 0
    for name in synapses:
        fan_out = nonzero_fan_out(_projection(graph, name)).reshape(-1)
        acs += int((tally.ac_inputs.get(name, np.zeros(1)).reshape(-1) * fan_out).sum())
        macs += int((tally.mac_inputs.get(name, np.zeros(1)).reshape(-1) * fan_out).sum())
        dense += tally.calls.get(name, 0) * _pairs(graph, name) * _planes(graph, name)
    spiking = [(n, op) for n, op in graph.nodes if op.IS_NEURON and getattr(op, "spiking", False)]
    neuron_steps = sum(int(np.prod(op.shape)) for _, op in spiking) * steps * samples
    updates = sum(tally.updates.values()) if tally.updates else None
    return {
        "Footprint": footprint(graph, placement, target),
        "ConnectionSparsity": connection_sparsity(graph),
        "ActivationSparsity": 1 - sum(tally.active[n] for n, _ in spiking) / neuron_steps if neuron_steps else 0.0,
        "SynapticOperations": {
            "Effective_MACs": macs / samples,
            "Effective_ACs": acs / samples,
            "Dense": dense / samples,
        },
        "MembraneUpdates": None if updates is None else updates / samples,
        "NeuronOperations": _neuron_ops(graph, tally, samples),
        "samples": tally.samples,
    }


def _projection(graph: Graph, name: str) -> Projection:
    if graph[name].IS_RELAY:
        return projections(graph, name)[0]
    src = graph.predecessors(name)[0]
    return Projection(name, graph[name], src, tuple(graph[src].shape), 1, graph[src].IS_INPUT)


def _pairs(graph: Graph, name: str) -> int:
    """(input, weight) pairs within bounds of one call on one sample: NeuroBench's Dense count."""
    op, src = graph[name], graph[graph.predecessors(name)[0]]
    if src.IS_RELAY:  # a split layer's join: only its identity synapses exist on the chip
        return int(np.count_nonzero(op.weight.array))
    shape = src.shape
    if op.IS_RELAY and op.is_conv:  # a conv part reads its channels of the source
        op, shape = op.window(), op.window_shape(src.shape)
    if not op.is_conv:
        return int(op.weight.array.size)
    ones = np.ones((1, *shape))
    kernel = np.ones(op.weight.shape)
    return int(float_conv2d(ones, kernel, None, op.stride, op.padding, op.dilation, op.groups).sum())


def _planes(graph: Graph, name: str) -> int:
    """Binary messages a value can become: bit planes (Loihi's bit-plane input), events (Xylo's), else 1."""
    src = graph[graph.predecessors(name)[0]]
    encoding = getattr(src, "encoding", None) if src.IS_INPUT else None
    if encoding == "bitplane":
        return src.bits
    if encoding == "events":
        return (1 << src.bits) - 1
    return 1


def _neuron_ops(graph: Graph, tally: _Tally, samples: int) -> dict[str, float] | None:
    if not tally.updates:
        return None  # membrane updates not counted (Xylo's neurons)
    effective = dense = 0
    for name, op in graph.of_type(LIF, IntLIF):
        model = _neuron_model(graph, op)
        if model is None or name not in tally.updates:
            return None  # a neuron model NeuroBench has no count for
        per_update = NEURON_OPS[model][op.reset]
        effective += tally.updates[name] * per_update
        dense += int(np.prod(op.shape)) * graph.meta.steps * samples * per_update
    return {"Effective Neuron Ops": effective / samples, "Neuron Dense Ops": dense / samples}


def _neuron_model(graph: Graph, op: Any) -> str | None:
    """Which snntorch model NeuroBench would count the layer as: Leaky, or Synaptic with a decaying current."""
    if isinstance(op, CLIF) or (isinstance(op, IntLIF) and op.__class__ is not IntLIF):
        return None
    if isinstance(op, LIF):
        return "Synaptic" if op.alpha else "Leaky"
    n = graph.meta.numerics
    return "Leaky" if op.du + n.du_offset >= n.decay_unity else "Synaptic"


def connection_sparsity(graph: Graph) -> float:
    zeros = total = 0
    for name, op in graph.nodes:
        if not (op.IS_SYNAPSE or op.IS_RELAY):
            continue
        w = op.weight.array
        if graph[graph.predecessors(name)[0]].IS_RELAY:  # a join: its identity synapses only
            total += int(np.count_nonzero(w))
        else:
            zeros, total = zeros + int(np.count_nonzero(w == 0)), total + w.size
    return round(zeros / total, 4) if total else 0.0


def footprint(graph: Graph, placement: Any = None, target: Any = None) -> int | None:
    """Bytes: the float model's parameters as float32; the integer network's synapse memory as placed in
    the target's format plus its biases (None without a placement)."""
    if graph.meta.stage is not Stage.INTEGER:
        arrays = []
        for _, op in graph.nodes:
            if not op.IS_NEURON:  # synapses' weights and biases, batch norms' statistics and affine
                arrays += list(op.consts().values())
        return 4 * sum(a.array.size for a in arrays)
    detail = footprint_detail(graph, placement, target)
    return None if detail is None else detail["synapse_memory_bytes"] + detail["bias_bytes"]


def footprint_detail(graph: Graph, placement: Any, target: Any) -> dict[str, Any] | None:
    """The integer network's footprint by part, and the format it is counted in."""
    if placement is None or target is None:
        return None
    from snncc.mapping.resources import memory_bits

    n = graph.meta.numerics
    bits = sum(memory_bits(c.usage, target) for c in placement.cores)
    biased = sum(int(np.count_nonzero(op.bias_mant.array)) for _, op in graph.of_type(IntLIF))
    neurons = sum(int(np.prod(op.shape)) for _, op in graph.of_type(IntLIF))
    return {
        "synapse_memory_bytes": -(-bits // 8),
        "bias_bytes": -(-neurons * n.bias_mant_bits // 8) if biased else 0,
        "format": f"{target.memory_model} synapse memory, {n.weight_bits}-bit weights; "
        f"{n.bias_mant_bits}-bit bias mantissa per neuron",
    }


def report(
    float_graph: Graph | None, int_graph: Graph, x: dict[str, np.ndarray], placement: Any, target: Any
) -> dict[str, Any]:
    """report.json's ``neurobench`` section: both models on the first MAX_SAMPLES of the samples ``x``."""
    x = {k: v[:MAX_SAMPLES] for k, v in x.items()}
    deployed = metrics(int_graph, x, placement, target)
    deployed["footprint_detail"] = footprint_detail(int_graph, placement, target)
    is_float = float_graph is not None and float_graph.meta.stage is not Stage.INTEGER
    return {
        "neurobench_version": NEUROBENCH_VERSION,
        "per_sample": True,
        "float": metrics(float_graph, x) if is_float else None,  # a netx file arrives integer: no float model
        "integer": deployed,
    }


@dataclass(frozen=True)
class NeuroBenchMetrics:
    """The neurobench analysis's result: NeuroBench's metrics of both models (report.json's section)."""

    metrics: dict[str, Any]


@dataclass(frozen=True, eq=False)
class MeasureNeuroBench:
    """Analysis: NeuroBench's metrics of the float model and of the integer network (``report``)."""

    model_graph: Graph
    inputs: dict[str, np.ndarray]
    name: ClassVar[str] = "neurobench"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER

    reads: ClassVar[tuple[type, ...]] = (Placement,)
    provides: ClassVar[tuple[type, ...]] = (NeuroBenchMetrics,)

    def run(self, graph: Graph, ctx: Any) -> Graph:
        ctx.progress("measuring NeuroBench's metrics (float model and integer network)")
        metrics = report(self.model_graph, graph, self.inputs, ctx.get(Placement), ctx.the_target())
        ctx.put(NeuroBenchMetrics(metrics))
        return graph


# (key in the section, how report.md and the summary name it, format)
ROWS = (
    (("Footprint",), "Footprint (bytes)", "{:,.0f}"),
    (("ConnectionSparsity",), "ConnectionSparsity", "{:.4f}"),
    (("ActivationSparsity",), "ActivationSparsity", "{:.4f}"),
    (("SynapticOperations", "Effective_MACs"), "SynapticOperations Effective_MACs", "{:,.1f}"),
    (("SynapticOperations", "Effective_ACs"), "SynapticOperations Effective_ACs", "{:,.1f}"),
    (("SynapticOperations", "Dense"), "SynapticOperations Dense", "{:,.1f}"),
    (("MembraneUpdates",), "MembraneUpdates", "{:,.1f}"),
    (("NeuronOperations", "Effective Neuron Ops"), "NeuronOperations Effective Neuron Ops", "{:,.1f}"),
    (("NeuronOperations", "Neuron Dense Ops"), "NeuronOperations Neuron Dense Ops", "{:,.1f}"),
)


def rows(section: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(metric, float model, integer network) as text, one per NeuroBench key."""

    def value(model: dict[str, Any] | None, keys: tuple[str, ...], fmt: str) -> str:
        for key in keys:
            model = None if model is None else model.get(key)
        return "—" if model is None else fmt.format(model)

    return [
        (label, value(section["float"], keys, fmt), value(section["integer"], keys, fmt)) for keys, label, fmt in ROWS
    ]


def markdown(section: dict[str, Any] | None) -> list[str]:
    """report.md's NeuroBench table (nothing when the report has no such section)."""
    if not section:
        return []
    detail = (section["integer"] or {}).get("footprint_detail") or {}
    return [
        "## NeuroBench metrics",
        "",
        f"neurobench {section['neurobench_version']}'s keys and definitions, per sample, on the first "
        f"{section['integer']['samples']} verified samples: the float model (floatsim) and the deployed integer "
        "network (refsim), which NeuroBench cannot run. Float footprint: parameters as float32; integer: "
        f"{detail.get('format', 'not placed')}. See docs/verification.md.",
        "",
        "| metric | float model | integer network |",
        "|---|---:|---:|",
        *[f"| {label} | {f} | {i} |" for label, f, i in rows(section)],
        "",
    ]


def summary(section: dict[str, Any] | None) -> str:
    """`snncc compile --neurobench`: the table as aligned text."""
    if not section:
        return "NeuroBench metrics: not measured"
    table = rows(section)
    width = max(len(label) for label, _, _ in table)
    lines = [
        f"NeuroBench {section['neurobench_version']} metrics per sample ({section['integer']['samples']} samples):",
        f"  {'':<{width}}  {'float model':>14}  {'integer network':>16}",
        *[f"  {label:<{width}}  {f:>14}  {i:>16}" for label, f, i in table],
    ]
    return "\n".join(lines)
