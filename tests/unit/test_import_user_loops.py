"""Time loops as spikingjelly's and snntorch's tutorials write them, imported unchanged (tests/integration/user_models.py).

Oracle: the framework model itself, run by torch; the imported graph run by FloatSim must give
the same outputs (double precision, exactly: spike counts)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.errors import ImportFailed
from snncc.importers.torch import import_torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "integration"))
import user_models as um


def spiking(model: nn.Module, seed: int, gain: float = 1.0) -> nn.Module:
    """Weights that make some neurons fire and others not (random init fires too little or always);
    ``gain`` 2 for LIF layers (τ = 2 halves their input)."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            fan_in = m.weight[0].numel()
            nn.init.uniform_(m.weight, -3.0 * gain / fan_in, 6.0 * gain / fan_in)
            if m.bias is not None:
                nn.init.uniform_(m.bias, -0.2, 0.2)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(0.0, 0.3)
            m.running_var.uniform_(0.2, 0.5)
    return model.eval()


def images(n: int = 32, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def run(graph, x: np.ndarray):
    return FloatSim().run(graph, {"input": x.reshape(len(x), *graph["input"].shape)}, record=Record(spikes=True))


@pytest.mark.parametrize("name", ["SJLoopMLP", "SJLoopCSNN", "SJViewRepeat"])
@pytest.mark.parametrize("sample", [(64,), (1, 8, 8)])
def test_a_spikingjelly_loop_in_forward_imports_as_spikingjelly_runs_it(name, sample):
    model = spiking(getattr(um, name)(), seed=1, gain=2.0 if name == "SJLoopMLP" else 1.0).double()
    x = images()
    with torch.no_grad():
        expected = model(x.reshape(len(x), *sample)).numpy()
    graph = import_torch(model, sample)
    assert graph.meta.steps == um.T
    trace = run(graph, x.reshape(len(x), *sample).numpy())
    np.testing.assert_array_equal(trace.outputs["output"], expected)
    rates = [s.mean() for s in trace.spikes.values()]
    assert all(0.02 < r < 0.98 for r in rates), rates  # the comparison means something
    reshaped = name != "SJLoopMLP"  # its forward flattens; the others reshape to images
    assert graph["input"].shape == ((1, 8, 8) if reshaped else sample)


def test_the_loop_is_folded_to_one_step_with_the_models_steps_and_readout():
    graph = import_torch(spiking(um.SJLoopCSNN(T=6), 2), (64,))
    assert graph.meta.steps == 6
    assert "folded into one step" in graph.meta.note("time_loop")
    assert graph["output"].readout == "spike_count" and graph["output"].scale == pytest.approx(1 / 6)
    assert "not (64,)" in graph.meta.note("input_reshape")


def test_an_snntorch_running_spike_count_reads_out_the_sum():
    model = spiking(um.STCountNet(), seed=3)
    x = images(seed=4).float()
    with torch.no_grad():
        expected = model(x).numpy()
    graph = import_torch(model, (1, 8, 8))
    assert graph["output"].readout == "spike_count" and graph["output"].scale == 1.0
    trace = run(graph, x.double().numpy())
    np.testing.assert_array_equal(trace.outputs["output"], expected)
    assert 0 < expected.mean() < um.T


class STRate(um.STCountNet):
    """The count divided by the number of steps: a rate."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) / self.num_steps


def test_an_snntorch_spike_count_divided_by_the_steps_reads_out_the_mean():
    model = spiking(STRate(), seed=3)
    x = images(seed=4).float()
    with torch.no_grad():
        expected = model(x).numpy()
    graph = import_torch(model, (64,))
    np.testing.assert_allclose(run(graph, x.double().numpy()).outputs["output"], expected, atol=1e-7)


def test_steps_other_than_the_models_own_warn_naming_both():
    model = spiking(um.SJLoopMLP(), seed=1, gain=2.0)
    warnings = []
    graph = import_torch(model, (64,), steps=8, warn=warnings.append)
    assert graph.meta.steps == 8
    (w,) = warnings
    assert w.severity == "warning" and w.code == "IMT050"
    assert "--steps 8" in w.message and "steps 4" in w.message
    quiet = []
    import_torch(model, (64,), steps=4, warn=quiet.append)
    assert quiet == []


def test_a_poisson_encoder_in_the_loop_is_the_input_coding_with_a_warning():
    plain = spiking(um.SJLoopMLP(), seed=5, gain=2.0).double()
    encoded = um.SJEncodedLoop().double().eval()
    encoded.net.load_state_dict(plain.net.state_dict())
    warnings = []
    graph = import_torch(encoded, (64,), warn=warnings.append)
    (w,) = warnings
    assert w.code == "IMT051" and w.node == "encoder" and "PoissonEncoder" in w.message
    x = images(seed=6)
    with torch.no_grad():
        expected = plain(x).numpy()  # the same network fed the pixels themselves
    np.testing.assert_array_equal(run(graph, x.numpy()).outputs["output"], expected)


class DifferentSteps(nn.Module):
    """A loop whose steps apply different layers: not one step repeated."""

    def __init__(self) -> None:
        super().__init__()
        self.net = um.SJLoopMLP().net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.flatten(1)
        out = 0.0
        for t in range(3):
            out += self.net(x * (t + 1))
        return out / 3


def test_a_loop_whose_steps_differ_is_refused_naming_the_step():
    with pytest.raises(ImportFailed) as info:
        import_torch(DifferentSteps(), (64,))
    (d,) = info.value.diagnostics
    assert d.code == "IMT004" and "step 2 of the loop" in d.message


def test_an_snntorch_loop_over_hidden_state_layers_imports_as_snntorch_runs_it():
    model = spiking(um.STHiddenNet(), seed=7)
    x = images(seed=8).float()
    with torch.no_grad():
        expected = model(x).numpy()  # (T, N, 10): the stacked spike record
    graph = import_torch(model, (1, 8, 8))
    assert graph.meta.steps == um.T and graph["output"].readout == "spike_steps"
    out = run(graph, x.double().numpy()).outputs["output"]
    np.testing.assert_array_equal(np.moveaxis(out, 1, 0), expected)
    assert 0 < expected.mean() < 1


class Permutes(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = um.SJLoopMLP().net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.transpose(2, 3)  # no layer of the chip does this
        return sum(self.net(x) for _ in range(2)) / 2


def test_an_unsupported_operation_names_the_line_of_forward_to_change():
    with pytest.raises(ImportFailed) as info:
        import_torch(Permutes(), (1, 8, 8))
    messages = [d.message for d in info.value.diagnostics]
    assert any("tensor method .transpose()" in m and "test_import_user_loops.py:" in m for m in messages)
    assert any("x = x.transpose(2, 3)" in m for m in messages), messages
