"""spikingjelly importer: every neuron, run by spikingjelly itself, equals the float simulator on the imported graph.

The oracle is spikingjelly 2.0.0: each layer runs T steps on random per-step input in its own
step mode, and its spikes (and, where spikingjelly records them, its potentials after reset)
must equal what FloatSim computes on the imported graph.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from torch import nn

from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.errors import ImportFailed
from snncc.importers.safe_load import load_torch_model
from snncc.importers.torch import import_torch
from snncc.ir import CLIF, LIF

STEPS = 8


def with_k(node: neuron.KLIFNode, k: float) -> neuron.KLIFNode:
    node.k.data.fill_(k)
    return node


def with_w(node: neuron.ParametricLIFNode, w: float) -> neuron.ParametricLIFNode:
    node.w.data.fill_(w)
    return node


NEURONS = {
    "if-hard": lambda: neuron.IFNode(),
    "if-soft": lambda: neuron.IFNode(v_reset=None, v_threshold=0.8),
    "if-hard-negative-reset": lambda: neuron.IFNode(v_reset=-0.3),
    "lif": lambda: neuron.LIFNode(tau=2.0),
    "lif-soft-no-decay-input": lambda: neuron.LIFNode(tau=3.0, decay_input=False, v_reset=None),
    "lif-reset-to-0.2": lambda: neuron.LIFNode(tau=1.5, v_reset=0.2, v_threshold=1.1),
    "plif": lambda: with_w(neuron.ParametricLIFNode(init_tau=2.0), -0.4),
    "plif-soft-no-decay-input": lambda: with_w(
        neuron.ParametricLIFNode(init_tau=3.0, decay_input=False, v_reset=None), 0.3
    ),
    "klif": lambda: with_k(neuron.KLIFNode(tau=2.0), 1.3),
    "klif-soft": lambda: with_k(neuron.KLIFNode(tau=3.0, v_reset=None, decay_input=False), 0.8),
    "klif-scale-reset": lambda: with_k(neuron.KLIFNode(scale_reset=True, tau=2.0, v_reset=None), 1.7),
    "klif-scale-reset-hard": lambda: with_k(neuron.KLIFNode(scale_reset=True, tau=2.0), 0.7),
    "clif": lambda: neuron.ComplementaryLIFNode(tau=2.0),
    "clif-tau3": lambda: neuron.ComplementaryLIFNode(tau=3.0, v_threshold=0.9),
    "dsr-if": lambda: neuron.DSRIFNode(T=STEPS, v_threshold=0.8, alpha=0.5),
    "dsr-lif": lambda: neuron.DSRLIFNode(T=STEPS, v_threshold=0.3, tau=1.0, delta_t=0.05, alpha=0.3),
}
MULTI_STEP_ONLY = ("dsr-if", "dsr-lif")


def run_spikingjelly(node: nn.Module, x_seq: torch.Tensor, mode: str) -> tuple[np.ndarray, np.ndarray | None]:
    """Outputs (T, N, *) and the potentials after reset (T, N, *) where spikingjelly records them."""
    functional.set_step_mode(node, mode)
    if isinstance(node, neuron.ComplementaryLIFNode):
        node.store_state_seqs = True
    elif isinstance(node, neuron.BaseNode):
        node.store_v_seq = True
    functional.reset_net(node)
    with torch.no_grad():
        out = node(x_seq) if mode == "m" else torch.stack([node(x) for x in x_seq])
    if isinstance(node, neuron.ComplementaryLIFNode):
        v = node.state_seqs[0] if mode == "m" else None
    else:
        v = getattr(node, "v_seq", None)
    return out.numpy(), None if v is None else v.numpy()


def cases() -> list[tuple[str, str]]:
    return [(name, mode) for name in NEURONS for mode in ("s", "m") if mode == "m" or name not in MULTI_STEP_ONLY]


@pytest.mark.parametrize(("name", "mode"), cases(), ids=[f"{n}-{m}" for n, m in cases()])
def test_neuron_equals_spikingjelly(name, mode):
    torch.manual_seed(1)
    node = NEURONS[name]().eval()
    x_seq = torch.randn(STEPS, 16, 12) + 0.6
    out, v = run_spikingjelly(node, x_seq, mode)

    body = nn.Sequential(node)  # one layer: its input is the graph's per-step input
    graph = import_torch(body, (12,), steps=STEPS, readout="steps")
    trace = FloatSim().run(
        graph, {"input": x_seq.double().numpy().transpose(1, 0, 2)}, record=Record(spikes=True, v=True)
    )
    spikes = trace.spikes["0"].transpose(1, 0, 2)
    assert 0.05 < spikes.mean() < 0.95, f"the input must make the layer fire and not fire ({spikes.mean()})"
    np.testing.assert_array_equal(spikes, out != 0)
    np.testing.assert_allclose(trace.outputs["output"].transpose(1, 0, 2), out, rtol=1e-6)  # DSR's amplitude
    if v is not None:
        np.testing.assert_allclose(trace.v["0"].transpose(1, 0, 2), v, atol=2e-5)


def scaled(model: nn.Module, factor: float) -> nn.Module:
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, (nn.Linear, nn.Conv2d)):
            bound = factor / m.weight[0].numel() ** 0.5
            nn.init.uniform_(m.weight, -bound, bound)
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
    return model.eval()


class TutorialNet(nn.Module):
    """spikingjelly's conv tutorial structure: multi-step modules, T-repeated input, reduction over time."""

    def __init__(self, reduction: str, repeat: str = "repeat") -> None:
        super().__init__()
        self.T, self.reduction, self.repeat = 5, reduction, repeat
        self.conv_fc = nn.Sequential(
            layer.SeqToANNContainer(nn.Conv2d(2, 6, 3, padding=1), nn.BatchNorm2d(6)),
            neuron.LIFNode(tau=2.0, surrogate_function=surrogate.ATan()),
            layer.AvgPool2d(2),
            nn.Flatten(2),  # [T, N, C, H, W] -> [T, N, C*H*W]
            layer.Dropout(0.2),
            layer.MultiStepContainer(nn.Linear(6 * 16, 10), neuron.IFNode(v_reset=None)),
            layer.Linear(10, 4),
            neuron.ParametricLIFNode(),
        )
        functional.set_step_mode(self, "m")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x_seq = torch.stack([x] * self.T) if self.repeat == "stack" else x.unsqueeze(0).repeat(self.T, 1, 1, 1, 1)
        y = self.conv_fc(x_seq)
        if self.reduction == "last":
            return y[-1]
        return y.mean(0) if self.reduction == "mean" else y.sum(0)


@pytest.mark.parametrize(("reduction", "repeat"), [("mean", "repeat"), ("sum", "stack"), ("last", "repeat")])
def test_multi_step_network_with_repeated_input(reduction, repeat):
    model = scaled(TutorialNet(reduction, repeat), 6.0)
    x = torch.rand(24, 2, 8, 8)
    functional.reset_net(model)
    with torch.no_grad():
        expected = model(x).numpy()
    graph = import_torch(model, (2, 8, 8))
    assert graph.meta.steps == 5
    names = [n for n, _ in graph.nodes]
    assert names[1:4] == ["conv_fc.0.0", "conv_fc.0.1", "conv_fc.1"]  # containers unwrapped, user paths kept
    assert {"conv_fc.5.0", "conv_fc.5.1", "conv_fc.7"} <= set(names) and "conv_fc.4" not in names
    trace = FloatSim().run(graph, {"input": x.double().numpy()}, record=Record(spikes=True))
    assert 0.05 < trace.spikes["conv_fc.1"].mean() < 0.95 and trace.spikes["conv_fc.7"].any()
    np.testing.assert_allclose(trace.outputs["output"], expected, atol=1e-6)


def test_single_step_network_needs_steps_and_readout():
    body = scaled(nn.Sequential(layer.Linear(6, 8), neuron.LIFNode(), layer.Linear(8, 3), neuron.IFNode()), 3.0)
    with pytest.raises(ImportFailed) as err:
        import_torch(body, (6,))
    assert err.value.code == "IMT005" and "--steps" in err.value.diagnostics[0].hint
    x = torch.rand(10, 6)
    functional.reset_net(body)
    with torch.no_grad():
        expected = torch.stack([body(x) for _ in range(4)]).mean(0).numpy()
    graph = import_torch(body, (6,), steps=4, readout="mean")
    np.testing.assert_allclose(FloatSim().run(graph, {"input": x.double().numpy()}).outputs["output"], expected)


def test_unsupported_layers_and_settings_are_all_named():
    analog = neuron.LIFNode(surrogate_function=surrogate.Sigmoid(spiking=False))
    body = nn.Sequential(
        layer.Linear(6, 8),
        analog,
        layer.Linear(8, 8),
        with_k(neuron.KLIFNode(), -0.5),
        layer.Linear(8, 8),
        neuron.QIFNode(),
        layer.Linear(8, 8),
        with_k(neuron.KLIFNode(tau=2.0), 2.5),
    )
    with pytest.raises(ImportFailed) as err:
        import_torch(body, (6,), steps=4, readout="mean")
    found = {d.node: d for d in err.value.diagnostics}
    assert set(found) == {"1", "3", "5", "7"}
    assert found["1"].code == "IMT003" and "non-spiking mode" in found["1"].message
    assert found["3"].code == "IMT003" and "k > 0" in found["3"].message
    assert found["5"].code == "IMT002" and "QIFNode" in found["5"].message and "LIFNode" in found["5"].hint
    assert found["7"].code == "IMT003" and "> 1" in found["7"].message


def test_maps_onto_the_ir_fields():
    """Spot values by hand: LIF τ=4 with decay_input and v_reset -0.2; PLIF w=0 (1/τ = 0.5); CLIF τ=3."""
    body = nn.Sequential(
        layer.Linear(2, 2),
        neuron.LIFNode(tau=4.0, v_reset=-0.2, v_threshold=0.5),
        layer.Linear(2, 2),
        with_w(neuron.ParametricLIFNode(decay_input=False, v_reset=None), 0.0),
        layer.Linear(2, 2),
        neuron.ComplementaryLIFNode(tau=3.0),
    )
    graph = import_torch(body, (2,), steps=2, readout="sum")
    lif, plif, clif = graph["1"], graph["3"], graph["5"]
    assert isinstance(lif, LIF) and isinstance(clif, CLIF)
    assert (lif.beta, lif.gain, float(lif.bias.array), lif.threshold) == (0.75, 0.25, -0.05, 0.5)
    assert (lif.reset, lif.v_reset, float(lif.v_init.array), lif.fire) == ("zero", -0.2, -0.2, ">=")
    assert (plif.beta, plif.gain, plif.bias, plif.reset, plif.v_init) == (0.5, 1.0, None, "subtract", None)
    assert (clif.beta, clif.m_tau, clif.reset) == (pytest.approx(2 / 3), 3.0, "subtract")


def test_whole_saved_spikingjelly_sequential_loads_without_allow_pickle(tmp_path):
    model = nn.Sequential(
        layer.Conv2d(1, 4, 3, padding=1),
        layer.BatchNorm2d(4),
        neuron.IFNode(surrogate_function=surrogate.ATan()),
        layer.Flatten(),
        layer.Linear(4 * 64, 10),
        neuron.LIFNode(surrogate_function=surrogate.PiecewiseQuadratic()),
    )
    functional.set_step_mode(model, "m")
    torch.save(model, tmp_path / "sj.pt")
    loaded = load_torch_model(tmp_path / "sj.pt")
    assert [type(m) for m in loaded] == [type(m) for m in model]
    graph = import_torch(loaded, (1, 8, 8), steps=3)  # multi-step output: the per-step record
    assert [n for n, _ in graph.nodes] == ["input", "0", "1", "2", "3", "4", "5", "output"]


def test_fires_when_the_potential_equals_the_threshold():
    """heaviside(0) = 1 in spikingjelly: 0.5 per step reaches exactly 1.0 at step 2 and fires (fire ">=")."""
    node = neuron.IFNode(v_reset=None)
    x_seq = torch.full((STEPS, 1, 1), 0.5)
    out, _ = run_spikingjelly(node, x_seq, "m")
    assert out[:2, 0, 0].tolist() == [0.0, 1.0]
    graph = import_torch(nn.Sequential(node), (1,), steps=STEPS, readout="steps")
    trace = FloatSim().run(graph, {"input": x_seq.double().numpy().transpose(1, 0, 2)}, record=Record(spikes=True))
    np.testing.assert_array_equal(trace.spikes["0"][0, :, 0], out[:, 0, 0])
