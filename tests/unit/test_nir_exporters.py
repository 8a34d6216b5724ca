"""NIR files written by other tools compute what those tools compute: norse 1.1.0's to_nir (read with
--nir-from norse), sinabs 3.1.3's to_nir (at dt = 1 step), each checked against the tool itself;
Conv1d against torch's conv1d."""

from __future__ import annotations

from pathlib import Path

import nir
import norse.torch as norse
import numpy as np
import pytest
import sinabs.layers as sl
import torch
from sinabs.activation import MembraneReset, SingleSpike
from sinabs.nir import to_nir as sinabs_to_nir
from torch import nn

from snncc.backends import Record, get_backend
from snncc.errors import ImportFailed
from snncc.importers.nir import import_nir, read_nir

NORSE_DT = 1e-3  # norse's default time step, of its cells and of its to_nir
STEPS = 40
SPIKES_AND_V = Record(spikes=True, v=True)


def _full(n: int, value: float) -> torch.Tensor:
    return torch.full((n,), float(value))  # norse's scalar defaults cannot be written by nir.write


NORSE_CELLS = {  # cell -> the NIR node norse 1.1.0's to_nir writes for it
    "LIFBoxCell": (lambda n: norse.LIFBoxCell(norse.LIFBoxParameters(
        tau_mem_inv=_full(n, 150), v_th=_full(n, 0.5), v_leak=_full(n, 0.1), v_reset=_full(n, 0))), "LIF"),
    "LIFCell": (lambda n: norse.LIFCell(norse.LIFParameters(
        tau_mem_inv=_full(n, 100), tau_syn_inv=_full(n, 250), v_th=_full(n, 0.5), v_leak=_full(n, 0),
        v_reset=_full(n, 0))), "CubaLIF"),
    "IAFCell": (lambda n: norse.IAFCell(norse.IAFParameters(v_th=_full(n, 0.5), v_reset=_full(n, 0))), "IF"),
    "LIBoxCell": (lambda n: norse.LIBoxCell(norse.LIBoxParameters(tau_mem_inv=_full(n, 80), v_leak=_full(n, 0))),
                  "LI"),
}  # fmt: skip


def _norse_run(net: norse.SequentialState, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """norse's own outputs and potentials of the cell at every step, the way norse users step a model."""
    outs, vs = [], []
    state = None
    with torch.no_grad():
        for t in range(x.shape[1]):
            out, state = net(x[:, t], state)
            outs.append(out.numpy())
            vs.append(state[1].v.numpy())
    return np.stack(outs, 1), np.stack(vs, 1)


def _norse_file(tmp_path: Path, cell: str, n: int = 5) -> tuple[Path, norse.SequentialState]:
    torch.manual_seed(0)
    net = norse.SequentialState(nn.Linear(3, n, bias=False), NORSE_CELLS[cell][0](n))
    path = tmp_path / f"{cell}.nir"
    nir.write(str(path), norse.to_nir(net, torch.zeros(3)))  # one unbatched sample: see the README
    return path, net


@pytest.mark.parametrize("cell", list(NORSE_CELLS))
def test_norse_cells_run_as_norse_runs_them(cell, tmp_path):
    path, net = _norse_file(tmp_path, cell)
    file = read_nir(path)
    assert type(file.nodes["1"]).__name__ == NORSE_CELLS[cell][1]
    x = torch.rand(2, STEPS, 3) * 6
    want_out, want_v = _norse_run(net, x)
    graph = import_nir(file, dt=NORSE_DT, steps=STEPS, readout="sum", exporter="norse")
    run = get_backend("floatsim").run(graph, {"input": x.double().numpy()}, record=SPIKES_AND_V)
    # norse steps in float32, snncc in float64: the potentials agree to float32 rounding, a few ulp
    # (6e-8 relative) per step over 40 steps
    np.testing.assert_allclose(run.v["1"], want_v, rtol=4e-6, atol=4e-6)
    if cell != "LIBoxCell":
        np.testing.assert_array_equal(run.spikes["1"], want_out)
        assert 0 < want_out.sum() < want_out.size / 2  # the neurons fire, and not at every step


def test_norse_files_read_as_plain_nir_are_wrong_or_refused(tmp_path):
    """Without --nir-from norse: tau is dt·tau (norse issue #411), so dt = norse's is refused with the
    way out; at dt^2 the decays are right but the current misses norse's jump by dt/tau_syn = 0.25."""
    path, net = _norse_file(tmp_path, "LIFCell")
    with pytest.raises(ImportFailed) as err:
        import_nir(read_nir(path), dt=NORSE_DT, steps=STEPS, readout="sum")
    assert "--nir-from norse" in err.value.render() and "#411" in err.value.render()
    x = torch.rand(2, STEPS, 3) * 6
    _, want_v = _norse_run(net, x)
    graph = import_nir(read_nir(path), dt=NORSE_DT**2, steps=STEPS, readout="sum")
    run = get_backend("floatsim").run(graph, {"input": x.double().numpy()}, record=SPIKES_AND_V)
    assert np.abs(run.v["1"] - want_v).max() > 0.1


# --- sinabs ---------------------------------------------------------------------------------------


def _sinabs_net() -> nn.Sequential:
    """sinabs layers with one spike per step and a hard reset: what NIR's IF node says."""

    def iaf() -> sl.IAFSqueeze:
        return sl.IAFSqueeze(batch_size=1, spike_fn=SingleSpike, reset_fn=MembraneReset())

    torch.manual_seed(1)
    net = nn.Sequential(
        nn.Conv2d(2, 4, 3, stride=2, padding=1, bias=False), iaf(), sl.SumPool2d(2),
        nn.Conv2d(4, 6, 3, padding=1, bias=False), iaf(), nn.Flatten(), nn.Linear(24, 5, bias=False), iaf(),
    )  # fmt: skip
    with torch.no_grad():
        for synapse in (net[0], net[3], net[6]):
            synapse.weight += 0.05  # more excitatory, so that every layer fires
    return net


def test_sinabs_export_runs_as_sinabs_at_one_step_per_dt(tmp_path):
    """A real sinabs export (nir 1.0.8 reads its strides and paddings back as arrays): at dt = 1 each
    IF adds its input per step, spike for spike what sinabs computes; at dt = 1 ms snncc warns."""
    net = _sinabs_net()
    sample = torch.zeros(1, 2, 8, 8)
    net(sample)
    graph = sinabs_to_nir(net, sample)
    graph.infer_types()  # as sinabs' users do before nir.write (the NIR paper's 02_cnn/sinabs.py)
    path = tmp_path / "sinabs.nir"
    nir.write(str(path), graph)
    file = read_nir(path)
    assert isinstance(file.nodes["0"].stride, np.ndarray) and isinstance(file.nodes["0"].padding, np.ndarray)

    rng = np.random.default_rng(0)
    x = (rng.random((3, 12, 2, 8, 8)) < 0.4).astype(np.float64)
    spiking = [i for i, m in enumerate(net) if isinstance(m, sl.IAFSqueeze)]
    want: dict[str, list[np.ndarray]] = {str(i): [] for i in spiking}
    hooks = [net[i].register_forward_hook(lambda m, _, out, i=i: want[str(i)].append(out.numpy())) for i in spiking]
    with torch.no_grad():
        for sample_x in x:  # one sample of T steps at a time: sinabs' (batch 1 x T, ...) layout
            for i in spiking:
                net[i].reset_states()
            net(torch.tensor(sample_x, dtype=torch.float32))
    for h in hooks:
        h.remove()

    warnings = []
    ours = import_nir(file, dt=1.0, steps=12, readout="sum", warn=warnings.append)
    run = get_backend("floatsim").run(ours, {"input": x}, record=SPIKES_AND_V)
    assert not warnings
    for name, op in ours.nodes:  # strides, paddings and pools read as the file's own types say
        assert tuple(op.shape) == tuple(next(iter(file.nodes[name].output_type.values()))), name
    for name, spikes in want.items():
        sinabs_spikes = np.stack(spikes).reshape(run.spikes[name].shape)
        assert 0 < sinabs_spikes.mean() < 0.9, name  # fires, and not at every step
        np.testing.assert_array_equal(run.spikes[name], sinabs_spikes, err_msg=name)

    import_nir(file, dt=1e-3, steps=12, readout="sum", warn=warnings.append)
    (warning,) = warnings
    assert warning.code == "IMT213" and warning.severity == "warning"
    assert "IF nodes '1', '4', '7' have r = 1" in warning.message and "--dt 1" in warning.hint


# --- Conv1d ---------------------------------------------------------------------------------------


def _conv1d_graph(conv: nn.Conv1d, length: int, padding) -> nir.NIRGraph:
    """Input (C, L) -> Conv1d -> integrator with dt·r = 1: one step reads the convolution out."""
    out_len = conv(torch.zeros(1, conv.in_channels, length)).shape[-1]
    nodes = {
        "in": nir.Input({"input": np.array([conv.in_channels, length])}),
        "conv": nir.Conv1d(input_shape=length, weight=conv.weight.detach().numpy(), stride=conv.stride[0],
                           padding=padding, dilation=conv.dilation[0], groups=conv.groups,
                           bias=conv.bias.detach().numpy()),
        "v": nir.I(r=np.full((conv.out_channels, out_len), 1e3)),
        "out": nir.Output({"output": np.array([conv.out_channels, out_len])}),
    }  # fmt: skip
    return nir.NIRGraph(nodes=nodes, edges=[("in", "conv"), ("conv", "v"), ("v", "out")], type_check=False)


@pytest.mark.parametrize(
    "kw, padding",
    [
        ({"stride": 2, "padding": 2}, 2),
        ({"stride": 1, "padding": "same", "dilation": 2, "groups": 3}, "same"),
        ({"stride": 3, "padding": 0, "dilation": 1}, "valid"),
    ],
)
def test_conv1d_computes_what_torch_computes(kw, padding, tmp_path):
    torch.manual_seed(0)
    conv = nn.Conv1d(3, 6, 5, **kw)
    file = _conv1d_graph(conv, 23, padding)
    if conv.groups == 1:  # nir 1.0.8 types a Conv1d input as (weight.shape[1], L): a grouped one does not read back
        nir.write(str(tmp_path / "c.nir"), file)
        file = read_nir(tmp_path / "c.nir")
    graph = import_nir(file, dt=1e-3, steps=1, readout="last")
    x = np.random.default_rng(0).standard_normal((4, 3, 1, 23))  # snncc holds (C, L) as (C, 1, L)
    (got,) = get_backend("floatsim").run(graph, {"in": x}).outputs.values()
    with torch.no_grad():
        want = conv(torch.tensor(x[:, :, 0], dtype=torch.float32)).numpy()
    assert got.shape == (4, 6, 1, want.shape[-1])
    np.testing.assert_allclose(got[:, :, 0], want, atol=1e-5)


def test_conv1d_on_a_vector_is_refused_by_name():
    graph = _conv1d_graph(nn.Conv1d(1, 2, 3), 9, 0)
    graph.nodes["in"] = nir.Input({"input": np.array([9])})
    with pytest.raises(ImportFailed) as err:
        import_nir(graph, dt=1e-3, steps=1, readout="last")
    assert err.value.diagnostics[0].node == "conv" and "Conv1d on a (9,) input" in err.value.render()
