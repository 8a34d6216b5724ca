"""Float simulator: runs FLOAT and CANONICAL graphs in float64 with aligned time (SPEC.md §1-§2).

The reference the deployed network is verified against: no latency, every sample from a
reset state, readouts in float units (the output's scale applied).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from snncc.backends.base import Record, Trace
from snncc.backends.interpreter import Layer, NeuronStep, OnNumpy, interpret, port_sum
from snncc.errors import BackendError, Diagnostic
from snncc.ir import CLIF, INT_OPS, LIF, Delay, Graph, Input, Op, Output, Stage
from snncc.ir.float_steps import FLOAT_STEPS, FloatStep
from snncc.ir.lowering import FED, READ, LoweringTable, Refusal, refuse
from snncc.ir.ops.clif import clif_initial_state, clif_step
from snncc.ir.ops.delay import delay_step
from snncc.ir.ops.lif import LIFState, lif_initial_state, lif_step


@dataclass(frozen=True)
class Neuron:
    """A float neuron layer's reference step (its op module's numerics)."""

    initial_state: Callable[[Op, int], LIFState]
    step: Callable[[Op, LIFState, np.ndarray], tuple[np.ndarray, LIFState]]


# op class -> its stateless step, its neuron step, or the interpreter's input / readout
TABLE: LoweringTable[FloatStep | Neuron | str] = LoweringTable(
    "floatsim",
    {
        Input: FED,
        Output: READ,
        **FLOAT_STEPS,
        LIF: Neuron(lif_initial_state, lif_step),
        CLIF: Neuron(clif_initial_state, clif_step),
        Delay: delay_step,
        **refuse(INT_OPS, Refusal("BKD020", "floatsim cannot run integer ops", "run integer graphs on refsim or lava")),
    },
)


class FloatSim:
    """Backend ``floatsim``: float graphs on the shared interpreter (backends/interpreter.py), batched."""

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
        diags += TABLE.diagnostics(graph)
        for name, op in graph.nodes:
            preds = graph.predecessors(name)
            if TABLE.refusal(op) is not None:
                continue
            if op.IS_OUTPUT:
                if len(preds) != 1 or not graph[preds[0]].IS_NEURON:
                    diags.append(Diagnostic("error", "BKD022", "an output must read one neuron layer", node=name))
            elif not op.IS_INPUT and not preds:
                diags.append(Diagnostic("error", "BKD022", f"{op.OP} has no input", node=name))
            elif not (op.IS_INPUT or op.IS_NEURON) and len(preds) != 1:
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
        constant = {n for n, is_per_step in per_step.items() if not is_per_step}
        time_major = {n: x if n in constant else np.moveaxis(x, 1, 0) for n, x in values.items()}
        trace = interpret(graph, FloatDialect(), time_major, constant, batch, record)
        outputs = {n: trace.outputs[n].astype(np.float64) * op.scale for n, op in graph.of_type(Output)}
        return replace(
            trace,
            outputs=outputs,  # in float units
            input_events={n: _input_events(x, per_step[n], graph.meta.steps) for n, x in values.items()},
            wall_seconds=time.perf_counter() - began,
        )


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


class FloatDialect(OnNumpy):
    """floatsim's arithmetic for the shared interpreter: float64 numpy, the ops' reference steps (TABLE)."""

    value_dtype: ClassVar[type] = np.float64
    message_dtype: ClassVar[type] = np.float64  # a layer sends amplitude·spikes

    def initial_state(self, op: LIF, batch: int) -> LIFState:
        return TABLE[op].initial_state(op, batch)

    def stateless(self, name: str, op: Op, x: np.ndarray) -> np.ndarray:
        return TABLE[op](op, x)

    def stateful(self, name: str, op: Op, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        return TABLE[op](op, state, x)

    def neuron(self, name: str, op: LIF, inputs: list[np.ndarray], layer: Layer) -> NeuronStep:
        total = port_sum(inputs, layer.batch, op.shape)
        before = layer.state
        s, after = TABLE[op].step(op, before, total)
        layer.state = after
        layer.events["active_updates"] += int(np.count_nonzero((total != 0) | (before.i != 0) | (before.v != 0)))
        layer.tally(s, after.v)
        return NeuronStep(s, after.v, after.i, op.amplitude * s)


def _input_events(x: np.ndarray, per_step: bool, steps: int) -> np.ndarray:
    """Nonzero input values per element, summed over batch and steps."""
    if per_step:
        return np.count_nonzero(x, axis=(0, 1)).astype(np.int64)
    return np.count_nonzero(x, axis=0).astype(np.int64) * steps
