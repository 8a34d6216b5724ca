"""Synaptic-op counts agree with NeuroBench's effective-ops definition on the same model and inputs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.backends.floatsim import FloatSim
from snncc.energy import synaptic_ops
from snncc.importers.torch import import_torch
from snncc.ir import verify
from snncc.passes.canonicalize import canonicalize

layers = pytest.importorskip("neurobench.metrics.utils.layers", reason="neurobench is installed by scripts/setup.sh")


def model(pool: bool) -> snn.SNN:
    torch.manual_seed(2)
    body = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        snn.LIF(tau=2.0),
        *([nn.AvgPool2d(2)] if pool else []),
        nn.Flatten(),
        nn.Linear(4 * (16 if pool else 64), 12),
        snn.LIF(tau=2.0, v_reset=None),
        nn.Linear(12, 10),
    )
    for m in body.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.uniform_(m.weight, -0.5, 1.2)
            m.weight.data[m.weight.data.abs() < 0.1] = 0  # some zero weights: only nonzero synapses count
    return snn.SNN(body, steps=5, readout="mean").double().eval()


def neurobench_ops(net: snn.SNN, x: torch.Tensor) -> list[float]:
    """NeuroBench's single_layer_MACs on the inputs each Linear/Conv receives, summed over steps, per sample."""
    weighted = [m for m in net.body if isinstance(m, (nn.Linear, nn.Conv2d))]
    seen: dict[int, list[torch.Tensor]] = {i: [] for i in range(len(weighted))}
    hooks = [m.register_forward_pre_hook(lambda m, a, i=i: seen[i].append(a[0])) for i, m in enumerate(weighted)]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    return [sum(layers.single_layer_MACs(inp, m)[0] for inp in seen[i]) / len(x) for i, m in enumerate(weighted)]


@pytest.mark.parametrize("pool", [False, True])
def test_synops_match_neurobench(pool):
    net = model(pool)
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    x[x < 0.3] = 0  # some zero inputs: only nonzero events count
    graph = verify(canonicalize(import_torch(net, (1, 8, 8))))
    trace = FloatSim().run(graph, {"input": x.numpy()})
    ours = list(synaptic_ops(graph, trace).values())
    theirs = neurobench_ops(net, x)
    assert len(ours) == len(theirs) == 3 and min(theirs) > 0
    assert ours[0] == pytest.approx(theirs[0])  # analog input: NeuroBench's MACs, one op per nonzero value
    assert ours[2] == pytest.approx(theirs[2])
    if pool:
        # pooling folded into the dense layer: every spike under a window is an op, not each nonzero window
        assert ours[1] > theirs[1]
    else:
        assert ours[1] == pytest.approx(theirs[1])


@pytest.mark.parametrize("pool", [False, True])
def test_neurobench_module_counts_as_neurobench_with_pooling_too(pool):
    """snncc.neurobench counts on the model as imported (pooling its own op): NeuroBench's pairs per layer,
    graded inputs (analog pixels, pooled spikes) as MACs."""
    from snncc.neurobench import metrics

    net = model(pool)
    x = torch.rand(6, 1, 8, 8, dtype=torch.float64)
    x[x < 0.3] = 0
    ours = metrics(import_torch(net, (1, 8, 8)), {"input": x.numpy()})["SynapticOperations"]
    effective = sum(neurobench_ops(net, x))
    weighted = [m for m in net.body if isinstance(m, (nn.Linear, nn.Conv2d))]
    seen = []
    hooks = [m.register_forward_pre_hook(lambda m, a: seen.append((m, a[0]))) for m in weighted]
    with torch.no_grad():
        net(x)
    for h in hooks:
        h.remove()
    dense = sum(layers.single_layer_MACs(inp, m, total=True)[0] for m, inp in seen) / len(x)
    assert ours["Effective_MACs"] + ours["Effective_ACs"] == pytest.approx(effective) and effective > 0
    assert ours["Dense"] == pytest.approx(dense)
