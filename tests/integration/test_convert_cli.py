"""`snncc convert` end to end on the bundled ANN example, as a user runs it, and its bad-input errors."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest

pytestmark = pytest.mark.slow  # runs the CLI in subprocesses

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ann"
MODEL, CALIB, TEST = EXAMPLE / "ann.onnx", EXAMPLE / "calib.npz", EXAMPLE / "test.npz"


def snncc(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "snncc.cli", *args], capture_output=True, text=True, cwd=REPO, timeout=600
    )


@pytest.fixture(scope="module")
def converted(tmp_path_factory) -> tuple[Path, dict, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("c") / "ann"
    proc = snncc(
        "convert", str(MODEL), "--calib", str(CALIB), "--steps", "32", "--target", "loihi",
        "--data", str(TEST), "--out", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "report.json").read_text()), proc


def test_report_shows_ann_snn_float_and_deployed_accuracy(converted):
    out, report, proc = converted
    conv = report["conversion"]
    a = conv["accuracy"]
    # the ANN's accuracy, recomputed here by onnxruntime on the same file and data
    test = np.load(TEST)
    session = ort.InferenceSession(str(MODEL), providers=["CPUExecutionProvider"])
    ann_accuracy = float(np.mean(session.run(None, {"image": test["x"]})[0].argmax(axis=1) == test["y"]))
    assert a["ann"] == pytest.approx(ann_accuracy)
    assert a["samples"] == len(test["y"]) == report["verification"]["samples"]
    assert a["snn_float"] == report["verification"]["float_accuracy"]
    assert a["deployed"] == report["verification"]["deployed_accuracy"]
    assert a["ann"] > 0.95
    assert abs(a["deployed"] - a["ann"]) <= 0.03  # measured: ANN 98.22 %, deployed 97.56 % (Loihi 1, T = 32)
    assert abs(a["snn_float"] - a["ann"]) <= 0.03
    assert report["verification"]["passed"]
    # methods and per-layer thresholds; Loihi 1 has no soft reset, so the neurons reset to 0
    assert "reset 'zero'" in conv["methods"]["neuron"] and "99.9th percentile" in conv["methods"]["threshold"]
    assert [layer["layer"] for layer in conv["layers"]] == ["/relu1/Relu", "/relu2/Relu"]
    assert all(0 < layer["threshold"] <= layer["max_activation"] for layer in conv["layers"])
    md = (out / "report.md").read_text()
    assert "## ANN-to-SNN conversion" in md and "| SNN, deployed |" in md and "/relu1/Relu" in md
    assert "accuracy ANN 98.22%" in proc.stdout
    for name in ("graph.json", "graph.npz", "placement.json", "float_graph.json"):
        assert (out / name).is_file()


def test_the_ann_comparison_is_in_the_summary(converted):
    out, report, _ = converted
    a = report["conversion"]["accuracy"]
    assert report["summary"]["ann_accuracy"] == a["ann"]
    summary = (out / "report.md").read_text().split("## Summary")[1].split("\n\n")[1]  # the table
    (row,) = [line for line in summary.splitlines() if line.startswith("| accuracy: ANN / SNN float / SNN deployed |")]
    assert f"{100 * a['ann']:.2f}% / {100 * a['snn_float']:.2f}% / {100 * a['deployed']:.2f}%" in row


def _maxpool_model(path: Path) -> Path:
    import torch
    from torch import nn

    class Net(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.act = nn.Tanh()
            self.fc = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.fc(self.act(self.pool(torch.relu(self.conv(x)))).flatten(1))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Net().eval(), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False)
    return path


@pytest.mark.parametrize(
    "case",
    ["maxpool-and-unknown-op", "missing-calib-file", "no-calib-flag", "zero-steps", "soft-reset-on-loihi"],
)
def test_bad_inputs_exit_2_with_a_clear_message(tmp_path, case):
    out = tmp_path / "out"
    model, calib, extra = str(MODEL), ["--calib", str(CALIB)], ["--steps", "8"]
    expect: list[str]
    if case == "maxpool-and-unknown-op":
        model = str(_maxpool_model(tmp_path / "maxpool.onnx"))
        expect = ["/pool/MaxPool", "/act/Tanh", "average pooling", "IMT101"]
    elif case == "missing-calib-file":
        calib = ["--calib", str(tmp_path / "nowhere.npz")]
        expect = ["DAT002", "nowhere.npz", "not found"]
    elif case == "no-calib-flag":
        calib, expect = [], ["--calib"]
    elif case == "zero-steps":
        extra, expect = ["--steps", "0"], ["DAT012", "--steps"]
    else:
        extra, expect = ["--steps", "8", "--reset", "subtract"], ["MAP101", "reset_subtract", "loihi"]
    proc = snncc("convert", model, *calib, *extra, "--out", str(out), "-q")
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    for text in expect:
        assert text in proc.stderr, (text, proc.stderr)
    assert not out.exists()


def test_maxpool_as_avgpool_is_opt_in_and_reported(tmp_path, capsys):
    """--approximate maxpool-as-avgpool: the report names it and the layers, and scores the real ANN."""
    import torch
    from torch import nn

    from snncc.cli import main

    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 10))
    path = tmp_path / "maxpool.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            net.eval(),
            (torch.zeros(1, 1, 8, 8),),
            str(path),
            dynamo=False,
            input_names=["image"],
            dynamic_axes={"image": {0: "batch"}},
        )
    out = tmp_path / "out"
    argv = ["convert", str(path), "--calib", str(CALIB), "--data", str(TEST), "--steps", "8", "--samples", "16"]
    argv += ["--approximate", "maxpool-as-avgpool", "--min-agreement", "0", "--out", str(out), "-q"]
    assert main(argv) == 0
    conv = json.loads((out / "report.json").read_text())["conversion"]
    assert list(conv["approximations"]) == ["maxpool-as-avgpool"]
    assert conv["approximations"]["maxpool-as-avgpool"]["layers"] == ["/2/MaxPool"]
    assert any("'/2/MaxPool' replaced by average pooling" in note for note in conv["notes"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])  # the real MaxPool
    test = np.load(TEST)
    logits = session.run(None, {"image": test["x"][:16]})[0]
    assert conv["accuracy"]["ann"] == pytest.approx(float(np.mean(logits.argmax(axis=1) == test["y"][:16])))
    md = (out / "report.md").read_text()
    assert "Approximations you asked for" in md and "`maxpool-as-avgpool`" in md
    capsys.readouterr()
    assert main(["convert", str(path), "--calib", str(CALIB), "--steps", "8", "--out", str(tmp_path / "o2")]) == 2
    assert "--approximate maxpool-as-avgpool" in capsys.readouterr().err  # the default: a clear error
