"""NIR files written by other frameworks, compiled as a user would: a norse model trained on the
digits and exported with norse's own to_nir, spikingjelly conv nets (Conv2d with BatchNorm and
average pooling, and a Conv1d net on the digits' rows as sequences) exported with spikingjelly's
nir_exchange; each
framework's own outputs are the oracle for snncc's float model, and the deployment keeps the
accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import nir
import norse.torch as norse
import numpy as np
import pytest
import torch
from spikingjelly.activation_based import functional, layer, neuron, surrogate
from spikingjelly.activation_based.nir_exchange import export_to_nir
from torch import nn

from snncc.backends import get_backend
from snncc.cli import main
from snncc.importers.nir import import_nir, read_nir

pytestmark = pytest.mark.slow  # trains norse and spikingjelly models and deploys them

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"
NORSE_STEPS, SJ_STEPS = 8, 4


def _train(net: nn.Module, forward, x: torch.Tensor, y: torch.Tensor, epochs: int, lr: float = 1e-2) -> None:
    optimizer = torch.optim.Adam(net.parameters(), lr=lr)
    for _ in range(epochs):
        net.train()
        for start in range(0, len(x), 64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(forward(net, x[start : start + 64]), y[start : start + 64]).backward()
            optimizer.step()
    net.eval()


def _compile(path: Path, out: Path, *flags: str) -> dict:
    assert main(["compile", str(path), *flags, "--target", "loihi", "--out", str(out), "-q"]) == 0
    return json.loads((out / "report.json").read_text())["verification"]


# --- norse ----------------------------------------------------------------------------------------


def _norse_mlp(hidden: int = 32) -> norse.SequentialState:
    """Linear -> LIFCell (exported as CubaLIF) -> Linear -> LIFBoxCell (LIF), norse's default time
    constants; per-neuron parameter tensors, since nir.write cannot store norse's scalar defaults."""

    def full(n: int, value: float) -> torch.Tensor:
        return torch.full((n,), float(value))

    return norse.SequentialState(
        nn.Linear(64, hidden, bias=False),  # a bias into a decaying current has no exact chip form (IMT013)
        norse.LIFCell(norse.LIFParameters(tau_mem_inv=full(hidden, 100), tau_syn_inv=full(hidden, 200),
                                          v_th=full(hidden, 1), v_leak=full(hidden, 0), v_reset=full(hidden, 0))),
        nn.Linear(hidden, 10),
        norse.LIFBoxCell(norse.LIFBoxParameters(tau_mem_inv=full(10, 100), v_th=full(10, 1), v_leak=full(10, 0),
                                                v_reset=full(10, 0))),
    )  # fmt: skip


def _norse_counts(net: norse.SequentialState, x: torch.Tensor) -> torch.Tensor:
    """Output spike counts, the image as input current at every step: norse's usual time loop."""
    state, total = None, 0
    for _ in range(NORSE_STEPS):
        z, state = net(x, state)
        total = total + z
    return total


@pytest.fixture(scope="module")
def norse_model(tmp_path_factory, digits_split) -> tuple[Path, np.ndarray, np.ndarray]:
    """(the .nir file norse wrote, norse's own spike counts on the test split, its labels)."""
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = digits_split
    net = _norse_mlp()
    _train(net, _norse_counts, torch.tensor(x_train.reshape(-1, 64)), torch.tensor(y_train), epochs=4)
    with torch.no_grad():
        counts = _norse_counts(net, torch.tensor(x_test.reshape(-1, 64))).numpy()
    path = tmp_path_factory.mktemp("norse") / "mlp.nir"
    nir.write(str(path), norse.to_nir(net, torch.zeros(64)))  # norse's default dt = 1e-3
    return path, counts, y_test


def test_norse_export_compiles_and_keeps_norse_outputs_and_accuracy(norse_model, tmp_path):
    path, counts, labels = norse_model
    graph = import_nir(read_nir(path), dt=1e-3, steps=NORSE_STEPS, readout="sum", exporter="norse")
    x = np.load(DIGITS / "test_data.npz")["x"].reshape(-1, 64)
    (ours,) = get_backend("floatsim").run(graph, {"input": x}).outputs.values()
    # norse computes in float32, snncc in float64: a spike may flip where v lands within rounding of
    # the threshold, which is rare
    assert (ours == counts).all(axis=1).mean() >= 0.99
    norse_accuracy = float((counts.argmax(1) == labels).mean())
    v = _compile(path, tmp_path / "o", "--dt", "1e-3", "--nir-from", "norse", "--steps", str(NORSE_STEPS),
                 "--readout", "sum")  # fmt: skip
    print(f"norse {norse_accuracy:.4f}, float {v['float_accuracy']:.4f}, deployed {v['deployed_accuracy']:.4f}")
    assert norse_accuracy > 0.75
    assert v["float_accuracy"] == pytest.approx(norse_accuracy, abs=0.01)
    assert v["deployed_accuracy"] >= v["float_accuracy"] - 0.03


def test_norse_export_without_nir_from_is_refused_naming_the_flag(norse_model, tmp_path, capsys):
    path, _, _ = norse_model
    argv = ["compile", str(path), "--dt", "1e-3", "--steps", "8", "--readout", "sum", "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "IMT211" in err and "--nir-from norse" in err and "Traceback" not in err


# --- spikingjelly ---------------------------------------------------------------------------------


def _sj_net(conv: nn.Module, norm: nn.Module | None, flat: int, pool: bool) -> nn.Sequential:
    """spikingjelly's multi-step layers, hard reset (NIR has no soft reset)."""
    mods = [
        conv,
        norm,
        neuron.IFNode(v_reset=0.0, surrogate_function=surrogate.ATan()),
        layer.AvgPool2d(2) if pool else None,
        layer.Flatten(),
        layer.Linear(flat, 10),
        neuron.LIFNode(tau=2.0, v_reset=0.0, surrogate_function=surrogate.ATan()),
    ]
    net = nn.Sequential(*[m for m in mods if m is not None])
    functional.set_step_mode(net, "m")
    return net


def _sj_counts(net: nn.Sequential, x: torch.Tensor) -> torch.Tensor:
    """Output spike counts over the steps, the sample repeated at every step (spikingjelly's tutorial)."""
    functional.reset_net(net)
    return net(x.unsqueeze(0).repeat(SJ_STEPS, *([1] * x.dim()))).sum(0)


def _folded(net: nn.Sequential, conv: nn.Module) -> nn.Sequential:
    """The trained net with its BatchNorm folded into the convolution (torch's own fuse): spikingjelly's
    exporter cannot trace BatchNorm (torch.fx TraceError in BatchNorm's input check)."""
    fused = torch.nn.utils.fusion.fuse_conv_bn_eval(net[0], net[1])
    conv.weight.data, conv.bias = fused.weight.data.clone(), nn.Parameter(fused.bias.data.clone())
    fc = next(m for m in net if isinstance(m, nn.Linear))
    out = _sj_net(conv, None, fc.in_features, any(isinstance(m, nn.AvgPool2d) for m in net))
    for mine, trained in zip(list(out)[1:], list(net)[2:], strict=True):
        mine.load_state_dict(trained.state_dict())
    return out.eval()


@pytest.fixture(scope="module", params=["conv2d", "conv1d"])
def sj_model(request, tmp_path_factory, digits_split) -> tuple[Path, np.ndarray, np.ndarray, np.ndarray]:
    """(the .nir file spikingjelly wrote, its spike counts on the test split, the test inputs, labels).
    conv1d: the 8x8 digits as 8 channels (rows) of length 8, a keyword-spotting-style Conv1d net."""
    torch.manual_seed(0)
    x_train, y_train, x_test, y_test = digits_split
    if request.param == "conv2d":
        shape, conv = (1, 8, 8), lambda bias: layer.Conv2d(1, 6, 3, padding=1, bias=bias)
        norm, flat = layer.BatchNorm2d(6), 6 * 16
    else:
        shape, conv = (8, 8), lambda bias: layer.Conv1d(8, 12, 3, stride=2, padding=1, bias=bias)
        norm, flat = layer.BatchNorm1d(12), 12 * 4
    net = _sj_net(conv(False), norm, flat, pool=request.param == "conv2d")
    x = torch.tensor(x_train.reshape(-1, *shape))
    _train(net, _sj_counts, x, torch.tensor(y_train), epochs=2)
    net = _folded(net, conv(True))
    x_test = x_test.reshape(-1, *shape)
    with torch.no_grad():
        counts = _sj_counts(net, torch.tensor(x_test)).numpy()
    folder = tmp_path_factory.mktemp(request.param)
    export_to_nir(net, torch.zeros(SJ_STEPS, 1, *shape), save_path=folder / "net.nir")  # its default dt = 1e-4
    np.savez(folder / "test.npz", x=x_test, y=y_test)
    return folder / "net.nir", counts, x_test, y_test


def test_spikingjelly_export_compiles_and_keeps_its_outputs_and_accuracy(sj_model, tmp_path):
    path, counts, x, labels = sj_model
    graph = import_nir(read_nir(path), dt=1e-4, steps=SJ_STEPS, readout="sum")
    inputs = x.reshape(len(x), *graph["input_1"].shape)  # a Conv1d net's (C, L) samples are held as (C, 1, L)
    (ours,) = get_backend("floatsim").run(graph, {"input_1": inputs}).outputs.values()
    # spikingjelly fires on v >= threshold and NIR's IF on v > threshold; with float weights v never
    # lands on the threshold exactly here, and float32 against float64 rounding flips a spike rarely
    assert (ours == counts).all(axis=1).mean() >= 0.99
    sj_accuracy = float((counts.argmax(1) == labels).mean())
    v = _compile(path, tmp_path / "o", "--dt", "1e-4", "--steps", str(SJ_STEPS), "--readout", "sum",
                 "--data", str(path.parent / "test.npz"),  # (N, 8, 8) samples for the Conv1d net
                 "--calib", str(path.parent / "test.npz"))  # fmt: skip  # score every sample spikingjelly was
    print(f"spikingjelly {sj_accuracy:.4f}, float {v['float_accuracy']:.4f}, deployed {v['deployed_accuracy']:.4f}")
    assert sj_accuracy > 0.75
    assert v["float_accuracy"] == pytest.approx(sj_accuracy, abs=0.01)
    assert v["deployed_accuracy"] >= v["float_accuracy"] - 0.03


# --- sinabs-style per-step IF ---------------------------------------------------------------------


def test_per_step_if_graph_warns_at_a_physical_dt_and_not_at_dt_1(tmp_path, capsys):
    """IF with r = 1, as sinabs writes it: `snncc compile` and `check` say to pass --dt 1 (and the
    report lists it); at --dt 1 nothing is said."""
    rng = np.random.default_rng(0)
    nodes = {
        "input": nir.Input({"input": np.array([64])}),
        "fc": nir.Affine(rng.normal(0.05, 0.3, (10, 64)), np.zeros(10)),
        "if": nir.IF(r=np.ones(10), v_threshold=np.ones(10), v_reset=np.zeros(10)),
        "output": nir.Output({"output": np.array([10])}),
    }
    path = tmp_path / "sinabs_style.nir"
    graph = nir.NIRGraph(nodes=nodes, edges=[("input", "fc"), ("fc", "if"), ("if", "output")], type_check=False)
    nir.write(str(path), graph)
    run = ["--steps", "8", "--readout", "sum", "--samples", "32", "-q"]
    # nothing fires at --dt 1e-3: the report is written, and the silent output fails verification (exit 1)
    assert main(["compile", str(path), "--dt", "1e-3", *run, "--out", str(tmp_path / "a")]) == 1
    err = capsys.readouterr().err
    assert f"warning[IMT213] ({path}): IF node 'if' has r = 1: at --dt 0.001 each step adds 0.001·x" in err
    report = (tmp_path / "a" / "report.md").read_text()
    assert "pass --dt 1" in err and "IMT213" in report
    assert "the float model's output is silent on 32 of 32 samples" in report
    assert main(["check", str(path), "--dt", "1", "--steps", "8", "--readout", "sum", "-q"]) == 0
    assert "IMT213" not in capsys.readouterr().err
