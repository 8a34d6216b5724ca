"""The source papers' neuron models: torch module == imported IR (float simulator), and the exact
equivalences the integer forms rely on, checked numerically (neuron-models.md §3-§5)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.errors import ImportFailed
from snncc.importers.torch import import_torch
from snncc.ir import LIF, Const, Dense, GraphBuilder, GraphMeta, Input, Output, Stage, verify

STEPS = 8

MODELS = {
    "plif": lambda: snn.PLIF(init_tau=3.0),
    "plif-soft": lambda: snn.PLIF(init_tau=1.7, v_reset=None, decay_input=False),
    "klif": lambda: snn.KLIF(tau=2.0, k=1.4),
    "klif-soft": lambda: snn.KLIF(tau=3.0, k=0.8, v_reset=None),
    "clif": lambda: snn.CLIF(tau=2.0),
    "dsr-if": lambda: snn.DSRIF(vth=0.8, alpha=0.5),
    "dsr-lif": lambda: snn.DSRLIF(tau=1.0, delta_t=0.05, vth=0.3, alpha=0.3),
    "imp-lif": lambda: snn.IMPLIF((12,), tau=2.0),
    "imp-if-soft": lambda: snn.IMPIF((12,), v_reset=None),
}


def network(neuron: nn.Module, factor: float) -> snn.SNN:
    torch.manual_seed(3)
    body = nn.Sequential(nn.Linear(6, 12), neuron, nn.Linear(12, 5))
    for m in body.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -factor, factor)
            nn.init.uniform_(m.bias, -0.1, 0.4)
    return snn.SNN(body, steps=STEPS, readout="mean").double().eval()


def torch_spikes(model: snn.SNN, x: torch.Tensor) -> np.ndarray:
    seen: list[np.ndarray] = []
    hook = model.body[1].register_forward_hook(lambda m, i, o: seen.append((o.detach() != 0).numpy()))
    with torch.no_grad():
        model(x)
    hook.remove()
    return np.stack(seen, axis=1).astype(np.uint8)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_imported_model_reproduces_torch(name):
    factor = 0.9 if name.startswith("dsr-lif") else 0.6
    model = network(MODELS[name](), factor)
    x = torch.rand(16, 6, dtype=torch.float64) * 2
    with torch.no_grad():
        expected = model(x).numpy()
    graph = import_torch(model, (6,))
    trace = FloatSim().run(graph, {"input": x.numpy()}, record=Record(spikes=True))
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-9)
    spikes = torch_spikes(model, x)
    assert 0.01 < spikes.mean() < 0.99, "the test must exercise firing and not firing"
    np.testing.assert_array_equal(trace.spikes["body.1"], spikes)


def test_klif_folds_k_into_decay_gain_and_a_floor():
    neuron = snn.KLIF(tau=2.0, k=1.4)
    op = import_torch(network(neuron, 0.6), (6,))["body.1"]
    # F = ReLU(k·H), H = (1 - 1/tau)V + X/tau: decay k(1 - 1/tau) = 0.7, gain k/tau = 0.7, floor 0
    assert (op.beta, op.gain, op.v_floor) == pytest.approx((0.7, 0.7, 0.0))


def test_klif_with_a_growing_potential_is_refused():
    with pytest.raises(ImportFailed) as err:
        import_torch(network(snn.KLIF(tau=2.0, k=2.5), 0.6), (6,))  # k(1 - 1/tau) = 1.25 > 1
    assert err.value.code == "IMT020" and err.value.diagnostics[0].node == "body.1"


def test_dsr_threshold_shift_and_amplitude():
    op = import_torch(network(snn.DSRIF(vth=0.8, alpha=0.5), 0.6), (6,))["body.1"]
    assert (op.threshold, op.reset, op.amplitude) == (pytest.approx(0.8), "subtract", pytest.approx(0.8))
    np.testing.assert_allclose(op.v_init.array, 0.4)  # (1 - alpha)·Vth


def test_imp_shape_must_match_the_layer():
    with pytest.raises(ImportFailed) as err:
        import_torch(network(snn.IMPLIF((7,)), 0.6), (6,))
    assert err.value.code == "IMT021"


def _graph(neuron: LIF, weight: np.ndarray, extra: tuple[str, np.ndarray] | None = None):
    b = GraphBuilder()
    b.add("x", Input(shape=(weight.shape[1],)))
    syn = [b.add("w", Dense(shape=(weight.shape[0],), weight=Const(weight)), ["x"])]
    if extra is not None:
        b.add(extra[0], Input(shape=(extra[1].shape[1],)))
        syn.append(b.add("pulse_w", Dense(shape=(extra[1].shape[0],), weight=Const(extra[1])), [extra[0]]))
    b.add("lif", neuron, syn)
    b.add("out", Output(shape=neuron.shape, readout="spike_count"), ["lif"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=STEPS)))


def test_initial_potential_equals_a_one_time_bias_at_step_one():
    # H_1 = beta·V0 + X_1: starting at V0 is the same as starting at 0 with an extra input beta·V0 at step 1 only
    rng = np.random.default_rng(4)
    w = rng.normal(0.3, 0.4, size=(10, 6))
    v0 = rng.uniform(-0.5, 0.9, size=10)
    beta = 0.75
    with_v0 = _graph(LIF(shape=(10,), beta=beta, threshold=1.0, v_init=Const(v0)), w)
    pulse_graph = _graph(LIF(shape=(10,), beta=beta, threshold=1.0), w, ("pulse", np.diag(beta * v0)))
    x = rng.uniform(0, 1, size=(32, 6))
    pulse = np.zeros((32, STEPS, 10))
    pulse[:, 0] = 1.0
    rec = Record(spikes=True, v=True)
    a = FloatSim().run(with_v0, {"x": x}, record=rec)
    b = FloatSim().run(pulse_graph, {"x": x, "pulse": pulse}, record=rec)
    assert 0.05 < a.spikes["lif"].mean() < 0.95
    np.testing.assert_array_equal(a.spikes["lif"], b.spikes["lif"])
    np.testing.assert_allclose(a.v["lif"], b.v["lif"], atol=1e-12)


def test_threshold_over_2T_shift_equals_half_threshold_initial_potential_in_spike_counts():
    # IF with soft reset: a per-step bias theta/(2T) and V0 = theta/2 give the same count at T for constant
    # input (both equal clip(floor(T·I/theta + 1/2), 0, T)); the spike trains themselves may differ
    rng = np.random.default_rng(5)
    theta, n = 1.3, 50
    eye = np.eye(n)
    shifted = _graph(LIF(shape=(n,), threshold=theta, reset="subtract", bias=Const(theta / (2 * STEPS))), eye)
    started = _graph(LIF(shape=(n,), threshold=theta, reset="subtract", v_init=Const(theta / 2)), eye)
    x = rng.uniform(0, theta, size=(40, n))
    a = FloatSim().run(shifted, {"x": x}, record=Record(spikes=True))
    b = FloatSim().run(started, {"x": x}, record=Record(spikes=True))
    np.testing.assert_array_equal(a.outputs["out"], b.outputs["out"])
    np.testing.assert_array_equal(a.outputs["out"], np.clip(np.floor(STEPS * x / theta + 0.5), 0, STEPS))
    assert (a.spikes["lif"] != b.spikes["lif"]).any()


@pytest.mark.parametrize("last", ["linear", "spiking", "integrator"])
def test_per_step_readout_reproduces_torch(last):
    torch.manual_seed(7)
    tail = {
        "linear": [nn.Linear(12, 5)],
        "spiking": [nn.Linear(12, 5), snn.DSRIF(vth=0.5)],
        "integrator": [nn.Linear(12, 5), snn.Integrator()],
    }
    body = nn.Sequential(nn.Linear(6, 12), snn.LIF(tau=2.0), *tail[last])
    model = snn.SNN(body, steps=STEPS, readout="steps").double().eval()
    x = torch.rand(9, 6, dtype=torch.float64) * 3
    with torch.no_grad():
        expected = model(x).numpy()
    assert expected.shape == (9, STEPS, 5)
    trace = FloatSim().run(import_torch(model, (6,)), {"input": x.numpy()})
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-9)
    assert np.abs(expected).sum() > 0
