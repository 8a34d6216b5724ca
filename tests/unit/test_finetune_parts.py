"""snncc finetune's parts on a small conv -> MaxPool2d -> neuron model (snntorch's tutorial order):
the pool-after-neuron rewrite and its rate calibration, the differentiable executor against floatsim,
the integer grid against refsim, and which approximations a target needs.

Oracles: floatsim and refsim (the IR's executable float and integer semantics), the trained model's
own firing rates."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.backends.refsim import RefSim
from snncc.finetune.executor import GraphModule
from snncc.finetune.form import deployable, needed
from snncc.finetune.grid import on_grid
from snncc.importers.torch import import_torch
from snncc.ir import IntInput, MaxPool2d, Stage
from snncc.options import DataOptions
from snncc.passes.calibrate import calibrate
from snncc.passes.maxpool_forms import after_neuron, analog_pools, calibrate_rates, channel_rates
from snncc.passes.quantize import Quantize, quantize, quantize_inputs
from snncc.target import load_target

STEPS = 4


def pooled_before_neuron(reset: str = "zero") -> snn.SNN:
    torch.manual_seed(3)
    v_reset = 0.0 if reset == "zero" else None
    body = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.MaxPool2d(2), snn.LIF(tau=2.0, v_reset=v_reset),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10), snn.LIF(tau=2.0, v_reset=v_reset),
    )  # fmt: skip
    nn.init.uniform_(body[0].weight, -0.3, 1.0)
    nn.init.uniform_(body[4].weight, -0.1, 0.5)
    return snn.SNN(body, steps=STEPS, readout="sum").double().eval()


@pytest.fixture(scope="module")
def graph_and_x():
    x = np.random.default_rng(0).random((64, 1, 8, 8))
    return import_torch(pooled_before_neuron(), (1, 8, 8)), x


def test_after_neuron_pools_the_spikes_of_the_finer_layer(graph_and_x):
    graph, x = graph_and_x
    assert analog_pools(graph) == [("body.1", "body.2")]
    moved = after_neuron(graph)
    assert not moved.of_type(MaxPool2d) and moved["body.2.unpooled"].shape == (4, 8, 8)
    trace = FloatSim().run(moved, {"input": x}, record=Record(spikes=True))
    fine = trace.spikes["body.2.unpooled"].reshape(64, STEPS, 4, 4, 2, 4, 2)
    np.testing.assert_array_equal(trace.spikes["body.2"], fine.max(axis=(4, 6)))  # the OR of each window
    assert trace.spikes["body.2"].any() and not trace.spikes["body.2"].all()


def test_calibration_brings_every_channel_to_the_trained_rate(graph_and_x):
    graph, x = graph_and_x
    moved = after_neuron(graph)
    wanted = channel_rates(graph, {"input": x}, ["body.2"])["body.2"]
    before = channel_rates(moved, {"input": x}, ["body.2"])["body.2"]
    calibrated, gains = calibrate_rates(moved, graph, {"input": x}, analog_pools(graph))
    after = channel_rates(calibrated, {"input": x}, ["body.2"])["body.2"]
    assert np.abs(after - wanted).max() < 0.5 * np.abs(before - wanted).max()
    assert gains["body.1"].shape == (4,) and np.all(gains["body.1"] < 1.0)  # the OR over-fires: gains below 1


def test_the_executor_runs_what_floatsim_runs(graph_and_x):
    graph, x = graph_and_x
    canonical, _ = deployable(graph, load_target("loihi2"))
    expected = FloatSim().run(canonical, {"input": x}).outputs["output"]
    module = GraphModule(canonical).double()
    with torch.no_grad():
        got = module(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)
    assert expected.any()


def test_on_the_grid_the_executor_runs_what_the_chip_runs(graph_and_x):
    graph, x = graph_and_x
    target = load_target("loihi")
    canonical, _ = deployable(graph, target)
    settings = Quantize(numerics=target.numerics, input_encoding="graded")
    calibration = calibrate(canonical, {"input": x}, max_steps=255)
    values = on_grid(canonical, settings, calibration)
    int_graph, _ = quantize(canonical, settings, calibration)
    xi = quantize_inputs(int_graph, {"input": x})
    chip = RefSim().run(int_graph, xi).outputs["output"]
    (_, op), *_ = int_graph.of_type(IntInput)
    module = GraphModule(canonical).double()
    grid = {
        n: {k: torch.as_tensor(np.asarray(v), dtype=torch.float64) for k, v in f.items()} for n, f in values.items()
    }
    with torch.no_grad():
        got = module(torch.tensor(xi["input"].astype(np.float64) * op.scale), grid).numpy()
    assert (got.argmax(1) == chip.argmax(1)).mean() >= 0.95 and np.abs(got - chip).mean() < 0.1


def test_the_form_holds_what_each_target_lacks():
    soft = import_torch(pooled_before_neuron("subtract"), (1, 8, 8))
    assert needed(soft, load_target("loihi2")) == ("maxpool-after-neuron",)
    assert needed(soft, load_target("loihi")) == ("maxpool-after-neuron", "soft-reset-as-hard")
    canonical, changed = deployable(soft, load_target("loihi"))
    assert canonical.meta.stage is Stage.CANONICAL and changed["maxpool-after-neuron"] == ["body.1"]
    assert all(op.reset == "zero" for _, op in canonical.of_type(type(canonical["body.2"])))


def test_the_executor_reads_a_membrane_readout_as_floatsim_does():
    """The bundled example: batch norm, average pooling, a non-spiking readout layer's potential."""
    from pathlib import Path

    from snncc.compile import import_model
    from snncc.options import CompileOptions

    example = Path(__file__).resolve().parents[2] / "examples" / "digits"
    data, graph = import_model(example / "model.pt", CompileOptions(data=DataOptions(file=example / "test_data.npz")))
    canonical, changed = deployable(graph, load_target("loihi"))
    assert not any(changed.values()) and canonical.of_type(type(graph["output"]))[0][1].readout.startswith("v_")
    x = data.x[:32]
    expected = FloatSim().run(canonical, {"input": x}).outputs["output"]
    with torch.no_grad():
        got = GraphModule(canonical).double()(torch.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-9)
