"""NIR import and export, checked against the NIR paper's platform runs, by-hand Euler steps and
round trips through snncc's own models."""

from __future__ import annotations

import itertools
from pathlib import Path

import nir
import numpy as np
import pytest

from snncc.backends import Record, get_backend
from snncc.compile import CompileOptions, preflight
from snncc.data import Dataset
from snncc.errors import ImportFailed, ModelLoadError, OutputError
from snncc.exporters.nir import caveats, write_nir
from snncc.importers.nir import import_nir, read_nir
from snncc.importers.torch import import_torch, load_torch_model
from snncc.ir import LIF, IntLIF
from snncc.passes.quantize import quantize_inputs

REPO = Path(__file__).resolve().parents[2]
DT = 1e-4  # the NIR paper's one-neuron experiment (its data README)
STEPS = 1000  # rows of every lif_<platform>.csv
SPIKES_AND_V = Record(spikes=True, v=True)


@pytest.fixture
def paper(shared_data) -> Path:
    folder = shared_data / "nir" / "01_lif"
    if not folder.is_dir():
        pytest.skip(f"the NIR paper's data {folder} is absent")
    return folder


def _trace(paper: Path, platform: str) -> np.ndarray:
    """Rows are steps; columns (read from the data): input spike (0/1), membrane potential, output spike."""
    return np.loadtxt(paper / f"lif_{platform}.csv", delimiter=",")


def _norse_neuron(paper: Path):
    """lif_norse.nir (Affine w = 1 -> LIF tau 2.5 ms, threshold 0.1) driven by the paper's input spikes."""
    graph = import_nir(read_nir(paper / "lif_norse.nir"), dt=DT, steps=STEPS, readout="steps")
    x = _trace(paper, "norse")[:, 0].reshape(1, STEPS, 1)
    assert x.sum() > 10 and np.array_equal(x.ravel(), _trace(paper, "exact")[:, 0])  # one input for all
    return graph, x


def test_norse_lif_runs_as_norse_and_the_exact_solution_ran_it(paper):
    graph, x = _norse_neuron(paper)
    assert graph.meta.dt == DT and graph.meta.discretization == "euler"
    run = get_backend("floatsim").run(graph, {"input": x}, record=SPIKES_AND_V)
    (layer,) = run.spikes
    spikes, v = run.spikes[layer][0, :, 0], run.v[layer][0, :, 0]
    norse, exact = _trace(paper, "norse"), _trace(paper, "exact")
    assert spikes.sum() == 4
    np.testing.assert_array_equal(spikes, norse[:, 2])
    np.testing.assert_array_equal(spikes, exact[:, 2])
    # norse steps the same Euler equations in float32: rounding of 0.1-scale values (ulp 7.5e-9),
    # damped by the decay 0.96 each step, accumulates to at most 25 ulp ~ 2e-7
    np.testing.assert_allclose(v, norse[:, 1], rtol=0, atol=2e-7)
    # forward Euler is first order: before the first output spike its error is O(dt/tau) of the
    # voltage scale, dt/tau * threshold = 0.04 * 0.1; after each spike the exact solution has reset
    # at the crossing instant within the step, so v may differ by up to one input jump (dt/tau * w)
    first = np.flatnonzero(spikes)[0]
    assert np.abs(v[:first] - exact[:first, 1]).max() < 0.04 * 0.1
    assert np.abs(v - exact[:, 1]).max() < 0.04


def test_deployed_neuron_spikes_when_loihi_hardware_did(paper):
    """The integer network on refsim (aligned time) against the paper's Lava runs, fixed point on a CPU
    and on a Loihi chip, which report each spike one step later: one connection's latency (SPEC §1.1)."""
    graph, x = _norse_neuron(paper)
    deployment = preflight(
        paper / "lif_norse.nir", CompileOptions(target="loihi"), imported=(Dataset(paper, x, None), graph)
    )
    ints = deployment.int_graph
    run = get_backend("refsim").run(ints, quantize_inputs(ints, {"input": x}), record=SPIKES_AND_V)
    ((layer, op),) = ints.of_type(IntLIF)
    ours = np.flatnonzero(run.spikes[layer][0, :, 0])
    assert len(ours) == 4
    for platform in ("lava_loihi_fixed", "lava_cpu_fixed"):
        np.testing.assert_array_equal(ours + 1, np.flatnonzero(_trace(paper, platform)[:, 2]), err_msg=platform)
    # v in float units tracks norse: the 12-bit decay 1 - 164/4096 misses 0.96 by 3.9e-5 per step
    # on |v| <= 0.1, an error the decay damps to at most 0.1 * 3.9e-5 / 0.04 ~ 1e-4
    v = run.v[layer][0, :, 0] * op.scale
    assert np.abs(v - _trace(paper, "norse")[:, 1]).max() < 1e-4


def test_two_neuron_chain_follows_forward_euler(paper):
    graph = import_nir(read_nir(paper / "two_lif_neurons.nir"), dt=DT, steps=400, readout="sum")
    run = get_backend("floatsim").run(graph, {"in": np.zeros((1, 1))}, record=SPIKES_AND_V)
    # by hand: lif1 leaks towards v_leak 1.2 from 0 (tau 10 ms) and fires above 1; lif2 never reaches 20
    v, expected = 0.0, []
    for _ in range(400):
        v += DT / 0.01 * (1.2 - v)
        expected.append(v > 1.0)
        v = 0.0 if v > 1.0 else v
    np.testing.assert_array_equal(run.spikes["lif1"][0, :, 0].astype(bool), expected)
    assert sum(expected) >= 2 and not run.spikes["lif2"].any()


def test_a_file_nir_cannot_read_gets_a_clear_error(paper):
    with pytest.raises(ModelLoadError) as err:
        read_nir(paper / "lif_rockpool.nir")  # rockpool's re-export does not load in nir 1.0.8
    assert err.value.code == "LOD210" and "nir 1.0" in err.value.render()


def _lif_graph(n: int = 2, **neuron) -> nir.NIRGraph:
    fields = {"tau": np.full(n, 0.01), "r": np.ones(n), "v_leak": np.zeros(n), "v_threshold": np.ones(n)} | neuron
    nodes = {
        "in": nir.Input({"input": np.array([n])}),
        "w": nir.Linear(np.eye(n)),
        "lif": nir.LIF(**fields),
        "out": nir.Output({"output": np.array([n])}),
    }
    return nir.NIRGraph(nodes=nodes, edges=[("in", "w"), ("w", "lif"), ("lif", "out")], type_check=False)


def _run_one(graph: nir.NIRGraph, x: np.ndarray, steps: int, **kw) -> dict:
    g = import_nir(graph, dt=DT, steps=steps, readout="sum", **kw)
    return get_backend("floatsim").run(g, {"in": x}, record=SPIKES_AND_V)


def test_every_neuron_node_follows_its_euler_equations_by_hand():
    """One neuron of each kind, constant input 0.3 for 30 steps, against the Euler updates written out."""
    tau, tau_syn, r, w_in, leak, th, reset, r_if = 2e-3, 1e-3, 2.0, 1.5, 0.05, 0.25, -0.1, 1000.0
    nodes = {
        "LIF": nir.LIF(tau=np.array([tau]), r=np.array([r]), v_leak=np.array([leak]), v_threshold=np.array([th]),
                       v_reset=np.array([reset])),
        "CubaLIF": nir.CubaLIF(tau_syn=np.array([tau_syn]), tau_mem=np.array([tau]), r=np.array([r]),
                               v_leak=np.array([leak]), v_threshold=np.array([th]), v_reset=np.array([reset]),
                               w_in=np.array([w_in])),
        "LI": nir.LI(tau=np.array([tau]), r=np.array([r]), v_leak=np.array([leak])),
        "CubaLI": nir.CubaLI(tau_syn=np.array([tau_syn]), tau_mem=np.array([tau]), r=np.array([r]),
                             v_leak=np.array([leak]), w_in=np.array([w_in])),
        "IF": nir.IF(r=np.array([r_if]), v_threshold=np.array([th]), v_reset=np.array([reset])),
        "I": nir.I(r=np.array([r_if])),
        "Threshold": nir.Threshold(threshold=np.array([0.2])),
    }  # fmt: skip
    x, steps = 0.3, 30
    for kind, node in nodes.items():
        graph = nir.NIRGraph(
            nodes={"in": nir.Input({"input": np.array([1])}), "n": node, "out": nir.Output({"output": np.array([1])})},
            edges=[("in", "n"), ("n", "out")],
            type_check=False,
        )
        run = _run_one(graph, np.full((1, 1), x), steps)
        i = v = 0.0
        want_v, want_s = [], []
        for _ in range(steps):
            if kind.startswith("Cuba"):
                i += DT / tau_syn * (-i + w_in * x)
            else:
                i = x
            if kind in ("IF", "I"):
                v += DT * r_if * x
            elif kind == "Threshold":
                v = x
            else:
                v += DT / tau * (leak - v + r * i)
            fired = kind not in ("LI", "CubaLI", "I") and v > (0.2 if kind == "Threshold" else th)
            want_s.append(fired)
            v = reset if fired else v
            want_v.append(v)
        if kind != "Threshold":  # stateless: its v is never read
            np.testing.assert_allclose(run.v["n"][0, :, 0], want_v, rtol=1e-12, atol=1e-12, err_msg=kind)
        np.testing.assert_array_equal(run.spikes["n"][0, :, 0].astype(bool), want_s, err_msg=kind)
        assert kind in ("LI", "CubaLI", "I", "Threshold") or 0 < sum(want_s) < steps, kind


def test_nir_spikes_only_above_the_threshold():
    """Threshold and IF reaching v = threshold exactly (dt r = 1): NIR's z = H(v - threshold) is strict."""
    for node, x, want in [
        (nir.Threshold(threshold=np.full(2, 0.25)), [0.25, np.nextafter(0.25, 1)], [[0, 1]] * 3),
        (nir.IF(r=np.full(2, 1e4), v_threshold=np.full(2, 0.5)), [0.25, 0.3], [[0, 0], [0, 1], [1, 0]]),
    ]:
        graph = nir.NIRGraph(
            nodes={"in": nir.Input({"input": np.array([2])}), "n": node, "out": nir.Output({"output": np.array([2])})},
            edges=[("in", "n"), ("n", "out")],
            type_check=False,
        )
        run = _run_one(graph, np.array([x]), 3)
        np.testing.assert_array_equal(run.spikes["n"][0], want, err_msg=type(node).__name__)


def test_per_neuron_leak_is_kept_and_per_neuron_tau_refused():
    run = _run_one(_lif_graph(v_leak=np.array([0.0, 2.0])), np.zeros((1, 2)), 200)
    spikes = run.spikes["lif"][0].sum(axis=0)
    assert spikes[0] == 0 and spikes[1] > 0  # only the neuron leaking towards 2 (above 1) fires
    with pytest.raises(ImportFailed) as err:
        import_nir(_lif_graph(tau=np.array([0.01, 0.02])), dt=DT, steps=4, readout="sum")
    assert err.value.diagnostics[0].node == "lif" and "tau differs between neurons" in err.value.render()


def test_conv_pool_flatten_graph_computes_what_torch_computes():
    import torch

    torch.manual_seed(0)
    conv, pool = torch.nn.Conv2d(1, 3, 3, padding=1), torch.nn.AvgPool2d(2)
    dense = torch.nn.Linear(48, 4)
    nodes = {
        "in": nir.Input({"input": np.array([1, 8, 8])}),
        "conv": nir.Conv2d(input_shape=(8, 8), weight=conv.weight.detach().numpy(), stride=1, padding=1, dilation=1,
                           groups=1, bias=conv.bias.detach().numpy()),
        "pool": nir.AvgPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "sum": nir.SumPool2d(kernel_size=np.array([1, 1]), stride=np.array([1, 1]), padding=np.array([0, 0])),
        "flat": nir.Flatten({"input": np.array([3, 4, 4])}, start_dim=0),
        "scale": nir.Scale(np.linspace(0.5, 1.5, 48)),
        "fc": nir.Affine(dense.weight.detach().numpy(), dense.bias.detach().numpy()),
        "li": nir.I(r=np.ones(4) / DT),
        "out": nir.Output({"output": np.array([4])}),
    }  # fmt: skip
    order = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(order)), type_check=False)
    x = np.random.default_rng(0).random((5, 1, 8, 8))
    g = import_nir(graph, dt=DT, steps=1, readout="last")
    got = get_backend("floatsim").run(g, {"in": x}).outputs
    with torch.no_grad():
        scaled = pool(conv(torch.tensor(x, dtype=torch.float32))).flatten(1) * torch.linspace(0.5, 1.5, 48)
        want = dense(scaled).numpy()
    np.testing.assert_allclose(next(iter(got.values())), want, atol=1e-5)


# --- export ---------------------------------------------------------------------------------------

EXAMPLES = ["digits/model.pt", *(f"neurons/{p.stem}.pt" for p in sorted((REPO / "examples/neurons").glob("*.pt")))]


@pytest.mark.parametrize("model", [m for m in EXAMPLES if not m.endswith("clif.pt")])
def test_export_then_import_computes_the_same(model, tmp_path):
    x = np.load(REPO / "examples/digits/test_data.npz")["x"][:100]
    graph = import_torch(load_torch_model(REPO / "examples" / model), x.shape[1:])
    written = write_nir(graph, tmp_path / "m.nir", warn=lambda _: None)
    back = import_nir(read_nir(written), dt=None, steps=None, readout=None)  # dt, steps, readout from the file
    assert back.meta.dt == 1e-4 and back.meta.steps == graph.meta.steps
    floatsim = get_backend("floatsim")
    a, b = floatsim.run(graph, {"input": x}), floatsim.run(back, {"input": x})
    assert a.outputs.keys() == b.outputs.keys()
    for name, values in a.outputs.items():
        np.testing.assert_array_equal(values, b.outputs[name])
    # another NIR tool sees plain LIF nodes whose Euler steps at the recorded dt give the same decay
    lifs = [n for n, op in graph if isinstance(op, LIF)]
    stored = nir.read(str(written))
    for name in lifs:
        node = stored.nodes[name]
        tau = getattr(node, "tau", getattr(node, "tau_mem", None))
        if tau is not None:
            np.testing.assert_allclose(1 - 1e-4 / np.asarray(tau), graph[name].beta, rtol=1e-12)


def test_export_states_what_other_nir_tools_miss(tmp_path):
    x = np.load(REPO / "examples/digits/test_data.npz")["x"][:1]
    graph = import_torch(load_torch_model(REPO / "examples/neurons/lif-soft.pt"), x.shape[1:])
    said: list[str] = []
    write_nir(graph, tmp_path / "m.nir", warn=said.append)
    assert said == [f"{c}; other NIR tools ignore it" for c in caveats(graph)]
    soft = [n for n, op in graph if isinstance(op, LIF) and op.spiking and op.reset == "subtract"]
    assert soft and all(any(f"'{n}'" in s and "soft reset" in s for s in said) for n in soft)


def test_export_refuses_clif_naming_every_layer(tmp_path):
    x = np.load(REPO / "examples/digits/test_data.npz")["x"][:1]
    graph = import_torch(load_torch_model(REPO / "examples/neurons/clif.pt"), x.shape[1:])
    with pytest.raises(OutputError) as err:
        write_nir(graph, tmp_path / "m.nir")
    clif = {n for n, op in graph if type(op).__name__ == "CLIF"}
    assert {d.node for d in err.value.diagnostics} == clif and "complementary" in err.value.render()
    assert not (tmp_path / "m.nir").exists()


# --- bad graphs ---------------------------------------------------------------------------------


def test_missing_run_settings_are_named():
    with pytest.raises(ImportFailed) as err:
        import_nir(_lif_graph(), dt=None, steps=None, readout=None)
    assert all(flag in err.value.render() for flag in ("--dt", "--steps", "--readout"))
    with pytest.raises(ImportFailed, match="overshoot"):
        import_nir(_lif_graph(), dt=0.1, steps=4, readout="sum")  # dt > tau = 10 ms


def _recurrent_cuba_graph(n_in: int, n: int, w: np.ndarray, w_rec: np.ndarray, rec_bias=None) -> nir.NIRGraph:
    """The braille graph's form: in -> fc -> lif.lif (CubaLIF) <-> lif.w_rec, lif.lif -> out."""
    cuba = nir.CubaLIF(tau_syn=np.full(n, 2e-4), tau_mem=np.full(n, 5e-4), r=np.full(n, 2.0), v_leak=np.zeros(n),
                       v_threshold=np.ones(n), v_reset=np.zeros(n), w_in=np.full(n, 1.5))  # fmt: skip
    rec = nir.Linear(w_rec) if rec_bias is None else nir.Affine(w_rec, rec_bias)
    nodes = {"in": nir.Input({"input": np.array([n_in])}), "fc": nir.Linear(w), "lif.lif": cuba, "lif.w_rec": rec,
             "out": nir.Output({"output": np.array([n])})}  # fmt: skip
    edges = [("lif.w_rec", "lif.lif"), ("in", "fc"), ("fc", "lif.lif"), ("lif.lif", "lif.w_rec"), ("lif.lif", "out")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def test_recurrent_cubalif_steps_euler_on_the_previous_steps_spikes():
    """The NIR paper's recurrent layer by hand: the recurrent Affine (bias included, also at the first
    step) reads the spikes of the step before, zero at the start of each sample."""
    rng = np.random.default_rng(3)
    n_in, n, steps = 3, 4, 40
    w, w_rec, b_rec = rng.normal(0, 1.5, (n, n_in)), rng.normal(0, 1.0, (n, n)), rng.normal(0, 0.2, n)
    x = (rng.random((2, steps, n_in)) < 0.4).astype(np.float64)
    run = _run_one(_recurrent_cuba_graph(n_in, n, w, w_rec, b_rec), x, steps)
    k_syn, k = DT / 2e-4, DT / 5e-4
    for sample in range(2):
        i, v, s, spikes = np.zeros(n), np.zeros(n), np.zeros(n), []
        for t in range(steps):
            i = i + k_syn * (-i + 1.5 * (w @ x[sample, t] + w_rec @ s + b_rec))
            v = v + k * (0.0 - v + 2.0 * i)
            s = (v > 1.0).astype(np.float64)
            v = np.where(s > 0, 0.0, v)
            spikes.append(s)
        np.testing.assert_array_equal(run.spikes["lif.lif"][sample], np.array(spikes))
    assert 0 < run.spikes["lif.lif"].mean() < 0.9


def test_a_loop_through_two_layers_is_refused_naming_them():
    g = _lif_graph()
    nodes = {**g.nodes, "fc2": nir.Linear(np.eye(2)), "lif2": g.nodes["lif"], "back": nir.Linear(np.eye(2))}
    edges = [("in", "w"), ("w", "lif"), ("lif", "fc2"), ("fc2", "lif2"), ("lif2", "back"), ("back", "lif"),
             ("lif2", "out")]  # fmt: skip
    with pytest.raises(ImportFailed) as err:
        import_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT, steps=4, readout="sum")
    assert err.value.code == "IMT212"
    assert "several neuron layers (lif, lif2): lif -> fc2 -> lif2 -> back -> lif" in err.value.render()


def test_every_unsupported_node_is_reported_at_once():
    g = _lif_graph(tau=np.array([0.01, 0.02]))
    nodes = {
        **g.nodes,
        "delay": nir.Delay(np.full(2, DT / 2)),  # half a step
        "sub": nir.NIRGraph(
            nodes={
                "i": nir.Input({"input": np.array([2])}),
                "l": nir.Linear(np.eye(2)),
                "o": nir.Output({"output": np.array([2])}),
            },
            edges=[("i", "l"), ("l", "o")],
            type_check=False,
        ),
    }
    edges = [("in", "delay"), ("delay", "sub"), ("sub", "w"), ("w", "lif"), ("lif", "out")]
    with pytest.raises(ImportFailed) as err:
        import_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT, steps=4, readout="sum")
    found = {(d.node, d.code) for d in err.value.diagnostics}
    assert found == {("delay", "IMT211"), ("sub", "IMT210"), ("lif", "IMT211")}  # per-neuron tau


def test_branches_meet_in_a_neuron_and_a_skip_from_the_input_is_refused():
    n = 2
    lif = _lif_graph().nodes["lif"]
    base = {"in": nir.Input({"input": np.array([n])}), "a": nir.Linear(np.eye(n)), "b": nir.Linear(2 * np.eye(n)),
            "lif": lif, "out": nir.Output({"output": np.array([n])})}  # fmt: skip
    fork = [("in", "a"), ("in", "b"), ("a", "lif"), ("b", "lif"), ("lif", "out")]
    run = _run_one(nir.NIRGraph(nodes=base, edges=fork, type_check=False), np.full((1, 2), 100.0), 3)
    v = 0.0  # the neuron sums both branches: x + 2x = 300 per step, scaled by dt/tau r = 0.01
    want = []
    for _ in range(3):
        v += 0.01 * (-v + 300.0)
        want.append(v > 1.0)
        v = 0.0 if v > 1.0 else v
    np.testing.assert_array_equal(run.spikes["lif"][0, :, 0].astype(bool), want)
    # a skip straight from the Input past a neuron layer: the float model runs it (aligned time), but
    # the analog input cannot be delayed on a chip, so compiling it is refused, naming the layer
    residual = {**base, "lif0": lif, "c": nir.Linear(np.eye(n))}
    edges = [("in", "a"), ("a", "lif0"), ("lif0", "c"), ("c", "lif"), ("in", "b"), ("b", "lif"), ("lif", "out")]
    graph = import_nir(nir.NIRGraph(nodes=residual, edges=edges, type_check=False), dt=DT, steps=3, readout="sum")
    data = Dataset(Path("x.npz"), np.full((2, 2), 100.0), None)
    with pytest.raises(ImportFailed) as info:
        preflight("skip.nir", CompileOptions(target="loihi2"), imported=(data, graph))
    (d,) = info.value.diagnostics
    assert (d.code, d.node, d.source) == ("IMT014", "lif", "skip.nir") and "'in'" in d.message
