"""Float simulator: runs FLOAT and CANONICAL graphs in float64 with aligned time (SPEC.md §1-§2).

The reference the deployed network is verified against: no latency, every sample from a
reset state, readouts in float units (the output's scale applied).
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace
from snncc.errors import BackendError, Diagnostic
from snncc.ir import (
    FLOAT_OPS,
    LIF,
    Graph,
    Input,
    Op,
    Output,
    Stage,
)

from . import steps as step

RUNNABLE: tuple[type[Op], ...] = FLOAT_OPS  # every float-stage op (so every canonical one too)


class FloatSim:
    """Backend ``floatsim``: float64 numpy interpreter of float graphs, batched."""

    name: ClassVar[str] = "floatsim"

    def check(self, graph: Graph) -> list[Diagnostic]:
        diags = []
        if graph.meta.stage not in (Stage.FLOAT, Stage.CANONICAL):
            diags.append(
                Diagnostic(
                    "error",
                    "BKD020",
                    f"floatsim runs float and canonical graphs, not {graph.meta.stage.value} ones",
                    hint="run integer graphs on refsim or lava",
                )
            )
        for name, op in graph.nodes:
            if not isinstance(op, RUNNABLE):
                diags.append(Diagnostic("error", "BKD020", f"floatsim cannot run op {op.OP!r}", node=name))
            elif isinstance(op, Output):
                preds = graph.predecessors(name)
                if len(preds) != 1 or not isinstance(graph[preds[0]], LIF):
                    diags.append(Diagnostic("error", "BKD022", "an output must read one neuron layer", node=name))
            elif not isinstance(op, Input) and not graph.predecessors(name):
                diags.append(Diagnostic("error", "BKD022", f"{op.OP} has no input", node=name))
            elif not isinstance(op, (Input, LIF)) and len(graph.predecessors(name)) != 1:
                diags.append(Diagnostic("error", "BKD022", f"{op.OP} must have exactly one input", node=name))
        return diags

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        diags = self.check(graph)
        if diags:
            raise BackendError(diagnostics=diags)
        began = time.perf_counter()
        batch, per_step, values = _read_inputs(graph, inputs)
        layers = [n for n, _ in graph.of_type(LIF)]
        unknown = sorted(set(record.layers or ()) - set(layers))
        if unknown:
            raise BackendError(
                f"record.layers names {unknown}, which are not neuron layers of the graph",
                code="BKD021",
                hint=f"neuron layers: {', '.join(layers)}",
            )
        trace = _simulate(graph, batch, per_step, values, record)
        return Trace(**{**trace, "wall_seconds": time.perf_counter() - began})


def _read_inputs(graph: Graph, inputs: dict[str, np.ndarray]) -> tuple[int, dict[str, bool], dict[str, np.ndarray]]:
    """Check every input array: (B, *shape) for direct input or (B, T, *shape) per step."""
    steps = graph.meta.steps
    values, per_step, batches = {}, {}, set()
    for name, op in graph.of_type(Input):
        if name not in inputs:
            raise BackendError(
                f"no data for input {name!r}", code="BKD023", node=name, hint=f"pass inputs={{{name!r}: x}}"
            )
        x = np.asarray(inputs[name], dtype=np.float64)
        shape = tuple(op.shape)
        if x.shape[1:] == shape:
            per_step[name] = False
        elif x.shape[1:] == (steps, *shape):
            per_step[name] = True
        else:
            raise BackendError(
                f"input array has shape {x.shape}; expected (batch, *{shape}) or (batch, {steps}, *{shape})",
                code="BKD024",
                node=name,
            )
        values[name] = x
        batches.add(x.shape[0])
    extra = sorted(set(inputs) - set(values))
    if extra:
        raise BackendError(f"inputs {extra} are not input nodes of the graph", code="BKD023")
    if len(batches) != 1 or 0 in batches:
        raise BackendError(f"inputs disagree on the batch size or are empty: {sorted(batches)}", code="BKD024")
    return batches.pop(), per_step, values


def _simulate(
    graph: Graph, batch: int, per_step: dict[str, bool], inputs: dict[str, np.ndarray], record: Record
) -> dict:
    steps = graph.meta.steps
    order = [n for n in graph.topo_order() if not isinstance(graph[n], Output)]
    neurons = {n: op for n, op in graph.nodes if isinstance(op, LIF)}
    state = {n: step.lif_initial_state(op, batch) for n, op in neurons.items()}
    counts = {n: np.zeros((batch, *op.shape), dtype=np.int64) for n, op in neurons.items()}  # per sample
    v_sums = {n: np.zeros((batch, *op.shape)) for n, op in neurons.items()}
    step_outputs = {
        (graph.predecessors(n)[0], op.readout): np.zeros((batch, steps, *op.shape))
        for n, op in graph.of_type(Output)
        if op.readout in ("spike_steps", "v_steps")
    }
    active = dict.fromkeys(neurons, 0)
    wanted = [n for n in neurons if record.wants(n)]
    rec = {
        var: {
            n: np.zeros((batch, steps, *neurons[n].shape), np.uint8 if var == "spikes" else np.float64) for n in wanted
        }
        for var in ("spikes", "v", "u")
        if getattr(record, var)
    }
    # stateless ops fed only by inputs that are the same at every step: computed once per run
    constant = {n for n, op in graph.nodes if isinstance(op, Input) and not per_step[n]}
    for n in order:
        op = graph[n]
        if not isinstance(op, (Input, LIF)) and all(p in constant for p in graph.predecessors(n)):
            constant.add(n)
    memo: dict[str, np.ndarray] = {}
    # a recurrent edge carries its layer's output of the previous step: zeros at the first (SPEC.md §1.1)
    previous = {n: np.zeros((batch, *graph[n].shape)) for n in graph.recurrent_layers()}
    for t in range(steps):
        values: dict[str, np.ndarray] = {}
        for name in order:
            op = graph[name]
            preds = graph.predecessors(name)
            if isinstance(op, Input):
                values[name] = inputs[name][:, t] if per_step[name] else inputs[name]
            elif isinstance(op, LIF):
                x = sum(_read(graph, values, previous, p, name).reshape(batch, *op.shape) for p in preds)
                before = state[name]
                s, after = step.lif_step(op, before, x)
                state[name] = after
                active[name] += int(np.count_nonzero((x != 0) | (before.i != 0) | (before.v != 0)))
                counts[name] += s
                v_sums[name] += after.v
                values[name] = op.amplitude * s
                for (layer, readout), buffer in step_outputs.items():
                    if layer == name:
                        buffer[:, t] = s if readout == "spike_steps" else after.v
                for var, value in (("spikes", s), ("v", after.v), ("u", after.i)):
                    if var in rec and name in rec[var]:
                        rec[var][name][:, t] = value
            elif name in memo:
                values[name] = memo[name]
            else:
                values[name] = step.apply(op, _read(graph, values, previous, preds[0], name))
                if name in constant:
                    memo[name] = values[name]
        previous = {n: values[n] for n in previous}
    outputs = {}
    for name, op in graph.of_type(Output):
        layer = graph.predecessors(name)[0]
        if op.readout in ("spike_steps", "v_steps"):
            readout = step_outputs[(layer, op.readout)]
        else:
            readout = {"spike_count": counts[layer], "v_last": state[layer].v, "v_mean": v_sums[layer] / steps}[
                op.readout
            ]
        outputs[name] = readout.astype(np.float64) * op.scale
    return {
        "batch": batch,
        "steps": steps,
        "outputs": outputs,
        "spike_counts": {n: c.sum(axis=0) for n, c in counts.items()},
        "input_events": {n: _input_events(x, per_step[n], steps) for n, x in inputs.items()},
        "stats": {n: LayerStats(spikes=int(c.sum()), active_updates=active[n]) for n, c in counts.items()},
        "spikes": rec.get("spikes", {}),
        "v": rec.get("v", {}),
        "u": rec.get("u", {}),
    }


def _read(graph: Graph, values: dict, previous: dict, src: str, dst: str) -> np.ndarray:
    """What ``dst`` receives from ``src`` this step: over a recurrent edge, the previous step's value."""
    return previous[src] if graph.is_recurrent(src, dst) else values[src]


def _input_events(x: np.ndarray, per_step: bool, steps: int) -> np.ndarray:
    """Nonzero input values per element, summed over batch and steps."""
    if per_step:
        return np.count_nonzero(x, axis=(0, 1)).astype(np.int64)
    return np.count_nonzero(x, axis=0).astype(np.int64) * steps
