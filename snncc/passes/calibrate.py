"""Statistics of the float model on calibration data that quantization needs.

Input ranges (and whether the inputs lie on a grid, so the integer input is exact) and, per
neuron layer, the largest |v| or |u| the float model reaches, v before its reset included: what the
integer layer must hold without saturating v or wrapping u (a step's input can carry v several
thresholds past the threshold, which the v after the reset no longer shows).  Computed in batches so memory stays
bounded for large data sets.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from snncc.backends import Record, get_backend
from snncc.ir import LIF, Graph, Input


@dataclass(frozen=True)
class InputStats:
    min: float
    max: float
    grid_steps: int | None  # n such that every value is a multiple of max/n (n <= max_steps), if any


@dataclass(frozen=True)
class Calibration:
    samples: int
    inputs: dict[str, InputStats] = field(default_factory=dict)
    v_max_abs: dict[str, float] = field(default_factory=dict)  # of u, and of v before and after the reset
    firing_rates: dict[str, np.ndarray] = field(default_factory=dict)  # spikes per neuron per step
    # the largest |summed synaptic input| of one step: what the dendritic accumulator must hold
    input_max_abs: dict[str, float] = field(default_factory=dict)


def find_grid(values: np.ndarray, max_steps: int, tol: float = 1e-6) -> int | None:
    """Smallest n <= max_steps with every value an integer multiple of max/n (e.g. 16 for x/16 pixels)."""
    vmax = float(values.max(initial=0.0))
    if vmax <= 0:
        return None
    flat = values.reshape(-1)
    probe = flat[:: max(1, flat.size // 4096)]
    for n in range(1, max_steps + 1):
        for sample in (probe, flat):
            r = sample * (n / vmax)
            if np.abs(r - np.rint(r)).max() > tol:
                break
        else:
            return n
    return None


def calibrate(
    graph: Graph, inputs: dict[str, np.ndarray], *, max_steps: int, batch_size: int = 64, simulate: bool = True
) -> Calibration:
    """Run the float graph (FLOAT or CANONICAL stage) on ``inputs`` and collect the statistics.

    ``simulate=False`` collects the input statistics only (a preflight that must not simulate).
    """
    stats = {}
    for name, _ in graph.of_type(Input):
        x = np.asarray(inputs[name], dtype=np.float64)
        stats[name] = InputStats(float(x.min()), float(x.max()), find_grid(x, max_steps))
    if not simulate:
        return Calibration(samples=0, inputs=stats)
    layers = tuple(n for n, _ in graph.of_type(LIF))
    v_max = dict.fromkeys(layers, 0.0)
    input_max = dict.fromkeys(layers, 0.0)
    spikes = {layer: 0 for layer in layers}
    sim = get_backend("floatsim")
    count = len(next(iter(inputs.values())))
    for start in range(0, count, batch_size):
        batch = {k: v[start : start + batch_size] for k, v in inputs.items()}
        trace = sim.run(graph, batch, record=Record(v=True, u=True, layers=layers))
        for layer in layers:
            v_max[layer] = max(v_max[layer], _state_max_abs(graph[layer], trace.v[layer], trace.u[layer]))
            input_max[layer] = max(input_max[layer], _input_max_abs(graph[layer], trace.u[layer]))
            spikes[layer] = spikes[layer] + trace.spike_counts[layer]
    rates = {layer: np.asarray(spikes[layer], dtype=np.float64) / (count * graph.meta.steps) for layer in layers}
    return Calibration(samples=count, inputs=stats, v_max_abs=v_max, firing_rates=rates, input_max_abs=input_max)


def _input_max_abs(op: LIF, u: np.ndarray) -> float:
    """max |x_t| over a (batch, steps, *shape) trace of the current u, where u_t = alpha·u_{t-1} + x_t
    (SPEC.md §lif, gain 1 in a canonical graph; u_0 = i_init): the step's summed synaptic input."""
    i_init = np.broadcast_to(op.i_init.array if op.i_init is not None else 0.0, op.shape)
    previous = np.concatenate([np.broadcast_to(i_init, (len(u), 1, *op.shape)), u[:, :-1]], axis=1)
    return float(np.abs(u - op.alpha * previous).max(initial=0.0))


def _state_max_abs(op: LIF, v: np.ndarray, u: np.ndarray) -> float:
    """max |u|, |v| and |h| over (batch, steps, *shape) traces of v (after the reset) and u, where
    h = beta·v_{t-1} + u_t + bias is v before the reset (SPEC.md §lif; v_0 = v_init)."""
    v_init = np.broadcast_to(op.v_init.array if op.v_init is not None else 0.0, op.shape)
    previous = np.concatenate([np.broadcast_to(v_init, (len(v), 1, *op.shape)), v[:, :-1]], axis=1)
    h = op.beta * previous + u
    if op.bias is not None:
        h = h + op.bias.array
    return float(max(np.abs(a).max(initial=0.0) for a in (v, u, h)))
