"""lava-dl netx HDF5: `snncc export --netx`, snncc.importers.netx, and lava-dl's golden tiny.net.

Expected values come from outside the code under test: the integer graph snncc compiled
(each file field recomputed from it with netx's documented conventions), lava-dl's golden
arrays for tiny.net (produced by Lava's fixed-point models in lava-dl's own tests), and the
reference simulator running the original graph.
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import h5py
import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.backends import Record, get_backend
from snncc.cli import main
from snncc.errors import ImportFailed, ModelLoadError, OutputError
from snncc.exporters.netx import write_netx
from snncc.importers.netx import read_netx
from snncc.ir import Const, Graph, IntCLIF, IntConv2d, IntDense, IntInput, IntLIF, load
from snncc.passes.quantize import quantize_inputs

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"
ALL = Record(spikes=True, v=True, u=True)


# --- a real model that netx can hold: no biases, compiled with weight exponents fixed to 0 ----------


def _train_bias_free_snn(path: Path, digits_split) -> None:
    """Conv → LIF → flatten → Linear → LIF → Linear readout, no biases, two quick epochs on digits."""
    torch.manual_seed(0)
    body = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=False),
        snn.LIF(tau=2.0, v_reset=0.0),
        nn.Flatten(),
        nn.Linear(256, 32, bias=False),
        snn.LIF(tau=2.0, v_reset=0.0),
        nn.Linear(32, 10, bias=False),
    )
    model = snn.SNN(body, steps=4, readout="mean")
    x, y, _, _ = digits_split
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(2):
        for start in range(0, len(xt), 64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(xt[start : start + 64]), yt[start : start + 64]).backward()
            optimizer.step()
    model.eval()
    torch.save(model, path)


def _netx_target(folder: Path) -> Path:
    """Loihi 2 with weight_exp_max 0: netx has no weight exponent, so dense weights must carry none."""
    text = (REPO / "targets" / "loihi2.yaml").read_text()
    changed = text.replace("weight_exp_max: {value: 7,", "weight_exp_max: {value: 0,")
    assert changed != text, "targets/loihi2.yaml changed its weight_exp_max line"
    path = folder / "loihi2_netx.yaml"
    path.write_text(changed)
    return path


@pytest.fixture(scope="module")
def exported(tmp_path_factory, digits_split) -> tuple[Graph, Path]:
    folder = tmp_path_factory.mktemp("netx")
    _train_bias_free_snn(folder / "model.pt", digits_split)
    target = _netx_target(folder)
    rc = main(["compile", str(folder / "model.pt"), "--target", str(target), "--out", str(folder / "art"), "-q"])
    assert rc == 0
    rc = main(["export", str(folder / "art"), "--netx", str(folder / "model.net"), "-q"])
    assert rc == 0
    return load(folder / "art", stem="graph"), folder / "model.net"


def _file_weight(op: IntConv2d | IntDense) -> np.ndarray:
    """What the synapse adds per input unit: the mantissa times 2^exponent (quantized weights are exact)."""
    w = op.weight.array.astype(np.int64)
    return w * 2**op.weight_exp if op.weight_exp >= 0 else w / 2 ** (-op.weight_exp)


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_export_holds_every_field_of_the_integer_graph(exported):
    graph, path = exported
    chain = [(n, op) for n, op in graph.nodes if isinstance(op, (IntConv2d, IntDense))]
    neurons = [graph[graph.successors(n)[0]] for n, _ in chain]
    with h5py.File(path, "r") as f:
        layer = f["layer"]
        kinds = [layer[str(i)]["type"][0].decode() for i in range(len(layer))]
        assert kinds == ["input", "conv", "flatten", "dense", "dense"]
        assert f["simulation/tSample"][()] == graph.meta.steps
        (_, inp) = graph.of_type(IntInput)[0]
        assert tuple(layer["0/shape"][()]) == inp.shape and "neuron" not in layer["0"]
        assert layer["0"].attrs["snncc_bits"] == inp.bits  # netx's input_message_bits for graded input
        assert tuple(layer["2/shape"][()]) == (int(np.prod(neurons[0].shape)), 1, 1)
        for key, (syn_name, syn), lif in zip(["1", "3", "4"], chain, neurons, strict=True):
            block = layer[key]
            np.testing.assert_array_equal(block["weight"][()], _file_weight(syn), err_msg=syn_name)
            assert block.attrs["snncc_weight_exp"] == syn.weight_exp
            neuron = block["neuron"]
            assert neuron["iDecay"][()] == lif.du + 1  # netx: du = iDecay - 1
            assert neuron["vDecay"][()] == lif.dv
            assert neuron["vThMant"][()] == (lif.vth if lif.spiking else (1 << 18) - 1)
            assert neuron["refDelay"][()] == 1 and neuron["wgtExp"][()] == 0
            bias_v = lif.bias_mant.array.astype(np.int64) * 2 ** lif.bias_exp.array.astype(np.int64)
            assert np.all(block["bias"][()] * 64 == (bias_v[:, 0, 0] if bias_v.ndim == 3 else bias_v))
            if isinstance(syn, IntConv2d):
                assert tuple(block["shape"][()]) == lif.shape
                assert tuple(block["kernelSize"][()]) == syn.weight.shape[2:]
                assert tuple(block["stride"][()]) == syn.stride and tuple(block["padding"][()]) == syn.padding
                assert tuple(block["dilation"][()]) == syn.dilation and block["groups"][()] == syn.groups
                assert (block["inChannels"][()], block["outChannels"][()]) == (syn.weight.shape[1], syn.weight.shape[0])
            else:
                assert tuple(block["shape"][()]) == (lif.shape[0], 1, 1)
                assert (block["inFeatures"][()], block["outFeatures"][()]) == syn.weight.shape[::-1]
    assert not neurons[-1].spiking  # the readout integrator: written with a threshold it cannot reach


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_import_of_the_export_is_the_same_graph_and_runs_identically(exported):
    graph, path = exported
    back = read_netx(path)
    assert back.nodes == graph.nodes
    assert back.edges == graph.edges
    assert (back.meta.steps, back.meta.numerics) == (graph.meta.steps, graph.meta.numerics)
    x = np.load(DIGITS / "test_data.npz")["x"][:32]
    values = quantize_inputs(graph, {"input": x})
    refsim = get_backend("refsim")
    a, b = refsim.run(graph, values, record=ALL), refsim.run(back, values, record=ALL)
    assert sum(int(s.sum()) for s in a.spikes.values()) > 0, "the model must spike for the comparison to mean much"
    for var in ("spikes", "v", "u"):
        for layer, trace in getattr(a, var).items():
            np.testing.assert_array_equal(trace, getattr(b, var)[layer], err_msg=f"{var} {layer}")
    for name, out in a.outputs.items():
        np.testing.assert_array_equal(out, b.outputs[name])


def test_bundled_example_is_refused_naming_every_layer_netx_cannot_hold(tmp_path, capsys):
    art = tmp_path / "digits"
    assert main(["compile", str(DIGITS / "model.pt"), "--out", str(art), "-q"]) == 0
    graph = load(art, stem="graph")
    # independently: what netx (bias exponent 6, dense weights <= 8 bits, no exponent) cannot hold
    expected = set()
    for name, op in graph.nodes:
        if isinstance(op, IntInput) and op.encoding == "bitplane":
            expected.add(("OUT205", name))
        if isinstance(op, IntLIF):
            total = op.bias_mant.array.astype(np.int64) << op.bias_exp.array.astype(np.int64)
            if np.any(total % 64):
                expected.add(("OUT203", name))
        if isinstance(op, IntDense):
            w = _file_weight(op)
            if w.max() > 254 or w.min() < -256:
                expected.add(("OUT204", name))
    assert expected, "the bundled example was expected to need features netx lacks"
    capsys.readouterr()
    assert main(["export", str(art), "--netx", str(tmp_path / "d.net")]) == 2
    err = capsys.readouterr().err
    reported = {(line.split("[")[1].split("]")[0], line.split("'")[1]) for line in err.splitlines() if "error[" in line}
    assert reported == expected
    hints = err.split("error[OUT20")[1:]
    for h in hints:  # what the exponents and biases need is a flag away: the hint names it
        assert ("--netx-compatible" in h) == h.startswith(("3]", "4]")), h
    assert "Traceback" not in err and not (tmp_path / "d.net").exists()
    assert not list(tmp_path.glob(".d.net.*")), "no temporary file may be left behind"


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
@pytest.mark.parametrize(
    ("change", "code"),
    [
        ("clif", "OUT201"),
        ("soft_reset", "OUT202"),
        ("floor", "OUT202"),
        ("v_init", "OUT202"),
        ("odd_bias", "OUT203"),
        ("negative_exponent", "OUT204"),
        ("bitplane", "OUT205"),
    ],
)
def test_export_refuses_what_netx_cannot_hold(exported, tmp_path, change, code):
    graph, _ = exported
    (lif_name, lif) = graph.of_type(IntLIF)[0]
    (syn_name, syn) = graph.of_type(IntDense)[0]
    (in_name, inp) = graph.of_type(IntInput)[0]
    edits = {
        "clif": (
            lif_name,
            lambda: IntCLIF(
                **{**_fields(lif), "reset": "subtract"},
                m_frac_bits=8,
                h_shift=4,
                lut_h=Const(np.ones(2, np.int32)),
                m_shift=0,
                lut_m=Const(np.ones(1, np.int32)),
            ),
        ),
        "soft_reset": (lif_name, lambda: dataclasses.replace(lif, reset="subtract")),
        "floor": (lif_name, lambda: dataclasses.replace(lif, v_floor=-100)),
        "v_init": (lif_name, lambda: dataclasses.replace(lif, v_init=Const(np.full(lif.shape, 3, np.int32)))),
        "odd_bias": (lif_name, lambda: dataclasses.replace(lif, bias_mant=Const(np.full(lif.shape, 5, np.int32)))),
        "negative_exponent": (syn_name, lambda: dataclasses.replace(syn, weight_exp=-2)),
        "bitplane": (in_name, lambda: dataclasses.replace(inp, encoding="bitplane")),
    }
    node, make = edits[change]
    bad = graph.replace_nodes(**{node: make()})
    with pytest.raises(OutputError) as info:
        write_netx(bad, tmp_path / "x.net")
    assert (code, node) in {(d.code, d.node) for d in info.value.diagnostics}
    assert not (tmp_path / "x.net").exists()


def _fields(op: IntLIF) -> dict:
    return {f.name: getattr(op, f.name) for f in dataclasses.fields(op)}


# --- lava-dl's golden network ------------------------------------------------------------------


@pytest.fixture(scope="module")
def tiny(shared_data) -> tuple[Path, Path]:
    net, arrays = shared_data / "netx" / "tiny.net", shared_data / "netx" / "tinynet"
    if not net.is_file():
        pytest.skip(f"{net} is absent")
    return net, arrays


def golden_inputs(arrays: Path) -> dict[str, np.ndarray]:
    """lava-dl drives the input block's neurons through bias_mant, stored in Lava's (x, y, c) order."""
    return {"input": np.load(arrays / "input_bias.npy").transpose(2, 1, 0).astype(np.int64)[None]}


def golden_steps(arrays: Path, name: str) -> np.ndarray:
    """A golden (1, C, H, W, T) array as (T - 1, C, H, W): index 0 is lava-dl's empty step 0."""
    return np.moveaxis(np.load(arrays / f"{name}.npy")[0], -1, 0)[1:]


def test_tiny_net_layouts_match_lavas_arrays(tiny):
    net, arrays = tiny
    graph = read_netx(net, steps=16)
    conv = graph["layer1.conv"]
    kernel = _file_weight(conv)  # (out, in, y, x), torch's cross-correlation
    lava_kernel = np.load(arrays / "layer1_kernel.npy")  # Lava's Conv: (out, x, y, in), a true convolution
    np.testing.assert_array_equal(kernel[:, :, ::-1, ::-1].transpose(0, 3, 2, 1), lava_kernel)
    lif = graph["layer1"]
    bias = lif.bias_mant.array.astype(np.int64) << lif.bias_exp.array
    np.testing.assert_array_equal(bias[:, 0, 0], np.load(arrays / "layer1_bias.npy") * 64)
    assert (lif.du, lif.dv, lif.vth) == (4095, 1024, 25)  # iDecay 4096, vDecay 1024, vThMant 25


def test_tiny_net_on_refsim_matches_lava_dl_golden_arrays(tiny):
    net, arrays = tiny
    graph = read_netx(net, steps=16)
    trace = get_backend("refsim").run(graph, golden_inputs(arrays), record=ALL)
    n = 15  # the golden arrays hold steps 1..15 after lava-dl's empty step 0
    np.testing.assert_array_equal(trace.spikes["layer0"][0, :n], golden_steps(arrays, "input"))
    np.testing.assert_array_equal(trace.u["layer1"][0, :n], golden_steps(arrays, "current") * 64)  # current = u / 2^6
    np.testing.assert_array_equal(trace.spikes["layer1"][0, :n], golden_steps(arrays, "layer1"))
    np.testing.assert_array_equal(trace.spikes["layer2"][0, :n], golden_steps(arrays, "output"))
    assert trace.spikes["layer2"].sum() > 0


def test_tiny_net_round_trips_through_export(tiny, tmp_path):
    net, _ = tiny
    graph = read_netx(net)
    out = write_netx(graph, tmp_path / "tiny.net")
    assert read_netx(out).nodes == graph.nodes
    read_by_netx = ("type", "shape", "weight", "bias", "stride", "padding", "dilation", "groups", "kernelSize")
    neuron_keys = ("iDecay", "vDecay", "vThMant", "refDelay")
    with h5py.File(net, "r") as a, h5py.File(out, "r") as b:
        assert len(a["layer"]) == len(b["layer"])
        for i in map(str, range(len(a["layer"]))):
            for key in read_by_netx:
                if key in a["layer"][i]:
                    x, y = a["layer"][i][key][()], b["layer"][i][key][()]
                    x = x.reshape(x.shape[:4]) if np.ndim(x) == 5 else x  # old exports keep a time axis
                    np.testing.assert_array_equal(x, y, err_msg=f"layer/{i}/{key}")
            for key in neuron_keys:
                assert a["layer"][i]["neuron"][key][()] == b["layer"][i]["neuron"][key][()], f"layer/{i}/{key}"


# --- bad files ---------------------------------------------------------------------------------


def _copy(exported, tmp_path: Path) -> Path:
    dst = tmp_path / "copy.net"
    shutil.copy(exported[1], dst)
    return dst


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_missing_truncated_and_foreign_files(exported, tmp_path):
    with pytest.raises(ModelLoadError) as info:
        read_netx(tmp_path / "nope.net")
    assert info.value.code == "LOD003"
    truncated = tmp_path / "cut.net"
    truncated.write_bytes(exported[1].read_bytes()[:700])
    text = tmp_path / "text.net"
    text.write_text("layer 0: input\n")
    for bad in (truncated, text):
        with pytest.raises(ModelLoadError) as info:
            read_netx(bad)
        assert info.value.code in ("LOD201", "LOD202") and str(bad) in info.value.render()


def test_file_without_layer_group(tmp_path):
    path = tmp_path / "empty.net"
    with h5py.File(path, "w") as f:
        f.create_group("simulation")
    with pytest.raises(ModelLoadError) as info:
        read_netx(path, steps=4)
    assert info.value.code == "LOD202" and "'layer'" in info.value.render()


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_missing_dataset_is_named(exported, tmp_path):
    path = _copy(exported, tmp_path)
    with h5py.File(path, "a") as f:
        del f["layer/3/weight"]
    with pytest.raises((ImportFailed, ModelLoadError)) as info:
        read_netx(path)
    assert info.value.code == "LOD202" and "layer/3" in info.value.render() and "'weight'" in info.value.render()


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_every_unsupported_block_and_setting_is_reported_at_once(exported, tmp_path):
    path = _copy(exported, tmp_path)
    with h5py.File(path, "a") as f:
        del f["layer/2/type"]
        f["layer/2"].create_dataset("type", data=np.array([b"pool"], dtype="S10"))
        f["layer/3/neuron/refDelay"][()] = 3
        del f["layer/4/neuron/type"]
        f["layer/4/neuron"].create_dataset("type", data="SDNN", dtype=h5py.string_dtype())
    with pytest.raises(ImportFailed) as info:
        read_netx(path)
    found = {(d.code, d.node) for d in info.value.diagnostics}
    assert {("IMT201", "layer/2"), ("IMT202", "layer/3"), ("IMT202", "layer/4")} <= found
    assert "pool" in info.value.render() and "refractory" in info.value.render() and "SDNN" in info.value.render()


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_dense_weights_netx_would_change_are_refused(exported, tmp_path):
    path = _copy(exported, tmp_path)
    with h5py.File(path, "a") as f:
        w = f["layer/3/weight"][()]
        w[0, 0] = 300  # netx clips mixed-sign matrices to [-256, 254]
        f["layer/3/weight"][()] = w
    with pytest.raises(ImportFailed) as info:
        read_netx(path)
    assert [(d.code, d.node) for d in info.value.diagnostics] == [("IMT203", "layer/3")]
    assert "clips" in info.value.render()


@pytest.mark.slow  # trains an SNN on the digits (the exported fixture)
def test_dense_reading_maps_needs_a_flatten_block(exported, tmp_path):
    path = _copy(exported, tmp_path)
    with h5py.File(path, "a") as f:
        del f["layer/2"]  # the flatten block between the conv layer and the dense layer
        f.move("layer/3", "layer/2")
        f.move("layer/4", "layer/3")
    with pytest.raises(ImportFailed) as info:
        read_netx(path)
    assert [(d.code, d.node) for d in info.value.diagnostics] == [("IMT204", "layer/2")]
    assert "flatten" in info.value.render()


def test_input_neuron_with_current_memory_and_delays_are_refused(tiny, tmp_path):
    net, _ = tiny
    path = tmp_path / "tiny.net"
    shutil.copy(net, path)
    with h5py.File(path, "a") as f:
        f["layer/0/neuron/iDecay"][()] = 2048  # bias drive and synaptic drive of the input neuron differ then
        f["layer/2"].create_dataset("delay", data=np.zeros(36))
    with pytest.raises(ImportFailed) as info:
        read_netx(path)
    found = [(d.code, d.node) for d in info.value.diagnostics]
    assert found == [("IMT202", "layer/0"), ("IMT202", "layer/2")]
    assert "iDecay 2048" in info.value.render() and "netx ignores a conv block's delays" in info.value.render()
