"""RefSim for the Xylo numerics family: the dialect that runs ir/SPEC.md §6's step functions (defined
in snncc.ir.ops.xylo_lif) on the shared interpreter (backends/interpreter.py).

Xylo (SynSense) has no Lava model: its bit-exact reference is SynSense's XyloSim, which
tests/integration/test_xylo_oracle.py runs against this module.  State is int16 everywhere and
saturates (never wraps); decays are bit shifts; a hidden neuron may emit several spikes per step.
Time is aligned (SPEC.md §1.1), as in the Loihi path of simulator.py.
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np

from snncc.backends.interpreter import Layer, NeuronStep, OnNumpy
from snncc.errors import InvalidGraph
from snncc.ir import Graph, IntDense, IntXyloLIF
from snncc.ir.ops.xylo_lif import deliver, source_order, synapse_matrix, xylo_lif_step

from .lowering import XYLO


class XyloDialect(OnNumpy):
    """refsim's arithmetic for the xylo family (numpy int64 holding int16 values) for the shared
    interpreter.  A synapse op passes its source's events on; the neuron step delivers them to i in
    Xylo's order (``source_order``) with the saturation after every source that SPEC.md §6 asks for."""

    value_dtype: ClassVar[type] = np.int64
    message_dtype: ClassVar[type] = np.int64  # a layer sends its spike counts (up to max_spikes a step)

    def __init__(self, graph: Graph) -> None:
        problems = XYLO.diagnostics(graph)
        if problems:
            raise InvalidGraph(diagnostics=problems)
        self.graph = graph
        self.matrices = {n: synapse_matrix(op) for n, op in graph.of_type(IntDense)}
        self.order = {n: source_order(graph, n) for n, _ in graph.of_type(IntXyloLIF)}
        self.bias = {n: op.bias.array.astype(np.int64).reshape(-1) for n, op in graph.of_type(IntXyloLIF)}

    def initial_state(self, op: IntXyloLIF, batch: int) -> tuple[np.ndarray, np.ndarray]:
        """(i, v), flat (batch, neurons): zero at the start of every sample."""
        n = int(np.prod(op.shape))
        return np.zeros((batch, n), dtype=np.int64), np.zeros((batch, n), dtype=np.int64)

    def stateless(self, name: str, op: IntDense, x: np.ndarray) -> np.ndarray:
        return x.reshape(x.shape[0], -1)  # the source's events, (batch, sources): the neuron delivers them

    def neuron(self, name: str, op: IntXyloLIF, inputs: list[np.ndarray], layer: Layer) -> NeuronStep:
        events = dict(zip(self.graph.predecessors(name), inputs, strict=True))
        i, v = layer.state
        active, saturated = i != 0, np.zeros(i.shape, dtype=bool)
        for syn in self.order[name]:
            weight = self.matrices[syn]
            active |= events[syn].any(axis=1, keepdims=True) & (weight != 0).any(axis=1)
            i, sat = deliver(i, events[syn], weight)
            saturated |= sat
        active |= v != 0
        n, i, v, sat = xylo_lif_step(i, v, op, self.bias[name])
        layer.state = (i, v)
        layer.events["v_saturations"] += int((saturated | sat).sum())
        layer.events["active_updates"] += int(active.sum())
        shaped = [a.reshape(layer.batch, *op.shape) for a in (n, v, i)]
        layer.tally(shaped[0], shaped[1])
        return NeuronStep(*shaped, n)
