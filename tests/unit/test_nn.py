"""snncc.nn neurons and the SNN wrapper: traces computed by hand from spikingjelly's equations."""

from __future__ import annotations

import io
import math

import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.nn.surrogate import spike


def run_steps(neuron: nn.Module, inputs: list[float]) -> tuple[list[float], list[float]]:
    """Feed one scalar per step; return (spikes, v after each step)."""
    spikes, vs = [], []
    for value in inputs:
        out = neuron(torch.tensor([value], dtype=torch.float64))
        spikes.append(float(out[0]))
        vs.append(float(neuron.v[0]))
    return spikes, vs


def test_lif_decay_input_hard_reset_by_hand():
    # H = V + (X - V)/2; fires at H >= 1, then V = 0
    spikes, vs = run_steps(snn.LIF(tau=2.0, v_reset=0.0), [1.5, 1.5, 0.2, 3.0])
    assert spikes == [0.0, 1.0, 0.0, 1.0]
    assert vs == pytest.approx([0.75, 0.0, 0.1, 0.0], abs=1e-15)


def test_lif_soft_reset_subtracts_threshold():
    # same charge as above; on a spike V = H - 1
    spikes, vs = run_steps(snn.LIF(tau=2.0, v_reset=None), [1.5, 1.5, 0.2, 3.0])
    assert spikes == [0.0, 1.0, 0.0, 1.0]
    assert vs == pytest.approx([0.75, 0.125, 0.1625, 0.58125], abs=1e-15)


def test_lif_no_decay_input_and_nonzero_reset_potential():
    # V0 = -0.5; H = V - (V + 0.5)/4 + X
    neuron = snn.LIF(tau=4.0, v_reset=-0.5, decay_input=False)
    spikes, vs = run_steps(neuron, [0.5, 1.2, 0.0])
    assert spikes == [0.0, 1.0, 0.0]
    assert vs == pytest.approx([0.0, -0.5, -0.5], abs=1e-15)


def test_threshold_is_inclusive_and_if_soft_reset():
    assert run_steps(snn.IF(threshold=1.0), [1.0])[0] == [1.0]
    spikes, vs = run_steps(snn.IF(threshold=1.0, v_reset=None), [0.6, 0.6, 0.6])
    assert spikes == [0.0, 1.0, 0.0]
    assert vs == pytest.approx([0.6, 0.2, 0.8], abs=1e-15)


def test_integrator_outputs_running_sum():
    integrator = snn.Integrator()
    outs = [float(integrator(torch.tensor([x], dtype=torch.float64))[0]) for x in (0.5, -2.0, 1.25)]
    assert outs == [0.5, -1.5, -0.25]


def test_reset_restores_initial_potential():
    neuron = snn.LIF(tau=2.0, v_reset=-0.3)
    run_steps(neuron, [5.0, 0.7])
    neuron.reset()
    # from V0 = v_reset = -0.3, which is also the rest potential: H = -0.3 + (1 - 0)/2 = 0.2
    assert run_steps(neuron, [1.0])[1] == pytest.approx([0.2], abs=1e-15)


def test_surrogate_is_heaviside_forward_arctan_backward():
    x = torch.tensor([-0.5, 0.0, 0.25], requires_grad=True)
    s = spike(x, 2.0)
    assert s.tolist() == [0.0, 1.0, 1.0]
    s.sum().backward()
    expected = [1.0 / (1.0 + (math.pi * v) ** 2) for v in (-0.5, 0.0, 0.25)]  # alpha/2 / (1 + (pi/2·alpha·x)^2)
    assert x.grad.tolist() == pytest.approx(expected)


def small_snn(readout: str = "mean") -> snn.SNN:
    torch.manual_seed(1)
    body = nn.Sequential(nn.Linear(3, 5), snn.LIF(tau=2.0), nn.Linear(5, 2))
    return snn.SNN(body, steps=4, readout=readout).double()


@pytest.mark.parametrize("readout", ["mean", "sum", "last"])
def test_snn_readouts_reduce_per_step_outputs(readout):
    model = small_snn(readout)
    x = torch.rand(6, 3, dtype=torch.float64) * 3
    per_step = model.per_step(x)
    assert per_step.shape == (4, 6, 2)
    # the same steps by hand: reset, then call the body T times
    snn.reset_neurons(model.body)
    manual = torch.stack([model.body(x) for _ in range(4)])
    assert torch.equal(per_step, manual)
    expected = {"mean": manual.mean(0), "sum": manual.sum(0), "last": manual[-1]}[readout]
    assert torch.equal(model(x), expected)


def test_snn_resets_state_between_calls_and_accepts_sequences():
    model = small_snn()
    x = torch.rand(4, 3, dtype=torch.float64) * 3
    first = model(x)
    assert torch.equal(model(x), first)
    assert torch.equal(model(x.expand(4, 4, 3), sequence=True), first)  # the same value at every step
    varying = torch.rand(4, 4, 3, dtype=torch.float64) * 3
    snn.reset_neurons(model.body)
    manual = torch.stack([model.body(varying[t]) for t in range(4)]).mean(0)
    assert torch.equal(model(varying, sequence=True), manual)
    with pytest.raises(ValueError):
        model(torch.rand(3, 4, 3), sequence=True)


def test_gradients_reach_every_parameter():
    model = small_snn()
    x = torch.rand(16, 3, dtype=torch.float64) * 3
    nn.functional.cross_entropy(model(x), torch.randint(0, 2, (16,))).backward()
    for name, p in model.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_saved_whole_and_loaded_weights_only_after_training_step():
    model = small_snn()
    x = torch.rand(8, 3, dtype=torch.float64) * 3
    model(x).sum().backward()  # leaves autograd state behind in a naive implementation
    model.body[1].v = torch.ones(8, 5, requires_grad=True) * 2  # even a stray non-leaf state is not saved
    buffer = io.BytesIO()
    torch.save(model, buffer)
    with torch.serialization.safe_globals([snn.SNN, snn.LIF, nn.Sequential, nn.Linear]):
        loaded = torch.load(io.BytesIO(buffer.getvalue()), weights_only=True)
    assert isinstance(loaded, snn.SNN) and loaded.steps == 4 and loaded.readout == "mean"
    assert loaded.body[1].v is None
    assert torch.equal(loaded(x), model(x))


def test_invalid_settings_are_refused():
    with pytest.raises(ValueError):
        snn.LIF(tau=1.0)
    with pytest.raises(ValueError):
        snn.SNN(nn.Identity(), steps=0)
    with pytest.raises(ValueError):
        snn.SNN(nn.Identity(), steps=2, readout="max")
