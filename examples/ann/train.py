"""Train the ANN-to-SNN conversion example: a small ReLU CNN on scikit-learn's 8x8 digits.

Run from the repository root:  .venv/bin/python examples/ann/train.py
Writes, next to this file:
- ann.onnx: the trained ANN, exported with torch.onnx.export(..., dynamo=False), batch axis dynamic;
- calib.npz: 256 training images (x float32 (N, 1, 8, 8), y int64) for threshold balancing and
  bias/potential correction (the conversion never sees the test split);
- test.npz: the held-out split (450 images), the same split as examples/digits.
Plain torch, no snncc: the model is what a user would bring.  Deterministic: fixed seeds,
deterministic kernels, 2 threads.
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
CALIB_SAMPLES = 256


class DigitsCNN(nn.Module):
    """conv-BN-ReLU-avgpool, a ReLU hidden layer, linear logits.  AvgPool, not MaxPool: a max of
    spike trains is not the max of their rates, so conversion needs average pooling."""

    def __init__(self, channels: int = 8, hidden: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, channels, 3, padding=1)
        self.bn1 = nn.BatchNorm2d(channels)
        self.relu1 = nn.ReLU()
        self.pool1 = nn.AvgPool2d(2)
        self.flatten = nn.Flatten()
        self.fc1 = nn.Linear(channels * 16, hidden)
        self.relu2 = nn.ReLU()
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(hidden, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool1(self.relu1(self.bn1(self.conv1(x))))
        return self.fc2(self.drop(self.relu2(self.fc1(self.flatten(x)))))


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 75/25 split of the 1797 digits (as examples/digits); pixels /16 -> [0, 1], (1, 8, 8)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    return x_train, y_train, x_test, y_test


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        return float(np.mean(model(torch.from_numpy(x)).argmax(dim=1).numpy() == y))


def train(x: np.ndarray, y: np.ndarray, epochs: int, batch_size: int = 32, lr: float = 3e-3) -> DigitsCNN:
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    model = DigitsCNN()
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


def export(model: DigitsCNN, path: Path) -> None:
    """The TorchScript-based exporter (dynamo=False).  Without constant folding the file keeps its
    BatchNormalization node (snncc folds it into the conv, exactly) instead of a pre-folded conv."""
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
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for ann.onnx, calib.npz and test.npz")
    args = parser.parse_args()
    began = time.perf_counter()
    x_train, y_train, x_test, y_test = load_split()
    model = train(x_train, y_train, args.epochs)
    args.out.mkdir(parents=True, exist_ok=True)
    export(model, args.out / "ann.onnx")
    np.savez_compressed(args.out / "calib.npz", x=x_train[:CALIB_SAMPLES], y=y_train[:CALIB_SAMPLES])
    np.savez_compressed(args.out / "test.npz", x=x_test, y=y_test)
    print(
        f"ANN test accuracy {accuracy(model, x_test, y_test):.4f} on {len(y_test)} held-out digits "
        f"({time.perf_counter() - began:.1f} s)"
    )


if __name__ == "__main__":
    main()
