"""NeuroBench's metrics (snncc/neurobench.py): on the float model equal to neurobench 2.3.0's own run of
the trained snntorch model, and on the deployed integer network consistent with refsim's recorded events."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch import nn

from snncc import neurobench as nb
from snncc.backends import Record
from snncc.backends.refsim import RefSim
from snncc.importers.torch import import_torch
from snncc.in_memory import compile_module
from snncc.ir import IntLIF
from snncc.options import CompileOptions
from snncc.passes.quantize import quantize_inputs
from snncc.report import write_report

snntorch = pytest.importorskip("snntorch")
pytest.importorskip("neurobench", reason="neurobench is installed by scripts/setup.sh")
from neurobench.benchmarks import Benchmark  # noqa: E402
from neurobench.metrics.static import ConnectionSparsity, Footprint  # noqa: E402
from neurobench.metrics.workload import (  # noqa: E402
    ActivationSparsity,
    MembraneUpdates,
    NeuronOperations,
    SynapticOperations,
)
from neurobench.models import SNNTorchModel  # noqa: E402

pytestmark = pytest.mark.slow  # trains the model (a second) and compiles it: ~10 s on a loaded 2-core machine

STEPS = 6


def make_net() -> nn.Sequential:
    """NeuroBench's snntorch pattern: one step per call, the last Leaky returning (spikes, membrane).
    Analog pixels into a conv without bias (so some membranes stay unchanged), average pooling of
    spikes (graded: MACs), spikes into the dense layers (ACs)."""
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        snntorch.Leaky(beta=0.8, init_hidden=True),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 24),
        snntorch.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(24, 10),
        snntorch.Leaky(beta=0.9, init_hidden=True, output=True),
    )


@pytest.fixture(scope="module")
def digits() -> tuple[torch.Tensor, torch.Tensor]:
    from sklearn.datasets import load_digits

    d = load_digits()
    return torch.tensor(d.images / 16.0, dtype=torch.float32)[:, None], torch.tensor(d.target)


@pytest.fixture(scope="module")
def saved(digits, tmp_path_factory) -> str:
    """Trained for a second on 1,200 digits, magnitude-pruned, saved as a state dict (as snntorch users save)."""
    x, y = digits
    torch.manual_seed(0)
    net = make_net()
    opt = torch.optim.Adam(net.parameters(), 5e-3)
    for i in [*range(0, 1200, 100)] * 2:
        snntorch.utils.reset(net)
        count = sum(net(x[i : i + 100])[0] for _ in range(STEPS))
        loss = nn.functional.cross_entropy(count, y[i : i + 100])
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                m.weight[m.weight.abs() < 0.03] = 0
    path = tmp_path_factory.mktemp("neurobench") / "snn.pt"
    torch.save(net.state_dict(), path)
    return str(path)


def load(path: str) -> nn.Sequential:
    net = make_net()
    net.load_state_dict(torch.load(path))
    return net.eval()


def test_float_model_metrics_equal_neurobench(saved, digits):
    x, y = digits[0][1200:1300], digits[1][1200:1300]
    net = load(saved)
    # what NeuroBench's footprint adds beyond the parameters: the neuron layers' constants (before any run)
    neuron_bytes = sum(
        b.numel() * b.element_size()
        for m in net.modules()
        if isinstance(m, snntorch.SpikingNeuron)
        for b in m.buffers()
    )
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x[:, None].expand(-1, STEPS, -1, -1, -1), y), batch_size=32
    )
    metrics = [
        [Footprint, ConnectionSparsity],
        [ActivationSparsity, SynapticOperations, MembraneUpdates, NeuronOperations],
    ]
    theirs = Benchmark(SNNTorchModel(net), loader, [], [], metrics).run(quiet=True)

    graph = import_torch(load(saved), (1, 8, 8), steps=STEPS, readout="sum")
    ours = nb.metrics(graph, {"input": x.numpy()})

    ops = theirs["SynapticOperations"]
    assert min(ops.values()) > 0 and theirs["ConnectionSparsity"] > 0  # every kind of count is exercised
    assert theirs["MembraneUpdates"] < (4 * 8 * 8 + 24 + 10) * STEPS  # some membranes stay unchanged: the rule matters
    assert ours["samples"] == 100
    assert ours["SynapticOperations"] == ops  # counts: exact (same integers over the same 100 samples)
    assert ours["MembraneUpdates"] == theirs["MembraneUpdates"]
    assert ours["NeuronOperations"] == theirs["NeuronOperations"]
    assert ours["Footprint"] == theirs["Footprint"] - neuron_bytes == 4 * sum(p.numel() for p in net.parameters())
    assert ours["ConnectionSparsity"] == theirs["ConnectionSparsity"]
    assert ours["ActivationSparsity"] == pytest.approx(theirs["ActivationSparsity"], rel=1e-12)


def test_integer_metrics_match_refsim_events(saved, digits, tmp_path):
    x, y = digits[0][1200:1264].numpy(), digits[1][1200:1264].numpy()
    options = CompileOptions.of(target="loihi2", steps=STEPS, readout="sum", lava_samples=0)  # loihi2: soft reset
    result = compile_module(load(saved), x, y, options, calib=digits[0][:200].numpy())
    section = result.neurobench
    deployed = section["integer"]
    assert section["float"]["samples"] == deployed["samples"] == len(result.dataset)

    # refsim's own recording of the same samples: spikes and potentials after the reset
    g = result.int_graph
    trace = RefSim().run(g, quantize_inputs(g, {"input": result.dataset.x}), record=Record(spikes=True, v=True))
    layers = [n for n, op in g.of_type(IntLIF) if op.spiking]
    assert len(layers) == 3
    spikes = sum(int(trace.spikes[n].sum()) for n in layers)
    slots = sum(trace.spikes[n][0, 0].size for n in layers) * STEPS * len(x)
    assert deployed["ActivationSparsity"] == pytest.approx(1 - spikes / slots, rel=1e-12)

    updates = 0
    for n in layers:  # a soft reset: the potential before it is v + s·vth·2^vth_shift
        op = g[n]
        assert op.reset == "subtract"
        h = trace.v[n] + trace.spikes[n].astype(np.int64) * (op.vth << g.meta.numerics.vth_shift)
        updates += h[:, 0].size + int(np.count_nonzero(h[:, 1:] != h[:, :-1]))
    assert deployed["MembraneUpdates"] == updates / len(x)

    ops = deployed["SynapticOperations"]
    assert ops["Effective_ACs"] + ops["Effective_MACs"] == pytest.approx(result.energy.to_dict()["synops"], rel=1e-12)
    assert 0 < ops["Effective_ACs"] + ops["Effective_MACs"] < ops["Dense"]
    detail = deployed["footprint_detail"]
    assert deployed["Footprint"] == detail["synapse_memory_bytes"] + detail["bias_bytes"] > 0
    assert result.target.memory_model in detail["format"]

    write_report(result, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "report.json").read_text())["neurobench"]
    assert written["integer"]["SynapticOperations"] == ops and written["float"]["Footprint"] > 0
    md = (tmp_path / "out" / "report.md").read_text()
    assert "## NeuroBench metrics" in md and "| SynapticOperations Effective_ACs |" in md
    assert "MembraneUpdates" in nb.summary(section)
