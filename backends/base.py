"""The backend contract: what every executor takes and returns.

Time is *aligned*: step t of every layer is the step at which that layer processes
step t of the sample, as in the float model.  A backend with hop latency (Lava: one
step per connection) re-indexes its raw recordings into aligned time before it
returns; ``Trace`` never contains pipeline warm-up steps.  See ir/SPEC.md §Execution.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Protocol

import numpy as np

from snncc.errors import Diagnostic
from snncc.ir import Graph


@dataclass(frozen=True)
class Record:
    """What to keep of a run.  Counters and readouts are always kept; per-step state only on request.

    ``layers`` limits per-step recording to those neuron layers (None: all of them).
    """

    spikes: bool = False
    v: bool = False
    u: bool = False
    layers: tuple[str, ...] | None = None

    def wants(self, layer: str) -> bool:
        return self.layers is None or layer in self.layers


@dataclass(frozen=True)
class LayerStats:
    """Event and overflow counts of one neuron layer, summed over samples and steps."""

    spikes: int = 0
    u_wraps: int = 0  # current wrapped around its signed width (integer backends)
    v_saturations: int = 0  # voltage clipped at its signed width (integer backends)
    int32_wraps: int = 0  # an int32 intermediate overflowed (Lava computes in int32)
    active_updates: int = 0  # neuron-steps with nonzero input, u or v
    acc_overflows: int = 0  # a step's summed input outside the target's dendritic accumulator (Numerics)

    def to_dict(self) -> dict[str, int]:
        return {
            "spikes": self.spikes,
            "u_wraps": self.u_wraps,
            "v_saturations": self.v_saturations,
            "int32_wraps": self.int32_wraps,
            "active_updates": self.active_updates,
            "acc_overflows": self.acc_overflows,
        }


@dataclass(frozen=True)
class Trace:
    """Result of running a batch of samples.

    spikes / v / u: layer -> array (batch, steps, *layer_shape), present as recorded.
      spikes are uint8 0/1; v and u are int64 for integer backends, float64 for float ones.
      For an int_partial_sum (a split layer's share) v holds its graded payload p.
    outputs: output node -> readout values (batch, *shape), in the graph's own units
      (integers for integer graphs; multiply by the output's scale for float units).
    spike_counts: neuron layer -> (*layer_shape) int64, spikes per neuron summed over
      batch and steps (the energy model's input), always present.
      For an int_partial_sum: graded spikes sent (nonzero payloads).
    input_events: input node -> (*input_shape) int64, nonzero input values (graded) or
      set bits (bit-plane) summed over batch and steps, always present.
    stats: neuron layer -> LayerStats.
    """

    batch: int
    steps: int
    outputs: dict[str, np.ndarray]
    spike_counts: dict[str, np.ndarray]
    input_events: dict[str, np.ndarray]
    stats: dict[str, LayerStats]
    spikes: dict[str, np.ndarray] = field(default_factory=dict)
    v: dict[str, np.ndarray] = field(default_factory=dict)
    u: dict[str, np.ndarray] = field(default_factory=dict)
    wall_seconds: float = 0.0


class Backend(Protocol):
    """An executor of integer graphs (refsim, lava) or float graphs (floatsim)."""

    name: ClassVar[str]

    def check(self, graph: Graph) -> list[Diagnostic]:
        """Backend-specific rules: everything this backend cannot run, as diagnostics."""
        ...

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        """Run every sample from a reset state.

        inputs: input node -> array (batch, *shape) presented at every step, or
        (batch, steps, *shape) for a different value per step.  Integer graphs take
        integer arrays in the IntInput's format.
        """
        ...


def first_mismatch(
    expected: Trace, got: Trace, layers: list[str] | None = None
) -> tuple[str, int, int, tuple[int, ...], int, int, str] | None:
    """The first (variable, sample, step, neuron index, expected, got, layer) that differs, or None.

    Scans layer by layer in the given order and, within a layer, in time order, so the
    report names the earliest divergence.
    """
    names = layers if layers is not None else sorted(expected.spikes.keys() | expected.v.keys() | expected.u.keys())
    for layer in names:
        for var in ("u", "v", "spikes"):
            a = getattr(expected, var).get(layer)
            b = getattr(got, var).get(layer)
            if a is None or b is None:
                continue
            if a.shape != b.shape:
                return (var, -1, -1, (), int(np.prod(a.shape)), int(np.prod(b.shape)), layer)
            diff = np.argwhere(a != b)
            if diff.size:
                # earliest step first, then sample, then neuron
                order = np.lexsort((diff[:, 0], diff[:, 1]))
                idx = tuple(int(i) for i in diff[order[0]])
                return (var, idx[0], idx[1], idx[2:], int(a[idx]), int(b[idx]), layer)
    return None


def merge_traces(traces: list[Trace]) -> Trace:
    """Concatenate the samples of several runs of the same graph (counts add, arrays concatenate)."""
    if not traces:
        raise ValueError("nothing to merge")
    first = traces[0]

    def cat(field_name: str) -> dict[str, np.ndarray]:
        keys = getattr(first, field_name).keys()
        return {k: np.concatenate([getattr(t, field_name)[k] for t in traces]) for k in keys}

    def add(field_name: str) -> dict[str, np.ndarray]:
        keys = getattr(first, field_name).keys()
        return {k: sum(getattr(t, field_name)[k] for t in traces) for k in keys}

    stats = {
        layer: LayerStats(**{k: sum(t.stats[layer].to_dict()[k] for t in traces) for k in s.to_dict()})
        for layer, s in first.stats.items()
    }
    return Trace(
        batch=sum(t.batch for t in traces),
        steps=first.steps,
        outputs=cat("outputs"),
        spike_counts=add("spike_counts"),
        input_events=add("input_events"),
        stats=stats,
        spikes=cat("spikes"),
        v=cat("v"),
        u=cat("u"),
        wall_seconds=sum(t.wall_seconds for t in traces),
    )


def readout_from_traces(readout: str, spikes: np.ndarray, v: np.ndarray) -> np.ndarray:
    """An Output op's value from one layer's full (batch, steps, ...) spike and voltage traces: what
    every backend that records whole traces (Lava, nengo-loihi, XyloSim) reports."""
    if readout == "spike_count":
        return spikes.sum(axis=1)
    if readout == "v_last":
        return v[:, -1].copy()
    if readout == "spike_steps":
        return spikes.astype(np.int64)
    if readout == "v_steps":
        return v.copy()
    return v.sum(axis=1) / v.shape[1]  # v_mean
