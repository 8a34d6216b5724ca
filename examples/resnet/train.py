"""Train the residual ANN-to-SNN conversion example: a tiny ResNet on scikit-learn's 8x8 digits.

Run from the repository root:  .venv/bin/python examples/resnet/train.py
Writes resnet.onnx next to this file: the trained ANN, exported with torch.onnx.export(..., dynamo=False),
batch axis dynamic, without constant folding (so the file keeps its BatchNormalization nodes, on the
projection skip path too, for snncc to fold).  It uses the same split as examples/ann (whose
calib.npz and test.npz serve as calibration and test data).
Plain torch, no snncc: the model is what a user would bring.  Deterministic: fixed seeds,
deterministic kernels, 2 threads.

Architecture (torchvision's BasicBlock, smaller): conv stem -> ReLU -> a block with an identity skip
-> a block with a stride-2 1x1-conv + BatchNorm projection skip -> global average pool -> linear.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from torch import nn

HERE = Path(__file__).resolve().parent
SEED = 0


class BasicBlock(nn.Module):
    """relu(bn2(conv2(relu(bn1(conv1(x))))) + skip(x)); skip = identity, or 1x1 conv + BN when the shape changes."""

    def __init__(self, c_in: int, c_out: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        self.downsample = None
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class DigitsResNet(nn.Module):
    def __init__(self, width: int = 8) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(width)
        self.relu = nn.ReLU()
        self.layer1 = BasicBlock(width, width)
        self.layer2 = BasicBlock(width, 2 * width, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(2 * width, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer2(self.layer1(self.relu(self.bn1(self.conv1(x)))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 75/25 split of the 1797 digits (as examples/ann); pixels /16 -> [0, 1], (1, 8, 8)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    return x_train, y_train, x_test, y_test


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        return float(np.mean(model(torch.from_numpy(x)).argmax(dim=1).numpy() == y))


def train(x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int = 32, lr: float = 3e-3) -> DigitsResNet:
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    model = DigitsResNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    order = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        model.train()
        permutation = torch.randperm(len(xt), generator=order)
        for start in range(0, len(xt), batch_size):
            idx = permutation[start : start + batch_size]
            optimizer.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            optimizer.step()
        schedule.step()
    return model.eval()


def export(model: nn.Module, path: Path) -> None:
    torch.onnx.export(
        model,
        (torch.zeros(1, 1, 8, 8),),
        str(path),
        dynamo=False,
        do_constant_folding=False,
        input_names=["image"],
        output_names=["logits"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        opset_version=17,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--out", type=Path, default=HERE / "resnet.onnx")
    args = parser.parse_args()
    began = time.perf_counter()
    x_train, y_train, x_test, y_test = load_split()
    model = train(x_train, y_train, args.epochs)
    export(model, args.out)
    print(
        f"ANN test accuracy {accuracy(model, x_test, y_test):.4f} on {len(y_test)} held-out digits "
        f"({time.perf_counter() - began:.1f} s)"
    )


if __name__ == "__main__":
    main()
