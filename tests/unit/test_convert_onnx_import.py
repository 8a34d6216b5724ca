"""ONNX -> float ANN description: the imported chain computes what onnxruntime (and torch) compute.

Models are real torch modules exported with torch.onnx.export(dynamo=False), as users export them;
the expected outputs come from onnxruntime running the same file, or from torch in float64.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from torch import nn

from snncc.convert.ann import Relu, forward
from snncc.convert.onnx_import import import_onnx
from snncc.errors import ImportFailed, ModelLoadError
from snncc.ir import AvgPool2d, Conv2d, Dense, Flatten

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "ann"


def export(model: nn.Module, path: Path, shape: tuple[int, ...] = (1, 8, 8), **kw) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the legacy exporter's deprecation notice
        torch.onnx.export(
            model.eval(),
            (torch.zeros(1, *shape),),
            str(path),
            dynamo=False,
            input_names=["x"],
            dynamic_axes={"x": {0: "batch"}},
            **kw,
        )
    return path


def ort_run(path: Path, x: np.ndarray) -> np.ndarray:
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: x.astype(np.float32)})[0]


def randomize_bn(model: nn.Module, seed: int = 0) -> None:
    """Non-trivial running statistics and affine parameters, so folding has something to do."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            n = m.num_features
            m.running_mean.copy_(torch.randn(n, generator=g))
            m.running_var.copy_(torch.rand(n, generator=g) * 2 + 0.1)
            m.weight.data.copy_(torch.randn(n, generator=g))
            m.bias.data.copy_(torch.randn(n, generator=g))


def inputs(n: int = 16, shape: tuple[int, ...] = (1, 8, 8), seed: int = 1) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, *shape)).astype(np.float32)


def test_the_example_matches_onnxruntime():
    x = np.load(EXAMPLE / "test.npz")["x"]
    ann = import_onnx(EXAMPLE / "ann.onnx")
    ours, _ = forward(ann, x)
    expected = ort_run(EXAMPLE / "ann.onnx", x)
    np.testing.assert_allclose(ours, expected, rtol=1e-4, atol=1e-4)
    assert ann.input_shape == (1, 8, 8)
    assert [type(layer).__name__ for _, layer in ann.layers] == [
        "Conv2d", "Relu", "AvgPool2d", "Flatten", "Dense", "Relu", "Dense"
    ]  # fmt: skip
    assert ann.layers[0][0] == "/conv1/Conv" and ann.relus == ("/relu1/Relu", "/relu2/Relu")
    assert any("BatchNormalization" in note for note in ann.notes)


def test_batchnorm_folding_is_exact(tmp_path):
    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1),
        nn.BatchNorm2d(4),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(256, 8),
        nn.BatchNorm1d(8),
        nn.ReLU(),
        nn.Linear(8, 3),
    )
    randomize_bn(model)
    path = export(model, tmp_path / "bn.onnx", do_constant_folding=False)
    assert [n.op_type for n in onnx.load(str(path)).graph.node].count("BatchNormalization") == 2
    ann = import_onnx(path)
    assert not any(type(layer).__name__ == "BatchNorm" for _, layer in ann.layers)  # folded away
    x = inputs()
    with torch.no_grad():  # the same float32 parameters, evaluated in float64 by torch, unfolded
        expected = model.double()(torch.from_numpy(x).double()).numpy()
    ours, _ = forward(ann, x)
    np.testing.assert_allclose(ours, expected, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(ours, ort_run(path, x), rtol=1e-4, atol=1e-4)


class MatMulNet(nn.Module):
    """MatMul + Add (a bias as its own node), GlobalAveragePool, view-flatten and dropout."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 6, 3, stride=2, padding=1)
        self.gap = nn.AdaptiveAvgPool2d(1)
        self.w = nn.Parameter(torch.randn(6, 5))
        self.b = nn.Parameter(torch.randn(5))
        self.drop = nn.Dropout(0.5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.gap(torch.relu(self.conv(x)))
        return self.drop(torch.relu(torch.matmul(h.view(h.size(0), -1), self.w) + self.b))


def test_matmul_add_global_pool_and_computed_reshape_match_onnxruntime(tmp_path):
    torch.manual_seed(1)
    path = export(MatMulNet(), tmp_path / "mm.onnx")
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert {"MatMul", "Add", "GlobalAveragePool", "Reshape", "Shape"} <= set(ops)
    ann = import_onnx(path)
    kinds = [type(layer) for _, layer in ann.layers]
    assert kinds == [Conv2d, Relu, AvgPool2d, Flatten, Dense, Relu]
    dense = ann.layers[4][1]
    assert dense.bias is not None  # the Add became the MatMul's bias
    x = inputs(seed=2)
    ours, _ = forward(ann, x)
    np.testing.assert_allclose(ours, ort_run(path, x), rtol=1e-4, atol=1e-5)


def test_every_unsupported_node_is_reported_at_once_with_its_name(tmp_path):
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.pool = nn.MaxPool2d(2)
            self.act = nn.Sigmoid()
            self.fc = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.fc(self.act(self.pool(torch.relu(self.conv(x)))).flatten(1)), dim=1)

    path = export(Bad(), tmp_path / "bad.onnx")
    with pytest.raises(ImportFailed) as info:
        import_onnx(path)
    by_node = {d.node: d for d in info.value.diagnostics}
    assert set(by_node) == {"/pool/MaxPool", "/act/Sigmoid", "/Softmax"}
    assert "MaxPool" in by_node["/pool/MaxPool"].message and "AvgPool" in by_node["/pool/MaxPool"].hint
    assert all(d.source == str(path) for d in info.value.diagnostics)


def test_a_residual_add_is_refused_naming_the_add_node(tmp_path):
    class Res(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(1, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 3, padding=1)
            self.fc = nn.Linear(256, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.c1(x))
            return self.fc(torch.relu(h + self.c2(h)).flatten(1))

    with pytest.raises(ImportFailed) as info:
        import_onnx(export(Res(), tmp_path / "res.onnx"))
    (d,) = info.value.diagnostics
    assert d.code == "IMT103" and d.node == "/Add" and "residual" in d.message and "SPEC" in d.hint


def test_unreadable_and_missing_files_are_load_errors(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all \x00\xff")
    with pytest.raises(ModelLoadError) as info:
        import_onnx(junk)
    assert info.value.code == "LOD101"
    with pytest.raises(ModelLoadError) as info:
        import_onnx(tmp_path / "missing.onnx")
    assert info.value.code == "LOD003"
