"""int_partial_sum (ir/SPEC.md §int_partial_sum): one core's share of a split fan-in, a stateless relay.

p = wrap32(Σ_i W_eff[j, i] · x[start + i]) every step, x the source's flattened output (binary spikes
of a neuron layer, or graded input values); consumers read p as graded input.  A run counts the
graded spikes each part sends (nonzero payloads: a zero sum sends nothing on the chip) and records
the payloads as the part's "v".
"""

from __future__ import annotations

import numpy as np

from snncc.backends.base import LayerStats, Record
from snncc.ir import Graph, IntInput, IntPartialSum, Numerics

from . import kernels
from .arith import effective_weights, wrap_int32


def prepare(op: IntPartialSum, source: object, numerics: Numerics, device=None):
    """The kernel of the op's weight slice, for the largest input its source can send."""
    max_input = 1 << source.bits if isinstance(source, IntInput) else 1
    weight = effective_weights(op.weight.array, numerics)
    if device is not None:
        return kernels.TorchDenseKernel.prepare(weight, max_input, device)
    return kernels.DenseKernel.prepare(weight, max_input)


def partial_sum_step(kernel, op: IntPartialSum, source: object, x):
    """This step's payload p, (batch, out), from the source's output ``x`` (batch, *source shape)."""
    width = op.weight.shape[1]
    part = x.reshape(x.shape[0], -1)[:, op.start : op.start + width]
    return wrap_int32(kernel(part, binary=not isinstance(source, IntInput)))


class PartialSums:
    """The int_partial_sum ops of one batched run: their kernels, graded spikes sent and payloads."""

    def __init__(self, graph: Graph, batch: int, record: Record, numerics: Numerics, arrays) -> None:
        self.ops = dict(graph.of_type(IntPartialSum))
        self.sources = {n: graph[graph.predecessors(n)[0]] for n in self.ops}
        self.kernels = {n: prepare(op, self.sources[n], numerics, arrays.device) for n, op in self.ops.items()}
        self.sent = {n: arrays.zeros((batch, *op.shape)) for n, op in self.ops.items()}
        self.payloads: dict[str, list[np.ndarray]] = {n: [] for n in self.ops if record.v and record.wants(n)}
        self.get = arrays.get

    def step(self, name: str, x):
        p = partial_sum_step(self.kernels[name], self.ops[name], self.sources[name], x)
        self.sent[name] += p != 0
        if name in self.payloads:
            self.payloads[name].append(self.get(p))
        return p

    def spike_counts(self) -> dict[str, np.ndarray]:
        return {n: self.get(c).sum(axis=0) for n, c in self.sent.items()}

    def stats(self) -> dict[str, LayerStats]:
        """Messages sent; an update is active when the part has a nonzero sum to send."""
        return {n: LayerStats(spikes=int(c.sum()), active_updates=int(c.sum())) for n, c in self.spike_counts().items()}

    def recorded(self) -> dict[str, np.ndarray]:
        return {n: np.stack(p, axis=1) for n, p in self.payloads.items()}
