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

from snncc.ann import Add, Relu, forward
from snncc.errors import ImportFailed, ModelLoadError
from snncc.importers.onnx import import_onnx
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


class Block(nn.Module):
    """torchvision's BasicBlock: relu(bn2(conv2(relu(bn1(conv1(x))))) + skip(x)), skip = identity or 1x1 conv + BN."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.bn2(self.conv2(torch.relu(self.bn1(self.conv1(x)))))
        return torch.relu(out + (x if self.downsample is None else self.downsample(x)))


class ResNet(nn.Module):
    def __init__(self, flatten: str = "flatten") -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU())
        self.blocks = nn.Sequential(Block(4, 4), Block(4, 6, stride=2))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(6, 3)
        self.flatten = flatten

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.pool(self.blocks(self.stem(x)))
        return self.fc(torch.flatten(h, 1) if self.flatten == "flatten" else h.view(h.size(0), -1))


@pytest.mark.parametrize(("flatten", "folding"), [("flatten", False), ("view", True)])
def test_residual_blocks_match_onnxruntime(tmp_path, flatten, folding):
    torch.manual_seed(3)
    model = ResNet(flatten)
    randomize_bn(model)
    path = export(model, tmp_path / "res.onnx", do_constant_folding=folding)
    ops = [n.op_type for n in onnx.load(str(path)).graph.node]
    assert ops.count("Add") == 2 and ("Reshape" if flatten == "view" else "Flatten") in ops
    assert ops.count("BatchNormalization") == (0 if folding else 6)  # torch folds BN into convs itself when folding
    ann = import_onnx(path)
    x = inputs(seed=4)
    ours, _ = forward(ann, x)
    np.testing.assert_allclose(ours, ort_run(path, x), rtol=1e-4, atol=1e-4)
    if not folding:  # float64 torch, BN unfolded: snncc's folds are exact (torch's own folds round to float32)
        with torch.no_grad():
            expected = model.double()(torch.from_numpy(x).double()).numpy()
        np.testing.assert_allclose(ours, expected, rtol=1e-10, atol=1e-10)
    adds = [n for n in ann.nodes if isinstance(n.layer, Add)]
    assert len(adds) == 2
    identity, projection = adds
    assert ann.node(identity.inputs[1]).layer == Relu((4, 8, 8))  # the skip reads the stem's ReLU itself
    assert isinstance(ann.node(projection.inputs[1]).layer, Conv2d)  # the 1x1 projection conv (BN folded in)
    assert ann.node(projection.inputs[1]).layer.bias is not None


def test_joins_snncc_cannot_sum_are_refused_naming_the_node(tmp_path):
    class Bad(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.c1 = nn.Conv2d(1, 4, 3, padding=1)
            self.c2 = nn.Conv2d(4, 4, 3, padding=1)
            self.c3 = nn.Conv2d(8, 4, 3, padding=1)
            self.fc = nn.Linear(256, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.c1(x))
            s = self.c2(h + self.c2(h))  # a sum fed to a conv, not to a ReLU
            c = torch.relu(self.c3(torch.cat([h, torch.relu(s)], dim=1)))  # concatenation
            return self.fc(c.flatten(1))

    with pytest.raises(ImportFailed) as info:
        import_onnx(export(Bad(), tmp_path / "bad.onnx"))
    by_node = {d.node: d for d in info.value.diagnostics}
    assert set(by_node) == {"/c2_1/Conv", "/Concat"}
    assert by_node["/c2_1/Conv"].code == "IMT103" and "followed by a Relu" in by_node["/c2_1/Conv"].message
    assert by_node["/Concat"].code == "IMT103" and "only Add/Sum" in by_node["/Concat"].message


def test_batchnorm_of_a_tensor_another_branch_reads_is_not_folded(tmp_path):
    class Shared(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = nn.Conv2d(1, 4, 3, padding=1)
            self.bn = nn.BatchNorm2d(4)
            self.fc = nn.Linear(256, 3)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.conv(x)  # read by the batch norm and, unnormalized, by the skip
            return self.fc(torch.relu(torch.relu(self.bn(h)) + torch.relu(h)).flatten(1))

    with pytest.raises(ImportFailed) as info:
        import_onnx(export(Shared(), tmp_path / "shared.onnx", do_constant_folding=False))
    (d,) = info.value.diagnostics
    assert d.node == "/bn/BatchNormalization" and "other nodes read too" in d.message


def test_maxpool_is_refused_unless_approximated_as_average_pooling(tmp_path):
    torch.manual_seed(5)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(64, 3))
    path = export(model, tmp_path / "mp.onnx")
    with pytest.raises(ImportFailed) as info:
        import_onnx(path)
    (d,) = info.value.diagnostics
    assert d.node == "/2/MaxPool" and "--approximate maxpool-as-avgpool" in d.hint
    ann = import_onnx(path, ("maxpool-as-avgpool",))
    assert ann.approximated == (("maxpool-as-avgpool", "/2/MaxPool"),)
    assert any("/2/MaxPool" in note and "average pooling" in note for note in ann.notes)
    avg = nn.Sequential(*model[:2], nn.AvgPool2d(2), *model[3:])  # the same weights, average pooling
    x = inputs(seed=6)
    with torch.no_grad():
        expected = avg.double()(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(forward(ann, x)[0], expected, rtol=1e-10, atol=1e-10)
    with pytest.raises(ImportFailed) as info:
        import_onnx(path, ("maxpool-as-sumpool",))
    assert info.value.code == "IMT030" and "maxpool-as-avgpool" in info.value.diagnostics[0].hint


def test_unreadable_and_missing_files_are_load_errors(tmp_path):
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a protobuf at all \x00\xff")
    with pytest.raises(ModelLoadError) as info:
        import_onnx(junk)
    assert info.value.code == "LOD101"
    with pytest.raises(ModelLoadError) as info:
        import_onnx(tmp_path / "missing.onnx")
    assert info.value.code == "LOD003"


class MeanPoolNet(nn.Module):
    """Global pooling written as x.mean(axes): the dynamo exporter's ReduceMean with keepdims=0."""

    def __init__(self, axes: tuple[int, ...] = (2, 3)) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 5, 3, padding=1)
        self.fc = nn.Linear(5 if axes == (2, 3) else 64, 3)
        self.axes = axes

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.flatten(torch.relu(self.conv(x)).mean(self.axes), 1))


def dynamo_export(model: nn.Module, path: Path) -> Path:
    """torch.onnx.export as torch 2.13 runs it by default (dynamo, onnxscript, weights beside the file)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model.eval(), (torch.zeros(1, 1, 8, 8),), str(path), verbose=False)
    return path


@pytest.mark.slow  # torch's dynamo ONNX export of a ResNet
@pytest.mark.parametrize("model", ["resnet", "mean"])
def test_the_default_dynamo_export_converts(tmp_path, model):
    torch.manual_seed(5)
    net = ResNet() if model == "resnet" else MeanPoolNet()
    randomize_bn(net)
    path = dynamo_export(net, tmp_path / "net.onnx")
    reduce = [n for n in onnx.load(str(path)).graph.node if n.op_type == "ReduceMean"]
    assert len(reduce) == 1 and [a.i for a in reduce[0].attribute if a.name == "keepdims"] == [int(model == "resnet")]
    ann = import_onnx(path)
    assert sum(isinstance(layer, AvgPool2d) for _, layer in ann.layers) == 1
    x = inputs(seed=6)
    ours, _ = forward(ann, x)
    with torch.no_grad():
        expected = net.double()(torch.from_numpy(x).double()).numpy()
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)  # the file's weights are float32


@pytest.mark.slow  # torch's dynamo ONNX export
def test_a_mean_over_other_axes_is_refused_naming_the_node(tmp_path):
    path = dynamo_export(MeanPoolNet(axes=(1,)), tmp_path / "channel_mean.onnx")
    with pytest.raises(ImportFailed) as err:
        import_onnx(path)
    (d,) = err.value.diagnostics
    assert d.code == "IMT102" and "ReduceMean over axes [1]" in d.message and d.node
    assert "global average pooling" in d.message


@pytest.mark.slow  # torch's dynamo ONNX export (its first use costs seconds)
def test_weights_kept_beside_the_model_must_be_there(tmp_path):
    path = dynamo_export(nn.Sequential(nn.Flatten(), nn.Linear(64, 32)), tmp_path / "net.onnx")
    weights = tmp_path / "net.onnx.data"
    # torch's default exporter keeps weights of a kilobyte or more in a second file
    stored = onnx.load(str(path), load_external_data=False).graph.initializer
    assert any(onnx.external_data_helper.uses_external_data(t) for t in stored)
    moved = weights.rename(tmp_path / "elsewhere.data")
    with pytest.raises(ModelLoadError) as info:
        import_onnx(path)
    assert info.value.code == "LOD102" and "net.onnx.data" in str(info.value)
    assert "copy that file next to the .onnx file" in info.value.diagnostics[0].hint
    moved.rename(weights)
    assert [type(layer) for _, layer in import_onnx(path).layers] == [Flatten, Dense]


class ViewsItsInput(nn.Module):
    """A CNN that takes flat rows: forward starts with x.view(-1, 1, 8, 8), as MNIST tutorials write it."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.view(-1, 1, 8, 8)
        x = nn.functional.avg_pool2d(torch.relu(self.conv(x)), 2)
        return self.fc(torch.flatten(x, 1))


@pytest.mark.parametrize("exporter", ["dynamo", "legacy"])
def test_a_reshape_of_the_input_makes_the_reshaped_sample_the_models_input(tmp_path, exporter):
    torch.manual_seed(7)
    net = ViewsItsInput().eval()
    path = tmp_path / "views.onnx"
    if exporter == "dynamo":
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(1, 64),), str(path), verbose=False)
    else:
        export(net, path, shape=(64,))
    assert onnx.load(str(path)).graph.node[int(exporter == "legacy")].op_type == "Reshape"  # leads the graph
    ann = import_onnx(path)
    assert ann.input_shape == (1, 8, 8) and ann.file_input_shape == (64,)
    assert any("Reshape" in note and "(1, 8, 8)" in note for note in ann.notes)
    x = inputs(seed=8, shape=(64,))
    ours, _ = forward(ann, x.reshape(-1, 1, 8, 8))
    expected = np.concatenate([ort_run(path, row[None]) for row in x])  # the dynamo export fixes batch 1
    np.testing.assert_allclose(ours, expected, rtol=1e-5, atol=1e-5)


class ReshapesInside(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.fc = nn.Linear(4 * 8 * 8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.relu(self.conv(x)).reshape(-1, 8, 4, 8)  # mixes channels and rows: no layer does that
        return self.fc(torch.flatten(x, 1))


def test_a_reshape_after_a_layer_is_still_refused_naming_it(tmp_path):
    with pytest.raises(ImportFailed) as info:
        import_onnx(export(ReshapesInside(), tmp_path / "inside.onnx"))
    (d,) = info.value.diagnostics
    assert d.code == "IMT102" and d.node == "/Reshape" and "reshaping the model's input" in d.message
