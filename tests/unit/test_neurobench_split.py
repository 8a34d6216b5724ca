"""NeuroBench's metrics of a deployed network whose wide layer is split into partial sums (snncc/neurobench.py),
against refsim's own recordings and the energy model's event count: what the chip does, which NeuroBench
cannot run."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from test_split_fan_in import ALL, TOY_RELAY, inputs, wide_net  # pytest puts tests/unit on sys.path

from snncc import neurobench as nb
from snncc.backends.refsim import RefSim
from snncc.energy import synaptic_ops
from snncc.mapping import partition
from snncc.mapping.split import split_fan_in, splits_of


def test_split_network_counts_match_refsim_events():
    net = wide_net()  # x (16 graded) -> fc0 -> h (600) -> fc1 -> o (10), split into three parts on toy_relay
    # subtractive resets, so that the potential before a reset is v + s·vth·2^6 in refsim's recording
    net = net.replace_nodes(**{n: dataclasses.replace(net[n], reset="subtract") for n in ("h", "o")})
    graph = split_fan_in(net, TOY_RELAY)
    parts = splits_of(graph)["o"]
    x = inputs(n=24, seed=3)
    got = nb.metrics(graph, {k: v.astype(np.float64) for k, v in x.items()}, partition(graph, TOY_RELAY), TOY_RELAY)
    trace = RefSim().run(graph, x, record=ALL)
    n, steps = 24, graph.meta.steps
    assert got["samples"] == n

    events = synaptic_ops(graph, trace)  # spikes and payloads x nonzero fan-out, per neuron layer
    ops = got["SynapticOperations"]
    assert min(ops.values()) > 0
    assert ops["Effective_ACs"] == pytest.approx(sum(events[p] for p in parts))  # h's spikes into the parts
    assert ops["Effective_MACs"] == pytest.approx(events["h"] + events["o"])  # graded input; the joins' payloads
    # every pair within bounds: x->h 16x600, three parts of 200 columns x 10, the joins' 3 x 10 identity synapses
    assert ops["Dense"] == steps * (16 * 600 + 3 * 200 * 10 + 3 * 10)

    spikes = int(trace.spikes["h"].sum() + trace.spikes["o"].sum())  # the parts' payloads are no activations
    assert got["ActivationSparsity"] == pytest.approx(1 - spikes / (610 * steps * n), rel=1e-12)

    updates = 0
    for name in ("h", "o"):
        h = trace.v[name] + trace.spikes[name].astype(np.int64) * (graph[name].vth << graph.meta.numerics.vth_shift)
        updates += h[:, 0].size + int(np.count_nonzero(h[:, 1:] != h[:, :-1]))
    assert got["MembraneUpdates"] == updates / n < 610 * steps
    assert got["NeuronOperations"]["Effective Neuron Ops"] == 4 * updates / n  # du = 4095: Leaky, 4 per update

    weights = [graph[s].weight.array for s in ["fc0", *parts]]
    zeros = sum(int((w == 0).sum()) for w in weights)
    assert got["ConnectionSparsity"] == round(zeros / (sum(w.size for w in weights) + 3 * 10), 4) > 0
