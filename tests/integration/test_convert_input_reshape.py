"""`snncc convert` of an ANN whose forward starts with x.view(-1, 1, 8, 8), exported by torch's default
(dynamo) exporter as users export it: the leading Reshape of the flat input is the model's input
shape, and calibration and test data are accepted flat (as the file takes them) or as images.

Oracle: onnxruntime's accuracy of the exported file on the same samples (the report's ANN row),
and the float SNN (deployed within 0.5 points of it on Loihi 2)."""

from __future__ import annotations

import json
import warnings

import numpy as np
import onnxruntime as ort
import pytest
import torch
from torch import nn

from snncc.cli import main

pytestmark = pytest.mark.slow


class FlatInputCNN(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 8, 3, padding=1)
        self.fc1 = nn.Linear(8 * 4 * 4, 32)
        self.fc2 = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 8, 8)
        x = nn.functional.avg_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc2(torch.relu(self.fc1(torch.flatten(x, 1))))


@pytest.fixture(scope="module")
def exported(tmp_path_factory, digits_split):
    x_train, y_train, x_test, y_test = digits_split
    torch.manual_seed(0)
    net = FlatInputCNN()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-2)
    x, y = torch.from_numpy(x_train.reshape(len(x_train), 64)), torch.from_numpy(y_train)
    for _ in range(10):
        for idx in torch.randperm(len(x), generator=torch.Generator().manual_seed(0)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(net(x[idx]), y[idx]).backward()
            optimizer.step()
    folder = tmp_path_factory.mktemp("flat_cnn")
    path = folder / "ann.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(net.eval(), (torch.zeros(1, 64),), str(path), verbose=False)  # the default exporter
    np.savez(folder / "calib_flat.npz", x=x_train[:300].reshape(300, 64), y=y_train[:300])
    np.savez(folder / "test_images.npz", x=x_test, y=y_test)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    flat = x_test.reshape(len(x_test), 1, 64)
    predicted = np.array([session.run(None, {session.get_inputs()[0].name: row})[0].argmax() for row in flat])
    return folder, float((predicted == y_test).mean())


def test_an_onnx_model_that_reshapes_its_input_converts_with_data_of_either_shape(exported, tmp_path, capsys):
    folder, ann_accuracy = exported
    out = tmp_path / "out"
    argv = ["convert", str(folder / "ann.onnx"), "--calib", str(folder / "calib_flat.npz"), "--steps", "32"]
    code = main([*argv, "--data", str(folder / "test_images.npz"), "--target", "loihi2", "--out", str(out), "-q"])
    assert code == 0, capsys.readouterr().err
    report = json.loads((out / "report.json").read_text())
    a, v = report["conversion"]["accuracy"], report["verification"]
    print(f"ANN {a['ann']:.4f}, SNN float {a['snn_float']:.4f}, deployed {a['deployed']:.4f}")
    assert a["ann"] == pytest.approx(ann_accuracy) and ann_accuracy > 0.9
    assert v["deployed_accuracy"] >= v["float_accuracy"] - 0.005
    assert a["snn_float"] >= a["ann"] - 0.02
    assert any("Reshape" in note for note in report["conversion"]["notes"])
