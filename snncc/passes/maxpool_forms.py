"""Deployable forms of max pooling before a neuron (conv -> MaxPool2d -> neuron, snntorch's tutorial
order), which no chip computes: synapses sum, nothing takes a maximum.

Two rewrites of the float graph, each optionally followed by a rate calibration:
- ``as_avgpool``: the window's mean instead of its maximum (passes/approximate.py's maxpool-as-avgpool);
- ``after_neuron``: the neuron runs at the pool's input resolution and its spikes are max-pooled, which
  is their OR and deploys exactly (the importer's sumpool2d into an OR neuron, SPEC.md §sumpool2d).
Both drive the neuron less or more than the maximum did; ``calibrate_rates`` then scales each channel's
input (the conv or batch norm before the pool) until every channel fires as often as the trained
model's, on calibration samples.  benchmarks/maxpool_forms.py measures the four forms on user CSNNs
(docs/models.md "Fine-tuning for a target"): the pool after the neuron keeps the accuracy (mean -0.45 pp on
loihi2), the mean loses it (-60 to -84 pp), and the rate calibration moves each model by a point or two
either way (the same mean), so the named approximation maxpool-after-neuron is the uncalibrated form.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from snncc.ir import LIF, AvgPool2d, Const, Edge, Graph, MaxPool2d, SumPool2d

GAIN_RANGE = (1 / 16, 16.0)  # per-channel input gains searched, as factors of the trained weights
UNPOOLED = ".unpooled"  # suffix of a neuron moved before its pool
BISECTIONS = 10  # halvings of the log-gain interval: gains within 2^(8/2^10) ≈ 0.5 % of the matching one


def analog_pools(graph: Graph) -> list[tuple[str, str]]:
    """(pool, neuron) for every max pooling read by exactly one spiking, non-recurrent neuron layer."""
    found = []
    for name, _ in graph.of_type(MaxPool2d):
        succ = graph.successors(name)
        if len(succ) != 1 or not graph[succ[0]].IS_NEURON:
            continue
        neuron = graph[succ[0]]
        if neuron.spiking and len(graph.predecessors(succ[0])) == 1 and succ[0] not in graph.recurrent_layers():
            found.append((name, succ[0]))
    return found


def as_avgpool(graph: Graph) -> Graph:
    """Every max pooling replaced by the mean over the same window."""
    return graph.replace_nodes(
        **{
            n: AvgPool2d(shape=op.shape, kernel=op.kernel, stride=op.stride, padding=op.padding)
            for n, op in graph.of_type(MaxPool2d)
        }
    )


def after_neuron(graph: Graph) -> Graph:
    """conv -> maxpool P -> neuron L  becomes  conv -> 'L.unpooled' -> sumpool P -> L, an OR neuron.

    L keeps its name and shape (what the layers after it read and verification compares), now the
    max of the finer neuron's spikes.  Pools whose neuron holds per-neuron values that cannot follow
    it to the finer grid (overlapping or padded windows) stay as they are."""
    moved = {p: n for p, n in analog_pools(graph) if _movable(graph, p, graph[n])}
    neuron_of = {n: p for p, n in moved.items()}
    nodes, edges = [], []
    for name, op in graph.nodes:
        if name in moved:
            continue
        if name in neuron_of:
            pool = neuron_of[name]
            p_op, src = graph[pool], graph.predecessors(pool)[0]
            fine = f"{name}{UNPOOLED}"
            nodes += [
                (fine, _unpooled(op, graph[src].shape, p_op)),
                (pool, SumPool2d(shape=p_op.shape, kernel=p_op.kernel, stride=p_op.stride, padding=p_op.padding)),
                (name, or_neuron(p_op.shape, op.amplitude)),
            ]
            edges += [Edge(src, fine), Edge(fine, pool), Edge(pool, name)]
            continue
        nodes.append((name, op))
    edges += [e for e in graph.edges if e.dst not in moved and e.dst not in neuron_of]
    return Graph(tuple(nodes), tuple(edges), graph.meta)


def or_neuron(shape: tuple[int, ...], amplitude: float) -> LIF:
    """Fires exactly when its window sum of 0-or-a spikes holds a spike (importers/torch_layers.spike_or)."""
    return LIF(shape=shape, beta=1.0, threshold=0.5 * amplitude, fire=">", reset="zero", amplitude=amplitude)


def _movable(graph: Graph, pool: str, neuron: LIF) -> bool:
    op = graph[pool]
    per_neuron = any(c is not None and c.array.ndim > 0 for c in (neuron.bias, neuron.v_init, neuron.i_init))
    tiles = op.kernel == op.stride and op.padding == (0, 0)
    return tiles or not per_neuron


def _unpooled(op: LIF, shape: tuple[int, ...], pool: MaxPool2d) -> LIF:
    """The neuron on the pool's input grid: per-neuron values repeated over each window."""

    def fine(c: Const | None) -> Const | None:
        if c is None or c.array.ndim == 0:
            return c
        a = c.array.reshape(pool.shape)
        a = np.repeat(np.repeat(a, pool.kernel[0], axis=1), pool.kernel[1], axis=2)
        return Const(np.ascontiguousarray(a[:, : shape[1], : shape[2]]))

    return dataclasses.replace(
        op, shape=tuple(shape), bias=fine(op.bias), v_init=fine(op.v_init), i_init=fine(op.i_init)
    )


# --- rate calibration ------------------------------------------------------------------------------


def channel_rates(graph: Graph, samples: dict[str, np.ndarray], layers: list[str]) -> dict[str, np.ndarray]:
    """Spikes per neuron and step of each channel (axis 0 of a (C, H, W) layer) of ``layers``."""
    from snncc.backends import get_backend  # the float reference, by name: passes import no simulator

    trace = get_backend("floatsim").run(graph, samples)
    batch = len(next(iter(samples.values())))
    out = {}
    for layer in layers:
        counts = trace.spike_counts[layer].astype(np.float64)
        per_channel = counts.reshape(counts.shape[0], -1).mean(axis=1) if counts.ndim > 1 else counts
        out[layer] = per_channel / (batch * graph.meta.steps)
    return out


def calibrate_rates(
    graph: Graph, model: Graph, samples: dict[str, np.ndarray], pools: list[tuple[str, str]]
) -> tuple[Graph, dict[str, np.ndarray]]:
    """Scale the input of each pooled layer per channel so that its spikes after pooling fire as often
    as ``model``'s neuron did after the max pooling; pools in order, each with the ones before it set.

    ``pools``: (pool, neuron) of ``model``.  In ``graph`` the pooled spikes are ``<pool>.or``'s where
    the pool moved after the neuron, else the neuron's.  The scaled op is the conv or batch norm that
    feeds the pool (per channel); returns the graph and each pool's gains."""
    gains: dict[str, np.ndarray] = {}
    wanted = channel_rates(model, samples, [n for _, n in pools])
    for pool, neuron in pools:
        measured = neuron
        scaled = _scaled_op(graph, pool, neuron)
        if scaled is None:
            continue
        target = wanted[neuron]
        lo = np.full(target.shape, np.log2(GAIN_RANGE[0]))
        hi = np.full(target.shape, np.log2(GAIN_RANGE[1]))
        base = graph[scaled]
        for _ in range(BISECTIONS):
            mid = (lo + hi) / 2
            rates = channel_rates(graph.replace_nodes(**{scaled: base.with_gain(2.0**mid)}), samples, [measured])
            above = rates[measured] > target
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        gains[pool] = 2.0 ** ((lo + hi) / 2)
        graph = graph.replace_nodes(**{scaled: base.with_gain(gains[pool])})
    return graph, gains


def _scaled_op(graph: Graph, pool: str, neuron: str) -> str | None:
    """The per-channel op in front of the pool (or of the moved neuron)."""
    moved = f"{neuron}{UNPOOLED}"
    src = graph.predecessors(moved if moved in graph else pool)[0]
    op = graph[src]
    return src if op.with_gain(np.ones(op.shape[0])) is not None else None  # a conv or batch norm
