"""snntorch importer: Leaky, run by snntorch itself, equals the float simulator on the imported graph.

The oracle is snntorch 1.0.0: each layer runs T steps on random per-step input; its spikes must
equal FloatSim's, and its membrane record U_t (before the delayed reset) must equal the IR
potential through the relation the mapping states (snncc/importers/snntorch.py): zero reset
v = U·(1 − S); subtract v = U + c − (θ/β)·S with c = θ(1/β − 1).
"""

from __future__ import annotations

import numpy as np
import pytest
import snntorch
import snntorch.utils
import torch
from snntorch import surrogate
from torch import nn

from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.errors import ImportFailed
from snncc.importers.torch import import_torch

STEPS = 10


def learned_beta() -> snntorch.Leaky:
    return snntorch.Leaky(beta=torch.full((12,), 0.8), learn_beta=True, threshold=0.9)


LEAKY = {
    "subtract": lambda: snntorch.Leaky(beta=0.9),
    "subtract-beta-1": lambda: snntorch.Leaky(beta=1.0, threshold=1.2),
    "subtract-graded": lambda: snntorch.Leaky(beta=0.6, threshold=0.7, graded_spikes_factor=0.5),
    "subtract-learned-per-neuron-beta": learned_beta,
    "zero": lambda: snntorch.Leaky(beta=0.85, reset_mechanism="zero"),
    "zero-no-delay": lambda: snntorch.Leaky(beta=0.7, reset_mechanism="zero", reset_delay=False),
    "zero-fast-sigmoid": lambda: snntorch.Leaky(beta=0.95, reset_mechanism="zero", spike_grad=surrogate.fast_sigmoid()),
    "beta-clamped": lambda: snntorch.Leaky(beta=1.3),  # snntorch clamps β to 1 in the forward
}


def run_snntorch(leaky: snntorch.Leaky, x_seq: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    mem = leaky.init_leaky()
    spikes, membranes = [], []
    with torch.no_grad():
        for x in x_seq:
            spk, mem = leaky(x, mem)
            spikes.append(spk)
            membranes.append(mem)
    return torch.stack(spikes).numpy(), torch.stack(membranes).numpy()


@pytest.mark.parametrize("name", sorted(LEAKY))
def test_leaky_equals_snntorch(name):
    torch.manual_seed(2)
    leaky = LEAKY[name]()
    x_seq = torch.randn(STEPS, 16, 12) * 0.6 + 0.35
    out, mem = run_snntorch(leaky, x_seq)

    leaky.init_hidden = True  # the same layer, one step per call (nn.Sequential form)
    graph = import_torch(nn.Sequential(leaky), (12,), steps=STEPS, readout="steps")
    trace = FloatSim().run(
        graph, {"input": x_seq.double().numpy().transpose(1, 0, 2)}, record=Record(spikes=True, v=True)
    )
    spikes = trace.spikes["0"].transpose(1, 0, 2)
    assert 0.05 < spikes.mean() < 0.95, f"the input must make the layer fire and not fire ({spikes.mean()})"
    np.testing.assert_array_equal(spikes, out != 0)
    np.testing.assert_allclose(trace.outputs["output"].transpose(1, 0, 2), out, rtol=1e-6)  # graded spikes

    beta = float(torch.as_tensor(leaky.beta).detach().flatten()[0].clamp(0, 1))
    theta = float(leaky.threshold)
    expected_v = mem * (1 - spikes) if "zero" in name else mem + theta * (1 / beta - 1) - theta / beta * spikes
    np.testing.assert_allclose(trace.v["0"].transpose(1, 0, 2), expected_v, atol=1e-5)


def test_fires_only_above_the_threshold():
    """snntorch's spike is [U − θ > 0]: 0.5 per step reaches exactly 1.0 at step 2 and does not fire."""
    leaky = snntorch.Leaky(beta=1.0, init_hidden=True)
    x_seq = torch.full((STEPS, 1, 1), 0.5)
    with torch.no_grad():
        out = torch.stack([leaky(x) for x in x_seq])[:, 0, 0]
    assert out[:3].tolist() == [0.0, 0.0, 1.0]
    graph = import_torch(nn.Sequential(snntorch.Leaky(beta=1.0, init_hidden=True)), (1,), steps=STEPS, readout="steps")
    trace = FloatSim().run(graph, {"input": x_seq.double().numpy().transpose(1, 0, 2)}, record=Record(spikes=True))
    np.testing.assert_array_equal(trace.spikes["0"][0, :, 0], out.numpy())


def test_unsupported_settings_are_all_named():
    body = nn.Sequential(
        nn.Linear(4, 8),
        snntorch.Leaky(beta=0.9, reset_mechanism="none", init_hidden=True),
        nn.Linear(8, 8),
        snntorch.Leaky(beta=0.9, reset_delay=False, init_hidden=True),
        nn.Linear(8, 8),
        snntorch.Leaky(beta=torch.linspace(0.5, 0.9, 8), init_hidden=True),
        nn.Linear(8, 8),
        snntorch.Leaky(beta=0.0, init_hidden=True),
        nn.Linear(8, 8),
        snntorch.Synaptic(alpha=0.9, beta=0.8, reset_mechanism="zero", init_hidden=True),
        nn.Linear(8, 3),
        snntorch.Alpha(alpha=0.9, beta=0.8, init_hidden=True),
    )
    with pytest.raises(ImportFailed) as err:
        import_torch(body, (4,), steps=4, readout="sum")
    found = {d.node: d for d in err.value.diagnostics}
    assert set(found) == {"1", "3", "5", "7", "9", "11"}
    assert found["1"].code == "IMT003" and "reset_mechanism='none'" in found["1"].message
    assert found["3"].code == "IMT003" and "reset_delay=False" in found["3"].message
    assert found["5"].code == "IMT003" and "beta differs between neurons" in found["5"].message
    assert found["7"].code == "IMT003" and "beta 0" in found["7"].message
    assert found["9"].code == "IMT003" and "refractory" in found["9"].message and "reset_delay=False" in found["9"].hint
    assert found["11"].code == "IMT002" and "Alpha" in found["11"].message and "Synaptic" in found["11"].hint


SYNAPTIC = {
    "subtract": lambda: snntorch.Synaptic(alpha=0.7, beta=0.9),
    "subtract-threshold": lambda: snntorch.Synaptic(alpha=0.5, beta=0.6, threshold=0.7),
    "zero-no-delay": lambda: snntorch.Synaptic(alpha=0.8, beta=0.7, reset_mechanism="zero", reset_delay=False),
    "alpha-clamped": lambda: snntorch.Synaptic(alpha=1.4, beta=0.8),  # snntorch clamps α to 1 in the forward
}


@pytest.mark.parametrize("name", sorted(SYNAPTIC))
def test_synaptic_equals_snntorch(name):
    """snntorch's Synaptic, run by snntorch: the IR's spikes, its current i (= snntorch's syn) and its
    potential (the relation Leaky's has; zero without delay: snntorch's membrane is already reset)."""
    torch.manual_seed(3)
    synaptic = SYNAPTIC[name]()
    x_seq = torch.randn(STEPS, 16, 12) * 0.5 + 0.2
    syn, mem = synaptic.reset_mem()
    spikes, currents, membranes = [], [], []
    with torch.no_grad():
        for x in x_seq:
            spk, syn, mem = synaptic(x, syn, mem)
            spikes.append(spk), currents.append(syn), membranes.append(mem)
    out, cur, mem = (torch.stack(a).numpy() for a in (spikes, currents, membranes))

    synaptic.init_hidden = True
    graph = import_torch(nn.Sequential(synaptic), (12,), steps=STEPS, readout="steps")
    trace = FloatSim().run(
        graph, {"input": x_seq.double().numpy().transpose(1, 0, 2)}, record=Record(spikes=True, v=True, u=True)
    )
    fired = trace.spikes["0"].transpose(1, 0, 2)
    assert 0.05 < fired.mean() < 0.95, f"the input must make the layer fire and not fire ({fired.mean()})"
    np.testing.assert_array_equal(fired, out != 0)
    np.testing.assert_allclose(trace.outputs["output"].transpose(1, 0, 2), out, rtol=1e-6)
    np.testing.assert_allclose(trace.u["0"].transpose(1, 0, 2), cur, atol=1e-5)
    beta, theta = float(synaptic.beta.clamp(0, 1)), float(synaptic.threshold)
    expected_v = mem if "zero" in name else mem + theta * (1 / beta - 1) - theta / beta * fired
    np.testing.assert_allclose(trace.v["0"].transpose(1, 0, 2), expected_v, atol=1e-5)


class SynapticLoop(nn.Module):
    """snntorch's tutorial 3 form: spk, syn, mem = lif(cur, syn, mem) in a loop, spike count returned."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1 = nn.Linear(10, 16)
        self.lif1 = snntorch.Synaptic(alpha=0.6, beta=0.8)
        self.fc2 = nn.Linear(16, 5)
        self.lif2 = snntorch.Synaptic(alpha=0.5, beta=0.9, reset_mechanism="zero", reset_delay=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        syn1, mem1 = self.lif1.init_synaptic()
        syn2, mem2 = self.lif2.reset_mem()
        spk2_rec = []
        for _ in range(NUM_STEPS):
            spk1, syn1, mem1 = self.lif1(self.fc1(x), syn1, mem1)
            spk2, syn2, mem2 = self.lif2(self.fc2(spk1), syn2, mem2)
            spk2_rec.append(spk2)
        return torch.stack(spk2_rec, dim=0).sum(0)


def test_synaptic_time_loop_with_explicit_states():
    model = scaled(SynapticLoop())
    x = torch.rand(32, 10)
    with torch.no_grad():
        expected = model(x)
    graph = import_torch(model, (10,))
    assert graph.meta.steps == NUM_STEPS and graph["lif1"].alpha == pytest.approx(0.6)
    trace = FloatSim().run(graph, {"input": x.double().numpy()}, record=Record(spikes=True))
    assert 0.05 < trace.spikes["lif1"].mean() < 0.95 and 0.05 < trace.spikes["lif2"].mean() < 0.95
    np.testing.assert_array_equal(trace.outputs["output"], expected.numpy())


NUM_STEPS = 6


class TutorialNet(nn.Module):
    """snntorch's tutorial network: Leaky layers called with explicit membranes in a time loop."""

    def __init__(self, output: str = "stack", hoisted: bool = False) -> None:
        super().__init__()
        self.output, self.hoisted = output, hoisted
        self.fc1 = nn.Linear(10, 16)
        self.lif1 = snntorch.Leaky(beta=0.8)
        self.fc2 = nn.Linear(16, 5)
        self.lif2 = snntorch.Leaky(beta=0.9, reset_mechanism="zero", threshold=0.8)

    def forward(self, x: torch.Tensor):
        mem1 = self.lif1.init_leaky()
        mem2 = self.lif2.init_leaky()
        spk2_rec, mem2_rec = [], []
        cur = self.fc1(x) if self.hoisted else None  # the same input at every step: computed once
        for _ in range(NUM_STEPS):
            spk1, mem1 = self.lif1(cur if self.hoisted else self.fc1(x), mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            spk2_rec.append(spk2)
            mem2_rec.append(mem2)
        if self.output == "sum":
            return torch.stack(spk2_rec).sum(0)
        return torch.stack(spk2_rec, dim=0), torch.stack(mem2_rec, dim=0)


def scaled(model: nn.Module) -> nn.Module:
    torch.manual_seed(0)
    for m in model.modules():
        if isinstance(m, nn.Linear):
            nn.init.uniform_(m.weight, -1.2, 1.2)
            nn.init.uniform_(m.bias, -0.2, 0.4)
    return model.eval()


@pytest.mark.parametrize(("output", "hoisted"), [("stack", False), ("stack", True), ("sum", False)])
def test_time_loop_with_explicit_membranes(output, hoisted):
    model = scaled(TutorialNet(output, hoisted))
    x = torch.rand(32, 10)
    with torch.no_grad():
        result = model(x)
    graph = import_torch(model, (10,))
    assert graph.meta.steps == NUM_STEPS
    assert [n for n, _ in graph.nodes] == ["input", "fc1", "lif1", "fc2", "lif2", "output"]
    trace = FloatSim().run(graph, {"input": x.double().numpy()}, record=Record(spikes=True))
    assert 0.05 < trace.spikes["lif1"].mean() < 0.95 and 0.05 < trace.spikes["lif2"].mean() < 0.95
    if output == "sum":
        np.testing.assert_array_equal(trace.outputs["output"], result.numpy())
    else:
        np.testing.assert_array_equal(trace.outputs["output"], result[0].numpy().transpose(1, 0, 2))


class BadLoop(nn.Module):
    def __init__(self, fault: str) -> None:
        super().__init__()
        self.fault = fault
        self.fc = nn.Linear(4, 3)
        self.lif = snntorch.Leaky(beta=0.9)

    def forward(self, x: torch.Tensor):
        mem = self.lif.init_leaky()
        first = mem
        spikes, membranes = [], []
        for step in range(3):
            inp = x[:, step] if self.fault == "indexed-input" else x
            spk, new_mem = self.lif(self.fc(inp), first if self.fault == "no-state" else mem)
            mem = new_mem
            spikes.append(spk)
            membranes.append(mem)
        return torch.stack(membranes) if self.fault == "membranes" else torch.stack(spikes)


@pytest.mark.parametrize(
    ("fault", "code", "words"),
    [
        ("no-state", "IMT004", "not the one the layer returned at step 1"),
        ("indexed-input", "IMT004", "same input"),
        ("membranes", "IMT007", "membrane record"),
    ],
)
def test_time_loops_snncc_cannot_fold(fault, code, words):
    with pytest.raises(ImportFailed) as err:
        import_torch(BadLoop(fault), (4,))
    assert err.value.code == code and words in err.value.render()


def test_sequential_with_init_hidden_and_output_layer():
    body = scaled(
        nn.Sequential(
            nn.Linear(10, 16),
            snntorch.Leaky(beta=0.9, init_hidden=True, reset_mechanism="zero"),
            nn.Linear(16, 5),
            snntorch.Leaky(beta=0.9, init_hidden=True, output=True, reset_mechanism="zero"),
        )
    )
    x = torch.rand(20, 10)
    with torch.no_grad():
        expected = torch.stack([body(x)[0] for _ in range(5)]).sum(0)
    graph = import_torch(body, (10,), steps=5, readout="sum")
    np.testing.assert_array_equal(FloatSim().run(graph, {"input": x.double().numpy()}).outputs["output"], expected)
    assert expected.sum() > 0


# --- RLeaky: the layer's own spikes of the previous step come back through its recurrent weights ----

RLEAKY = {
    "zero-no-delay": lambda: snntorch.RLeaky(beta=0.8, linear_features=5, reset_mechanism="zero", reset_delay=False),
    "subtract": lambda: snntorch.RLeaky(beta=0.85, threshold=0.9, linear_features=5),
    "subtract-beta-1": lambda: snntorch.RLeaky(beta=1.0, linear_features=5),
    "one-to-one": lambda: snntorch.RLeaky(beta=0.7, all_to_all=False, V=torch.tensor([0.9, -1.2, 0.5, -0.3, 1.1])),
}


def _recording(net: nn.Sequential, x: torch.Tensor, steps: int) -> dict[str, np.ndarray]:
    """snntorch's own spikes of layers 1 and 3 at every step, (batch, steps, n), the input x at every step."""
    snntorch.utils.reset(net)
    record = {"1": [], "3": []}
    hooks = [net[int(k)].register_forward_hook(lambda m, a, out, k=k: record[k].append(out)) for k in record]
    with torch.no_grad():
        for _ in range(steps):
            net(x)
    for h in hooks:
        h.remove()
    return {k: torch.stack(v, dim=1).numpy() for k, v in record.items()}


@pytest.mark.parametrize("name", sorted(RLEAKY))
def test_rleaky_equals_snntorch(name):
    torch.manual_seed(4)
    rleaky = RLEAKY[name]()
    rleaky.init_hidden = True
    net = nn.Sequential(nn.Linear(6, 5), rleaky, nn.Linear(5, 3), snntorch.Leaky(beta=0.7, init_hidden=True))
    with torch.no_grad():
        if isinstance(rleaky.recurrent, nn.Linear):  # mixed signs, larger than the default init
            rleaky.recurrent.weight.normal_(0.0, 0.9)
            rleaky.recurrent.bias.normal_(0.0, 0.2)
    x = torch.rand(24, 6) * 1.6
    ours = import_torch(net, (6,), steps=STEPS, readout="sum")
    assert ours.recurrent_layers() == ("1",) and ours.predecessors("1") == ("0", "1.recurrent")
    trace = FloatSim().run(ours, {"input": x.double().numpy()}, record=Record(spikes=True))
    theirs = _recording(net, x, STEPS)
    assert 0.05 < theirs["1"].mean() < 0.9
    for layer in ("1", "3"):
        np.testing.assert_array_equal(trace.spikes[layer], theirs[layer] != 0)
    # the recurrent weights matter: the same network without them fires differently
    with torch.no_grad():
        for p in rleaky.recurrent.parameters():  # nn.Linear's weight and bias, or V
            p.zero_()
    assert (_recording(net, x, STEPS)["1"] != theirs["1"]).any()


class RecurrentLoop(nn.Module):
    """snntorch's RLeaky docstring pattern: explicit spike and membrane states in a time loop."""

    def __init__(self) -> None:
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(6, 5), nn.Linear(5, 3)
        self.lif1 = snntorch.RLeaky(beta=0.8, linear_features=5, reset_mechanism="zero", reset_delay=False)
        self.lif2 = snntorch.Leaky(beta=0.7, reset_mechanism="zero")

    def forward(self, x):
        spk1, mem1 = self.lif1.init_rleaky()
        mem2 = self.lif2.init_leaky()
        record = []
        for _ in range(NUM_STEPS):
            spk1, mem1 = self.lif1(self.fc1(x), spk1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            record.append(spk2)
        return torch.stack(record)


def test_rleaky_time_loop_equals_snntorch():
    torch.manual_seed(5)
    net = RecurrentLoop()
    with torch.no_grad():
        net.lif1.recurrent.weight.normal_(0.0, 0.9)
    x = torch.rand(40, 6) * 3
    with torch.no_grad():
        theirs = net(x).numpy().transpose(1, 0, 2)
    graph = import_torch(net, (6,))
    assert graph.meta.steps == NUM_STEPS and graph.recurrent_layers() == ("lif1",)
    ours = FloatSim().run(graph, {"input": x.double().numpy()}).outputs["output"]
    assert theirs.mean() > 0.05
    np.testing.assert_array_equal(ours, theirs)


def test_rleaky_settings_without_a_lif_form_are_named():
    body = nn.Sequential(
        nn.Linear(4, 5),
        snntorch.RLeaky(beta=0.9, linear_features=5, reset_mechanism="zero", init_hidden=True),  # reset_delay=True
        nn.Linear(5, 5),
        snntorch.RLeaky(beta=0.9, linear_features=5, reset_mechanism="none", init_hidden=True),
    )
    with pytest.raises(ImportFailed) as err:
        import_torch(body, (4,), steps=4, readout="sum")
    found = {d.node: d for d in err.value.diagnostics}
    assert set(found) == {"1", "3"} and all(d.code == "IMT003" for d in found.values())
    assert "refractory" in found["1"].message and "reset_delay=False" in found["1"].hint
    assert "reset_mechanism='none'" in found["3"].message
