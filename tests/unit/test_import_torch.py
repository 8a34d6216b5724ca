"""torch importer: FloatSim(import_torch(model)) reproduces the torch model, and every failure is named."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.errors import ImportFailed, InvalidGraph
from snncc.importers.torch import import_torch
from snncc.ir import LIF, Output, Stage

STEPS = 6


def scaled(module: nn.Module, factor: float, seed: int) -> nn.Module:
    """Random weights large enough that every layer spikes sometimes; random batch-norm statistics."""
    torch.manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            nn.init.uniform_(m.weight, -factor / m.weight[0].numel() ** 0.5, factor / m.weight[0].numel() ** 0.5)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.3, 0.5)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.4)
    return module.double().eval()


def conv_net() -> nn.Module:
    return nn.Sequential(
        nn.Conv2d(2, 4, 3, padding="same"),
        nn.BatchNorm2d(4),
        snn.LIF(tau=2.0),
        nn.AvgPool2d(2),
        nn.Conv2d(4, 6, 2, groups=2, bias=False),
        snn.IF(v_reset=None),
        nn.Flatten(),
        nn.Dropout(0.3),
        nn.Linear(24, 8),
        nn.BatchNorm1d(8),
        snn.LIF(tau=3.0, v_reset=None),
        nn.Linear(8, 5),
    )


def mlp_if() -> nn.Module:
    return nn.Sequential(
        nn.Flatten(),
        nn.Linear(12, 16),
        snn.IF(v_reset=None),
        nn.Identity(),
        nn.Linear(16, 8),
        snn.IF(threshold=0.8),
    )


def lif_variants() -> nn.Module:
    return nn.Sequential(
        nn.Linear(6, 10),
        snn.LIF(tau=3.0, v_reset=-0.2, decay_input=False),
        nn.Linear(10, 10),
        snn.LIF(tau=1.5, v_reset=0.3, threshold=1.2),
        nn.Linear(10, 4),
        snn.Integrator(),
    )


class Block(nn.Module):
    def __init__(self, n_in: int, n_out: int) -> None:
        super().__init__()
        self.fc = nn.Linear(n_in, n_out)
        self.lif = snn.LIF(tau=2.5, v_reset=None)

    def forward(self, x):
        return self.lif(self.fc(x))


class CustomNet(nn.Module):
    """A user container: nested modules, functional flattens, a head applied last."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(1, 3, 3), snn.IF())
        self.blocks = nn.ModuleList([Block(27, 12), Block(12, 10)])
        self.head = nn.Linear(10, 3)

    def forward(self, x):
        x = self.features(x)
        x = x.view(x.size(0), -1)
        for block in self.blocks:
            x = torch.flatten(x, 1)
            x = block(x)
        return self.head(x)


class Untraceable(nn.Module):
    """torch.fx cannot trace a branch on a tensor's size: the importer falls back to registration order."""

    def __init__(self, swap: bool = False) -> None:
        super().__init__()
        self.fc1 = nn.Linear(5, 7)
        self.lif = snn.LIF()
        self.fc2 = nn.Linear(7, 7)
        self.swap = swap

    def forward(self, x):
        if x.shape[-1] > 0:
            x = self.fc1(x)
        if self.swap:  # applies fc2 before the neuron: not the registered order
            return self.lif(self.fc2(x))
        return self.fc2(self.lif(x))


def reference(model: snn.SNN, x: np.ndarray) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The torch model's output and every spiking layer's spikes (batch, steps, *shape)."""
    spiking = {m: name for name, m in model.named_modules() if isinstance(m, (snn.LIF, snn.IF))}
    seen: dict[str, list[torch.Tensor]] = {name: [] for name in spiking.values()}
    hooks = [m.register_forward_hook(lambda _m, _a, out, n=n: seen[n].append(out.clone())) for m, n in spiking.items()]
    try:
        with torch.no_grad():
            out = model(torch.from_numpy(x))
    finally:
        for h in hooks:
            h.remove()
    return out.numpy(), {n: torch.stack(s, dim=1).numpy() for n, s in seen.items()}


def check_equivalent(model: snn.SNN, input_shape: tuple[int, ...], seed: int = 0, **kw):
    x = np.random.default_rng(seed).uniform(0.0, 2.0, size=(16, *input_shape))
    graph = import_torch(model, input_shape, **kw)
    trace = FloatSim().run(graph, {"input": x}, record=Record(spikes=True))
    expected_out, expected_spikes = reference(model, x)
    np.testing.assert_allclose(trace.outputs["output"].reshape(expected_out.shape), expected_out, rtol=0, atol=1e-9)
    assert expected_spikes, "the model has spiking layers"
    for name, spikes in expected_spikes.items():
        rate = spikes.mean()
        assert 0.01 < rate < 0.99, f"{name} fires at rate {rate}: the test would not exercise it"
        np.testing.assert_array_equal(trace.spikes[name], spikes.astype(np.uint8), err_msg=name)
    return graph


@pytest.mark.parametrize(
    ("build", "shape", "readout", "factor"),
    [
        (conv_net, (2, 6, 6), "mean", 3.0),
        (conv_net, (2, 6, 6), "sum", 3.0),
        (conv_net, (2, 6, 6), "last", 3.0),
        (mlp_if, (3, 4), "sum", 2.0),
        (mlp_if, (3, 4), "mean", 2.0),
        (mlp_if, (3, 4), "last", 2.0),
        (lif_variants, (6,), "mean", 3.0),
        (lif_variants, (6,), "sum", 3.0),
        (lif_variants, (6,), "last", 3.0),
        (CustomNet, (1, 5, 5), "mean", 5.0),
    ],
)
def test_imported_graph_reproduces_torch_model(build, shape, readout, factor):
    model = snn.SNN(scaled(build(), factor, seed=1), steps=STEPS, readout=readout)
    graph = check_equivalent(model, shape)
    assert graph.meta.stage is Stage.FLOAT and graph.meta.steps == STEPS and graph.meta.dt is None


def test_bare_body_with_steps_and_readout():
    body = scaled(lif_variants(), 3.0, seed=2)
    graph = import_torch(body, (6,), steps=STEPS, readout="sum", source="torch:body.pt")
    assert graph.meta.source == "torch:body.pt"
    assert [n for n, _ in graph.of_type(LIF)] == ["1", "3", "5"]
    x = np.random.default_rng(3).uniform(0, 2, size=(8, 6))
    expected, _ = reference(snn.SNN(body, steps=STEPS, readout="sum"), x)
    np.testing.assert_allclose(FloatSim().run(graph, {"input": x}).outputs["output"], expected, atol=1e-9)


def test_untraceable_chain_falls_back_to_registration_order():
    model = snn.SNN(scaled(Untraceable(), 3.0, seed=4), steps=STEPS)
    x = np.random.default_rng(5).uniform(0, 2, size=(8, 5))
    graph = import_torch(model, (5,))
    assert "registration order" in graph.meta.note("import_order")
    expected, _ = reference(model, x)
    np.testing.assert_allclose(FloatSim().run(graph, {"input": x}).outputs["output"], expected, atol=1e-9)
    with pytest.raises(ImportFailed) as err:
        import_torch(snn.SNN(scaled(Untraceable(swap=True), 3.0, seed=4), steps=STEPS), (5,))
    assert err.value.code == "IMT006"


def test_neuron_parameters_map_exactly():
    body = nn.Sequential(
        nn.Linear(2, 2),
        snn.LIF(tau=4.0, threshold=1.5, v_reset=-0.5),
        nn.Linear(2, 2),
        snn.LIF(tau=2.0, v_reset=None, decay_input=False),
        nn.Linear(2, 2),
        snn.IF(threshold=0.5, v_reset=None),
    )
    graph = import_torch(snn.SNN(body, steps=3), (2,))
    hard, soft, plain = graph["body.1"], graph["body.3"], graph["body.5"]
    # H = V + (X - (V + 0.5))/4 = 0.75 V + 0.25 X - 0.125
    assert (hard.beta, hard.gain, float(hard.bias.array), hard.threshold) == (0.75, 0.25, -0.125, 1.5)
    assert (hard.reset, hard.v_reset, float(hard.v_init.array), hard.fire) == ("zero", -0.5, -0.5, ">=")
    # H = V - V/2 + X
    assert (soft.beta, soft.gain, soft.bias, soft.reset, soft.v_init) == (0.5, 1.0, None, "subtract", None)
    assert (plain.beta, plain.gain, plain.threshold, plain.reset, plain.alpha) == (
        1.0,
        1.0,
        0.5,
        "subtract",
        0.0,
    )


@pytest.mark.parametrize(
    ("last", "readout", "expect"),
    [
        ("linear", "mean", ("body.2.readout", 1.0, "v_last", 1 / 4)),
        ("linear", "sum", ("body.2.readout", 1.0, "v_last", 1.0)),
        ("linear", "last", ("body.2.readout", 0.0, "v_last", 1.0)),
        ("spiking", "mean", ("body.1", None, "spike_count", 1 / 4)),
        ("spiking", "sum", ("body.1", None, "spike_count", 1.0)),
        ("spiking", "last", ("body.1.readout", 0.0, "v_last", 1.0)),
        ("integrator", "mean", ("body.2", 1.0, "v_mean", 1.0)),
        ("integrator", "sum", ("body.2", 1.0, "v_mean", 4.0)),
        ("integrator", "last", ("body.2", 1.0, "v_last", 1.0)),
    ],
)
def test_readout_structure(last, readout, expect):
    tail = {"linear": [nn.Linear(3, 3)], "spiking": [], "integrator": [snn.Integrator()]}[last]
    model = snn.SNN(nn.Sequential(nn.Linear(2, 3), snn.LIF(), *tail), steps=4, readout=readout)
    graph = import_torch(model, (2,))
    ((out_name, out),) = graph.of_type(Output)
    source = graph.predecessors(out_name)[0]
    name, beta, kind, scale = expect
    assert out_name == "output" and source == name and (out.readout, out.scale) == (kind, scale)
    if beta is not None:
        assert not graph[source].spiking and graph[source].beta == beta
    assert graph.names[0] == "input"


def test_every_unsupported_layer_is_reported_at_once():
    body = nn.Sequential(
        nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(2, 2), nn.GELU(), snn.LIF()
    )
    with pytest.raises(ImportFailed) as err:
        import_torch(snn.SNN(body, steps=2), (1, 6, 6))
    found = {(d.code, d.node) for d in err.value.diagnostics}
    # MaxPool2d is supported after a spiking layer; after the unsupported ReLU its input is unknown
    assert found == {("IMT002", "body.1"), ("IMT002", "body.5")}
    assert all(d.hint and "Linear" in d.hint for d in err.value.diagnostics)


def test_unsupported_settings_and_operations():
    body = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, padding_mode="reflect"),
        snn.LIF(),
        nn.AvgPool2d(2, ceil_mode=True),
        nn.Flatten(start_dim=2),
    )
    with pytest.raises(ImportFailed) as err:
        import_torch(snn.SNN(body, steps=2), (1, 6, 6))
    assert {(d.code, d.node) for d in err.value.diagnostics} == {
        ("IMT003", "body.0"),
        ("IMT003", "body.2"),
        ("IMT003", "body.3"),
    }

    class Functional(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.fc = nn.Linear(3, 3)
            self.lif = snn.LIF()

        def forward(self, x):
            return self.lif(torch.relu(self.fc(x)) + x)

    with pytest.raises(ImportFailed) as err:
        import_torch(snn.SNN(Functional(), steps=2), (3,))
    messages = " ".join(d.message for d in err.value.diagnostics)
    assert {d.code for d in err.value.diagnostics} == {"IMT004"} and "relu" in messages and "add" in messages

    shared = nn.Linear(3, 3)
    with pytest.raises(ImportFailed) as err:
        import_torch(snn.SNN(nn.Sequential(shared, snn.LIF(), shared, snn.LIF()), steps=2), (3,))
    assert err.value.code == "IMT004" and "more than once" in err.value.diagnostics[0].message
    assert err.value.diagnostics[0].node == "body.0"  # the module's (first) name


def test_linear_on_unflattened_input_is_refused():
    with pytest.raises(ImportFailed) as err:
        import_torch(snn.SNN(nn.Sequential(nn.Linear(8, 4), snn.LIF()), steps=2), (1, 8, 8))
    assert err.value.code == "IMT003" and "Flatten" in err.value.diagnostics[0].hint


def test_shape_mismatch_is_an_invalid_graph():
    # compile retries other input shapes on InvalidGraph, so a wrong input shape must raise exactly that
    with pytest.raises(InvalidGraph) as err:
        import_torch(snn.SNN(nn.Sequential(nn.Conv2d(1, 2, 3), snn.LIF()), steps=2), (64,))
    assert err.value.code == "GRF004"
    with pytest.raises(InvalidGraph):
        import_torch(snn.SNN(nn.Sequential(nn.Linear(64, 4), snn.LIF()), steps=2), (1, 8, 8))


def test_nan_weights_are_an_invalid_graph_naming_the_layer():
    body = nn.Sequential(nn.Linear(3, 3), snn.LIF(), nn.Linear(3, 2))
    with torch.no_grad():
        body[2].weight[0, 1] = float("nan")
    with pytest.raises(InvalidGraph) as err:
        import_torch(snn.SNN(body, steps=2), (3,))
    assert err.value.code == "GRF021" and err.value.diagnostics[0].node == "body.2"


def test_missing_steps_readout_and_misplaced_integrator():
    body = nn.Sequential(nn.Linear(3, 3), snn.LIF())
    with pytest.raises(ImportFailed) as err:
        import_torch(body, (3,), steps=4)
    assert err.value.code == "IMT005" and "--readout" in err.value.diagnostics[0].hint
    with pytest.raises(ImportFailed) as err:
        import_torch(body, (3,))
    assert "--steps" in err.value.diagnostics[0].hint
    with pytest.raises(ImportFailed) as err:
        import_torch(nn.Sequential(nn.Linear(3, 3), snn.Integrator(), nn.Linear(3, 3)), (3,), steps=2, readout="mean")
    assert err.value.code == "IMT007" and err.value.diagnostics[0].node == "1"


class NorseLoop(nn.Module):
    """norse's usual form: SequentialState of torch layers and LIFBoxCells, its state threaded by hand."""

    def __init__(self) -> None:
        super().__init__()
        import norse.torch as norse

        self.model = norse.SequentialState(nn.Flatten(), nn.Linear(64, 32), norse.LIFBoxCell(), nn.Linear(32, 10))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, out = None, 0
        for _ in range(4):
            z, state = self.model(x, state)
            out = out + z
        return out


@pytest.mark.parametrize("steps", [None, 4])  # with --steps/--readout the walk used to fail in 277 places
def test_a_norse_model_is_sent_to_its_nir_export_in_one_error(steps):
    with pytest.raises(ImportFailed) as err:
        import_torch(NorseLoop(), (1, 8, 8), steps=steps, readout=None if steps is None else "sum")
    (diagnostic,) = err.value.diagnostics
    assert diagnostic.code == "IMT018"
    assert "model.2 (LIFBoxCell)" in diagnostic.message
    assert "norse.torch.to_nir" in diagnostic.hint and "--nir-from norse" in diagnostic.hint
