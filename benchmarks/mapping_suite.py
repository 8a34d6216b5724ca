"""The networks benchmarks/mapping.py maps: integer graphs for one target each.

Networks with a bundled model (the digits example, the VGG example) and the NIR paper's N-MNIST CNN
(its architecture rebuilt in torch: the .nir file is not in the repository) go through snncc's own
import and quantization (`snncc check`'s passes, no simulation).  The ResNet-style net, the wide MLP
and the synthetic 1 M-neuron net are integer graphs built directly (the torch importer takes chains
only; mapping needs shapes and nonzero weights, not trained values): spike input, random nonzero
8-bit weights.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from torch import nn

import snncc.nn as snn
from snncc.compile import CompileOptions, preflight
from snncc.data import Dataset
from snncc.importers.torch import import_torch
from snncc.ir import LOIHI, Const, Graph, GraphBuilder, GraphMeta, IntConv2d, IntDense, IntInput, IntLIF, Output, Stage
from snncc.options import DataOptions

ROOT = Path(__file__).resolve().parents[1]


# quantize for a target with the same numerics where one chip is too small: `snncc check` maps too
SAME_NUMERICS = {"loihi": "nahuku32"}


def _deployed(model: str | Path, target: str, data: Path) -> Graph:
    return preflight(
        Path(model), CompileOptions(target=SAME_NUMERICS.get(target, target), data=DataOptions(file=data))
    ).int_graph


def digits(target: str) -> Graph:
    return _deployed(ROOT / "examples/digits/model.pt", target, ROOT / "examples/digits/test_data.npz")


def vgg(target: str) -> Graph:
    return _deployed(ROOT / "examples/vgg/model.pt", target, ROOT / "examples/vgg/test_data.npz")


def nir_cnn(target: str) -> Graph:
    """The NIR paper's N-MNIST CNN (neuromorphs/NIR paper/02_cnn/cnn_sinabs.nir, README): 2x34x34 ->
    16c5 s2 p1 -> 16c3 p1 -> sum pool 2 -> 8c3 p1 -> sum pool 2 -> 256 -> 10, IF neurons; 8,970 neurons."""
    torch.manual_seed(0)
    body = nn.Sequential(
        nn.Conv2d(2, 16, 5, stride=2, padding=1), snn.IF(),
        nn.Conv2d(16, 16, 3, padding=1), snn.IF(), nn.AvgPool2d(2),
        nn.Conv2d(16, 8, 3, padding=1), snn.IF(), nn.AvgPool2d(2),
        nn.Flatten(), nn.Linear(128, 256), snn.IF(), nn.Linear(256, 10), snn.IF(),
    )  # fmt: skip
    model = snn.SNN(body, steps=16, readout="sum").eval()
    x = (np.random.default_rng(0).random((64, 16, 2, 34, 34)) < 0.05).astype(np.float32)
    graph = import_torch(model, (2, 34, 34), source="benchmark:nir-cnn")
    dataset = Dataset(Path("nir-cnn"), x, None)
    options = CompileOptions(target=SAME_NUMERICS.get(target, target))
    return preflight("nir-cnn", options, imported=(dataset, graph)).int_graph


class _Net:
    """An integer graph built layer by layer: binary spike input, random nonzero 8-bit weights."""

    def __init__(self, shape: tuple[int, ...], seed: int = 0) -> None:
        self.b = GraphBuilder()
        self.rng = np.random.default_rng(seed)
        self.b.add("x", IntInput(shape=shape, bits=1, encoding="bitplane"))
        self.shapes = {"x": shape}
        self.n = 0

    def _weights(self, shape: tuple[int, ...]) -> Const:
        w = self.rng.integers(1, 100, size=shape) * self.rng.choice([-2, 2], size=shape)
        return Const(w.astype(np.int32))

    def _lif(self, synapses: list[str], shape: tuple[int, ...]) -> str:
        z = Const(np.zeros(shape, dtype=np.int32))
        name = f"lif{self.n}"
        self.n += 1
        self.b.add(name, IntLIF(shape=shape, du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z), synapses)
        self.shapes[name] = shape
        return name

    def conv(self, src: str, c_out: int, k: int = 3, stride: int = 1) -> str:
        """A conv synapse (padding k // 2) into a new layer of neurons."""
        _, h, w = self.shapes[src]
        return self._lif([self.conv_synapse(src, c_out, k, stride)], (c_out, -(-h // stride), -(-w // stride)))

    def conv_synapse(self, src: str, c_out: int, k: int = 3, stride: int = 1) -> str:
        c_in, h, w = self.shapes[src]
        shape = (c_out, -(-h // stride), -(-w // stride))
        name = f"syn{self.n}_{len(self.b._nodes)}"
        self.b.add(
            name,
            IntConv2d(shape=shape, weight=self._weights((c_out, c_in, k, k)), stride=stride, padding=k // 2),
            [src],
        )
        return name

    def dense(self, src: str, n: int) -> str:
        name = f"fc{self.n}"
        self.b.add(name, IntDense(shape=(n,), weight=self._weights((n, int(np.prod(self.shapes[src]))))), [src])
        return self._lif([name], (n,))

    def build(self, last: str) -> Graph:
        self.b.add("out", Output(shape=self.shapes[last]), [last])
        return self.b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=LOIHI))


def resnet(target: str) -> Graph:
    """ResNet-style CIFAR net (3x32x32): a 16-channel stem, three basic blocks (16, 32 stride 2, 64 stride 2)
    whose second conv and skip (identity or a 1x1 projection) feed one layer, pooled into a 10-way readout."""
    net = _Net((3, 32, 32))
    x = net.conv("x", 16)
    for c_out, stride in ((16, 1), (32, 2), (64, 2)):
        c_in, h, _ = net.shapes[x]
        mid = net.conv(x, c_out, stride=stride)
        main = net.conv_synapse(mid, c_out)
        skip = net.conv_synapse(x, c_out, k=1, stride=stride) if stride > 1 or c_in != c_out else None
        if skip is None:  # identity skip: a 1x1 conv with one nonzero tap per channel
            eye = np.eye(c_out, dtype=np.int32)[:, :, None, None] * 64
            skip = f"skip{net.n}"
            net.b.add(skip, IntConv2d(shape=(c_out, h, h), weight=Const(eye)), [x])
        x = net._lif([main, skip], (c_out, -(-h // stride), -(-h // stride)))
    return net.build(net.dense(x, 10))


def wide_mlp(target: str) -> Graph:
    """784 spike inputs -> 2048 -> 2048 -> 10: dense layers far wider than one core."""
    net = _Net((784,))
    x = net.dense("x", 2048)
    x = net.dense(x, 2048)
    return net.build(net.dense(x, 10))


def synthetic_1m(target: str) -> Graph:
    """1,048,576 neurons: 2x128x128 spikes -> three 16c3 layers at 128x128 -> 32c3 stride 2 -> 32c3 (64x64)."""
    net = _Net((2, 128, 128))
    x = net.conv("x", 16)
    x = net.conv(x, 16)
    x = net.conv(x, 16)
    x = net.conv(x, 32, stride=2)
    return net.build(net.conv(x, 32))


SUITE: dict[str, Callable[[str], Graph]] = {
    "digits": digits,
    "nir-cnn": nir_cnn,
    "vgg": vgg,
    "resnet": resnet,
    "wide-mlp": wide_mlp,
    "synthetic-1m": synthetic_1m,
}
