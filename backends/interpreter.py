"""The graph interpreter both simulators share: one time loop, one set of readouts and recordings.

floatsim and refsim differ only in what one op computes in one step, which each supplies as a
``Dialect``; everything else is here, once (ir/SPEC.md §1.1, aligned time):

- the time loop: at step t every node, in topological order, processes step t of the sample;
- a recurrent edge carries its layer's message of step t − 1 (zeros at a sample's first step);
- an op with state that is not a neuron layer (HAS_STATE: a delay line) keeps it here, from silence;
- stateless ops fed only by inputs that are the same at every step are computed once per run;
- neuron layers' spike counts, v sums, overflow counters, per-step recordings and readouts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, NamedTuple, Protocol

import numpy as np

from snncc.ir import Graph, Op, Output
from snncc.ir.ops import STEP_READOUTS
from snncc.limits import check_recording

from .base import LayerStats, Record, Trace

Array = Any  # a numpy array, or a torch tensor where a dialect computes on a torch device

EVENT_COUNTERS: tuple[str, ...] = ("u_wraps", "v_saturations", "int32_wraps", "active_updates", "acc_overflows")


class NeuronStep(NamedTuple):
    """What one step of a neuron layer produced."""

    spikes: Array | None  # 0/1 or bool (B, *shape); None: a relay that records its payload as v only
    v: Array  # the potential after the step (what v readouts and recordings see)
    u: Array | None  # the current after the step
    message: Array  # what the layer sends on its outgoing edges this step


@dataclass
class Layer:
    """A neuron layer's state and running tallies, over all samples of the run.

    The dialect's neuron step replaces ``state`` (or updates it in place) and adds to ``counts``,
    ``v_sum`` (kept only where a v_mean readout reads it) and ``events``.
    """

    state: Any
    counts: Array  # spikes per sample and neuron, int64 (B, *shape)
    v_sum: Array | None
    events: dict[str, int] = field(default_factory=lambda: dict.fromkeys(EVENT_COUNTERS, 0))

    @property
    def batch(self) -> int:
        return self.counts.shape[0]

    def tally(self, spikes: Array, v: Array) -> None:
        self.counts += spikes
        if self.v_sum is not None:
            self.v_sum += v


class Dialect(Protocol):
    """One simulator's arithmetic: its array type, neuron state and per-op steps (neurons are the ops
    with IS_NEURON; every other op but inputs and outputs is stateless and has one input)."""

    value_dtype: ClassVar[type]  # of v and its sums: float64 or int64
    message_dtype: ClassVar[type]  # of what a neuron layer sends: amplitude·spikes or bool spikes

    def put(self, x: np.ndarray) -> Array:
        """A numpy array where the run computes."""
        ...

    def get(self, x: Array) -> np.ndarray:
        """A numpy copy (never a view of state that later steps update in place)."""
        ...

    def initial_state(self, op: Op, batch: int) -> Any:
        """A neuron layer's state at the start of every sample, where the run computes."""
        ...

    def stateless(self, name: str, op: Op, x: Array) -> Array:
        """One step of a stateless op (a synapse, pooling, flatten, ...) on its one input."""
        ...

    def stateful(self, name: str, op: Op, state: Any, x: Array) -> tuple[Array, Any]:
        """One step of an op with HAS_STATE on its one input: (output, state); state None at the run's start."""
        ...

    def neuron(self, name: str, op: Op, inputs: list[Array], layer: Layer) -> NeuronStep:
        """One step of a neuron layer on this step's inputs (one per predecessor, in graph order, as
        the stateless ops produced them); updates ``layer``."""
        ...


class OnNumpy:
    """``put`` and ``get`` of a dialect that computes on numpy arrays."""

    def put(self, x: np.ndarray) -> np.ndarray:
        return x

    def get(self, x: np.ndarray) -> np.ndarray:
        return np.array(x)


def port_sum(inputs: list[Array], batch: int, shape: tuple[int, ...]) -> Array:
    """The unwrapped sum of a neuron layer's inputs, (batch, *shape): what its input port adds up."""
    total = inputs[0].reshape(batch, *shape)
    for more in inputs[1:]:
        total = total + more.reshape(batch, *shape)
    return total


def interpret(
    graph: Graph, dialect: Dialect, inputs: dict[str, np.ndarray], constant: set[str], batch: int, record: Record
) -> Trace:
    """Run a batch of samples through ``graph``, each from a reset state.

    inputs: input node -> numpy array, (batch, *shape) if in ``constant`` (the same at every step),
    else (steps, batch, *shape): time-major, so that each step reads one block.  The Trace's
    outputs are in the graph's own units; input_events and wall_seconds are the caller's to fill in.
    """
    neurons = sum(int(np.prod(op.shape)) for _, op in graph.nodes if op.IS_NEURON)
    # before any allocation; each neuron holds a few values of state (u, v, a count, a message)
    check_recording(batch, graph.meta.steps, _recorded_per_step(graph, record), STATE_VALUES * neurons)
    run = _Run(graph, dialect, batch, record, constant)
    fixed = {k: dialect.put(v) for k, v in inputs.items() if k in constant}
    for t in range(graph.meta.steps):
        run.step({**fixed, **{k: dialect.put(v[t]) for k, v in inputs.items() if k not in constant}})
    return run.trace()


STATE_VALUES = 4


def _recorded_per_step(graph: Graph, record: Record) -> int:
    """Values kept per sample and step: each recorded field of each recorded neuron layer, and the
    per-step readouts."""
    fields = sum((record.spikes, record.v, record.u))
    kept = sum(int(np.prod(op.shape)) * fields for n, op in graph.nodes if op.IS_NEURON and record.wants(n))
    per_step_readouts = [op for _, op in graph.of_type(Output) if op.readout in STEP_READOUTS]
    return kept + sum(int(np.prod(op.shape)) for op in per_step_readouts)


class _Run:
    """Mutable state of one batched run: neuron layers, memoised values, recordings."""

    def __init__(self, graph: Graph, dialect: Dialect, batch: int, record: Record, constant: set[str]) -> None:
        self.graph, self.dialect, self.batch = graph, dialect, batch
        put = dialect.put
        self.order = [n for n in graph.topo_order() if not graph[n].IS_OUTPUT]
        # stateless ops fed only by inputs that are the same at every step: computed once per run
        self.constant = set(constant)
        for name in self.order:
            op = graph[name]
            preds = graph.predecessors(name)
            if preds and not (op.IS_NEURON or op.HAS_STATE) and all(p in self.constant for p in preds):
                self.constant.add(name)
        self.memo: dict[str, Array] = {}
        self.states: dict[str, Any] = {n: None for n in self.order if graph[n].HAS_STATE}
        # each node's sources, and whether the edge is recurrent (looked up once, not every step)
        recurrent = {(e.src, e.dst) for e in graph.recurrent_edges()}
        self.sources = {n: [(p, (p, n) in recurrent) for p in graph.predecessors(n)] for n in self.order}
        # each recurrent layer's message of the step before; silence before a sample's first step
        self.previous = {
            n: put(np.zeros((batch, *graph[n].shape), dtype=dialect.message_dtype)) for n in graph.recurrent_layers()
        }
        readouts = [(graph.predecessors(n)[0], op.readout) for n, op in graph.of_type(Output)]
        self.layers: dict[str, Layer] = {}
        for name, op in graph.nodes:
            if op.IS_NEURON:
                shape = (batch, *op.shape)
                # the v sums only for the layers a v_mean readout reads (one array less to stream every step)
                v_sum = put(np.zeros(shape, dtype=dialect.value_dtype)) if (name, "v_mean") in readouts else None
                self.layers[name] = Layer(dialect.initial_state(op, batch), put(np.zeros(shape, np.int64)), v_sum)
        self.last_v: dict[str, Array] = {}
        self.per_step: dict[tuple[str, str], list[np.ndarray]] = {r: [] for r in readouts if r[1] in STEP_READOUTS}
        self.rec: dict[str, dict[str, list[np.ndarray]]] = {
            var: {n: [] for n in self.layers if record.wants(n)} if getattr(record, var) else {}
            for var in ("spikes", "v", "u")
        }

    def step(self, x: dict[str, Array]) -> None:
        out: dict[str, Array] = {}
        for name in self.order:
            if name in x:
                out[name] = x[name]
            elif name in self.memo:
                out[name] = self.memo[name]
            else:
                # over a recurrent edge, the source's message of the previous step (SPEC.md §1.1)
                inputs = [self.previous[p] if back else out[p] for p, back in self.sources[name]]
                op = self.graph[name]
                if name in self.layers:
                    out[name] = self._neuron_step(name, op, inputs)
                elif name in self.states:
                    out[name], self.states[name] = self.dialect.stateful(name, op, self.states[name], inputs[0])
                else:
                    out[name] = self.dialect.stateless(name, op, inputs[0])
                    if name in self.constant:
                        self.memo[name] = out[name]
        for layer in self.previous:
            self.previous[layer] = out[layer]

    def _neuron_step(self, name: str, op: Op, inputs: list[Array]) -> Array:
        result = self.dialect.neuron(name, op, inputs, self.layers[name])
        get = self.dialect.get
        self.last_v[name] = result.v
        for (layer, readout), values in self.per_step.items():
            if layer == name:
                values.append(get(result.spikes).astype(np.int64) if readout == "spike_steps" else get(result.v))
        for var, value in (("spikes", result.spikes), ("v", result.v), ("u", result.u)):
            if name in self.rec[var] and value is not None:
                kept = get(value)
                self.rec[var][name].append(kept.astype(np.uint8) if var == "spikes" else kept)
        return result.message

    def trace(self) -> Trace:
        get = self.dialect.get
        counts = {n: get(layer.counts) for n, layer in self.layers.items()}
        return Trace(
            batch=self.batch,
            steps=self.graph.meta.steps,
            outputs={
                n: self._readout(op.readout, self.graph.predecessors(n)[0]) for n, op in self.graph.of_type(Output)
            },
            spike_counts={n: c.sum(axis=0) for n, c in counts.items()},
            input_events={},
            stats={n: LayerStats(spikes=int(counts[n].sum()), **layer.events) for n, layer in self.layers.items()},
            **{var: {k: np.stack(v, axis=1) for k, v in self.rec[var].items() if v} for var in ("spikes", "v", "u")},
        )

    def _readout(self, readout: str, layer: str) -> np.ndarray:
        """An Output op's value in the graph's units: what a run that keeps only running tallies can report."""
        get = self.dialect.get
        if readout == "v_last":
            return get(self.last_v[layer])
        if readout == "v_mean":
            return get(self.layers[layer].v_sum) / self.graph.meta.steps
        if readout in STEP_READOUTS:
            return np.stack(self.per_step[(layer, readout)], axis=1)
        return get(self.layers[layer].counts)
