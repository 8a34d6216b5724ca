"""The invalid-input corpus: every bad model, data file, target, option or output location gets its own
clear error (code, message, nonzero exit, no traceback) and leaves nothing half-written.

Each case builds its bad input in a temporary folder, runs the real command line in-process and
checks the exit code, the error code and a fragment of the message.  Target files live in
tests/invalid/targets/ (expected code on their first line).
"""

from __future__ import annotations

import json
import pickle
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.cli import main

REPO = Path(__file__).resolve().parents[2]
DIGITS_MODEL = REPO / "examples" / "digits" / "model.pt"
NEURONS = REPO / "examples" / "neurons"
TARGETS = sorted((Path(__file__).parent / "targets").glob("*.yaml"))


@dataclass(frozen=True)
class Case:
    name: str
    build: Callable[[Path], list[str]]  # makes the bad input in the folder, returns the CLI arguments
    code: str  # expected error code
    message: str  # a fragment the message must contain
    exit: int = 2
    slow: bool = False  # the build runs Python in a subprocess


def compile_args(model: Path | str, out: Path, *extra: str) -> list[str]:
    return ["compile", str(model), "--out", str(out / "out"), "-q", *extra]


def snn_model(tmp: Path, name: str, body: nn.Module, steps: int = 4, **kw) -> Path:
    torch.manual_seed(0)
    model = snn.SNN(body, steps=steps, **kw)
    path = tmp / name
    torch.save(model, path)
    return path


def mlp(neuron: nn.Module | None = None, hidden: int = 16, n_in: int = 64) -> nn.Sequential:
    return nn.Sequential(nn.Flatten(), nn.Linear(n_in, hidden), neuron or snn.LIF(), nn.Linear(hidden, 10))


def with_weights(body: nn.Sequential, value: float) -> nn.Sequential:
    with torch.no_grad():
        body[1].weight[0, 0] = value
    return body


class Boom:
    """Unpickling this would run code: it must never be unpickled."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "pwned"))


def malicious(tmp: Path) -> list[str]:
    path = tmp / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump(Boom(tmp / "pwned"), f)
    return compile_args(path, tmp)


def main_class_pickle(tmp: Path) -> list[str]:
    script = textwrap.dedent(
        f"""
        import torch, snncc.nn as snn
        class Net(torch.nn.Module):
            def __init__(self):
                super().__init__(); self.fc = torch.nn.Linear(64, 10); self.lif = snn.LIF()
            def forward(self, x):
                return self.lif(self.fc(x.flatten(1)))
        torch.save(snn.SNN(Net(), steps=4), {str(tmp / "main.pt")!r})
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True)
    return compile_args(tmp / "main.pt", tmp)


def truncated(tmp: Path) -> list[str]:
    data = DIGITS_MODEL.read_bytes()
    (tmp / "half.pt").write_bytes(data[: len(data) // 2])
    return compile_args(tmp / "half.pt", tmp)


def data_file(tmp: Path, **arrays) -> Path:
    path = tmp / "data.npz"
    np.savez(path, **arrays)
    return path


def with_data(**arrays) -> Callable[[Path], list[str]]:
    return lambda tmp: compile_args(DIGITS_MODEL, tmp, "--data", str(data_file(tmp, **arrays)))


def artifact(compiled: Path, tmp: Path, edit: Callable[[Path], None]) -> list[str]:
    folder = tmp / "artifact"
    shutil.copytree(compiled, folder)
    edit(folder)
    return ["simulate", str(folder), "--samples", "2"]


def edit_graph(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(folder: Path) -> None:
        doc = json.loads((folder / "graph.json").read_text())
        change(doc)
        (folder / "graph.json").write_text(json.dumps(doc))

    return edit


def add_cycle(doc: dict) -> None:
    doc["edges"].append(["body.6", "body.6"])  # the hidden layer feeds itself directly, without a synapse


def add_loop_through_two_layers(doc: dict) -> None:
    back = {"name": "back", "op": "int_dense", "fields": {"shape": [512], "weight": {"array": "body.5/weight"}}}
    doc["nodes"].append(back)
    doc["edges"] += [["body.6", "back"], ["back", "body.2"]]  # the hidden layer back into the first one


def unknown_op(doc: dict) -> None:
    doc["nodes"][1]["op"] = "teleport"


def huge_weight(doc: dict) -> None:
    with_arrays = doc  # weights live in graph.npz; change the exponent instead (format range -8..7)
    for node in with_arrays["nodes"]:
        if node["op"] == "int_dense":
            node["fields"]["weight_exp"] = 42


CASES = [
    # model files
    Case("missing model", lambda t: compile_args(t / "nope.pt", t), "LOD003", "nope.pt"),
    Case(
        "empty model file",
        lambda t: (t.joinpath("e.pt").write_bytes(b""), compile_args(t / "e.pt", t))[1],
        "LOD004",
        "truncated or corrupt",
    ),
    Case(
        "random bytes",
        lambda t: (t.joinpath("r.pt").write_bytes(bytes(range(256)) * 4), compile_args(t / "r.pt", t))[1],
        "LOD004",
        "corrupt",
    ),
    Case("truncated model", truncated, "LOD004", "half.pt"),
    Case("pickle that runs code", malicious, "LOD002", "execute"),
    Case("class defined in __main__", main_class_pickle, "LOD005", "__main__", slow=True),
    Case(
        "state dict instead of a module",
        lambda t: (torch.save(mlp().state_dict(), t / "sd.pt"), compile_args(t / "sd.pt", t))[1],
        "LOD006",
        "state",
    ),
    Case(
        "a tensor, not a model",
        lambda t: (torch.save(torch.zeros(3), t / "x.pt"), compile_args(t / "x.pt", t))[1],
        "LOD007",
        "tensor",
    ),
    Case(
        "unsupported layers, all listed",
        lambda t: compile_args(
            snn_model(
                t,
                "m.pt",
                nn.Sequential(nn.Flatten(), nn.Linear(64, 16), nn.ReLU(), snn.LIF(), nn.Linear(16, 10), nn.Sigmoid()),
            ),
            t,
        ),
        "IMT002",
        "ReLU",
    ),
    Case(
        "NaN weights",
        lambda t: compile_args(snn_model(t, "m.pt", with_weights(mlp(), float("nan"))), t),
        "GRF021",
        "NaN",
    ),
    Case(
        "infinite weights",
        lambda t: compile_args(snn_model(t, "m.pt", with_weights(mlp(), float("inf"))), t),
        "GRF021",
        "infinite",
    ),
    Case(
        "zero threshold",
        lambda t: compile_args(snn_model(t, "m.pt", mlp(snn.LIF(threshold=0.0))), t),
        "GRF023",
        "threshold 0.0",
    ),
    Case(
        "negative threshold",
        lambda t: compile_args(snn_model(t, "m.pt", mlp(snn.IF(threshold=-0.5, v_reset=None))), t),
        "GRF023",
        "threshold -0.5",
    ),
    Case("zero time steps in the model", lambda t: compile_args(_zero_steps(t), t), "IMT005", "steps"),
    Case("--steps 0", lambda t: compile_args(DIGITS_MODEL, t, "--steps", "0"), "DAT012", "--steps"),
    Case(
        "bare body without --steps",
        lambda t: (torch.save(mlp(), t / "b.pt"), compile_args(t / "b.pt", t))[1],
        "IMT005",
        "--steps",
    ),
    Case("layer shapes do not chain", lambda t: compile_args(snn_model(t, "m.pt", mlp(n_in=63)), t), "DAT011", "(63,)"),
    Case(
        "KLIF whose potential grows",
        lambda t: compile_args(snn_model(t, "m.pt", mlp(snn.KLIF(k=3.0))), t, "--target", "loihi2"),
        "IMT020",
        "k(1 - 1/tau)",
    ),
    Case(
        "IMP potential of the wrong shape",
        lambda t: compile_args(snn_model(t, "m.pt", mlp(snn.IMPLIF((15,)))), t, "--target", "loihi2"),
        "IMT021",
        "shape",
    ),
    Case(
        "batch norm with nothing to fold into",
        lambda t: compile_args(
            snn_model(
                t,
                "m.pt",
                nn.Sequential(nn.BatchNorm2d(1), nn.Conv2d(1, 2, 3), snn.LIF(), nn.Flatten(), nn.Linear(72, 10)),
            ),
            t,
        ),
        "IMT010",
        "batch norm",
    ),
    Case(
        "two convs with no neuron between",
        lambda t: compile_args(
            snn_model(
                t,
                "m.pt",
                nn.Sequential(nn.Conv2d(1, 2, 3), nn.Conv2d(2, 2, 3), snn.LIF(), nn.Flatten(), nn.Linear(32, 10)),
            ),
            t,
        ),
        "IMT011",
        "conv2d followed by conv2d",
    ),
    # fit and features
    Case(
        "layer too wide for the chip",
        lambda t: compile_args(snn_model(t, "m.pt", mlp(hidden=300)), t, "--target", "toy"),
        "MAP003",
        "input axons",
    ),
    Case(
        "too many neurons for the chip",
        lambda t: compile_args(snn_model(t, "m.pt", mlp(hidden=400, n_in=64)), t, "--target", "toy"),
        "MAP005",
        "neurons",
    ),
    Case("soft reset on Loihi 1", lambda t: compile_args(NEURONS / "if-soft.pt", t), "MAP002", "reset_subtract"),
    Case("CLIF on Loihi 1", lambda t: compile_args(NEURONS / "clif.pt", t), "MAP002", "clif"),
    Case("learned initial potential on Loihi 1", lambda t: compile_args(NEURONS / "imp.pt", t), "MAP002", "v_init"),
    Case(
        "graded input on Loihi 1",
        lambda t: compile_args(DIGITS_MODEL, t, "--input-encoding", "graded"),
        "MAP020",
        "graded",
    ),
    Case(
        "unknown approximation",
        lambda t: compile_args(DIGITS_MODEL, t, "--approximate", "wishful"),
        "IMT030",
        "wishful",
    ),
    Case("unknown target", lambda t: compile_args(DIGITS_MODEL, t, "--target", "loihi9"), "TGT003", "loihi2"),
    Case(
        "missing target file",
        lambda t: compile_args(DIGITS_MODEL, t, "--target", str(t / "chip.yaml")),
        "TGT002",
        "chip.yaml",
    ),
    # data files
    Case(
        "missing data file",
        lambda t: compile_args(DIGITS_MODEL, t, "--data", str(t / "none.npz")),
        "DAT002",
        "none.npz",
    ),
    Case(
        "data file is not npz",
        lambda t: (
            t.joinpath("d.npz").write_text("x,y\n1,2\n"),
            compile_args(DIGITS_MODEL, t, "--data", str(t / "d.npz")),
        )[1],
        "DAT003",
        ".npz",
    ),
    Case("no array x", with_data(inputs=np.zeros((2, 1, 8, 8))), "DAT004", "'x'"),
    Case("empty data", with_data(x=np.zeros((0, 1, 8, 8))), "DAT006", "no samples"),
    Case("NaN in the data", with_data(x=np.full((2, 1, 8, 8), np.nan)), "DAT007", "NaN"),
    Case("samples of the wrong shape", with_data(x=np.zeros((3, 5, 5))), "DAT008", "(5, 5)"),
    Case(
        "labels of the wrong length",
        with_data(x=np.zeros((3, 1, 8, 8)), y=np.zeros(2, dtype=np.int64)),
        "DAT009",
        "labels",
    ),
    Case("float labels", with_data(x=np.zeros((3, 1, 8, 8)), y=np.zeros(3)), "DAT009", "integer"),
    Case("negative inputs for bit-plane input", with_data(x=-np.ones((3, 1, 8, 8))), "QNT010", "unsigned"),
    Case("pickled object array in the data", with_data(x=np.array([{"a": 1}], dtype=object)), "DAT003", "pickle"),
    Case("--samples 0", lambda t: compile_args(DIGITS_MODEL, t, "--samples", "0"), "DAT012", "--samples"),
    # output locations
    Case(
        "output directory exists",
        lambda t: (t.joinpath("out").mkdir(), compile_args(DIGITS_MODEL, t))[1],
        "OUT002",
        "already exists",
    ),
    Case(
        "output parent is a file",
        lambda t: (
            t.joinpath("file").write_text("x"),
            ["compile", str(DIGITS_MODEL), "--out", str(t / "file" / "out"), "-q"],
        )[1],
        "OUT004",
        "parent",
    ),
]

ARTIFACT_CASES = [
    Case(
        "artifact without its graph",
        lambda t, a: artifact(a, t, lambda f: (f / "graph.npz").unlink()),
        "GRF063",
        "graph.npz",
    ),
    Case(
        "artifact graph is not JSON",
        lambda t, a: artifact(a, t, lambda f: (f / "graph.json").write_text("{")),
        "GRF062",
        "cannot read",
    ),
    Case(
        "recurrent loop without a synapse",
        lambda t, a: artifact(a, t, edit_graph(add_cycle)),
        "GRF006",
        "cycle body.6 -> body.6 does not pass through a synapse op",
    ),
    Case(
        "recurrent loop through two layers",
        lambda t, a: artifact(a, t, edit_graph(add_loop_through_two_layers)),
        "GRF007",
        "several neuron layers (body.2, body.6): body.2 -> body.5 -> body.6 -> back -> body.2",
    ),
    Case("unknown op in the artifact", lambda t, a: artifact(a, t, edit_graph(unknown_op)), "GRF061", "teleport"),
    Case("weight exponent out of range", lambda t, a: artifact(a, t, edit_graph(huge_weight)), "GRF053", "weight_exp"),
]


def _zero_steps(tmp: Path) -> Path:
    model = snn.SNN(mlp(), steps=4)
    model.steps = 0  # a corrupted checkpoint: the constructor would refuse it
    torch.save(model, tmp / "m.pt")
    return tmp / "m.pt"


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.err


def check(case: Case, code: int, err: str, tmp: Path) -> None:
    assert code == case.exit, err
    assert f"error[{case.code}]" in err, err
    assert case.message in err, err
    assert "Traceback" not in err
    assert not (tmp / "out").exists() or case.code == "OUT002"
    assert not [p for p in tmp.iterdir() if ".tmp-" in p.name], "no half-written output may remain"


@pytest.mark.parametrize(
    "case", [pytest.param(c, id=c.name, marks=[pytest.mark.slow] if c.slow else []) for c in CASES]
)
def test_invalid_input(case, tmp_path, capsys):
    code, err = run_cli(case.build(tmp_path), capsys)
    check(case, code, err, tmp_path)
    assert not (tmp_path / "pwned").exists(), "the malicious pickle ran"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("artifact") / "digits"
    assert main(["compile", str(DIGITS_MODEL), "--out", str(out), "-q", "--samples", "16"]) == 0
    return out


@pytest.mark.parametrize("case", ARTIFACT_CASES, ids=[c.name for c in ARTIFACT_CASES])
def test_invalid_artifact(case, compiled, tmp_path, capsys):
    code, err = run_cli(case.build(tmp_path, compiled), capsys)
    check(case, code, err, tmp_path)


@pytest.mark.parametrize("path", TARGETS, ids=[p.stem for p in TARGETS])
def test_invalid_target_file_from_the_command_line(path, tmp_path, capsys):
    expected = path.read_text().splitlines()[0].removeprefix("# expect: ").strip()
    code, err = run_cli(compile_args(DIGITS_MODEL, tmp_path, "--target", str(path)), capsys)
    check(Case(path.stem, lambda t: [], expected, ""), code, err, tmp_path)


def test_the_corpus_is_large():
    assert len(CASES) + len(ARTIFACT_CASES) + len(TARGETS) >= 40
