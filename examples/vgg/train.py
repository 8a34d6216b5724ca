"""A VGG-style spiking CNN on CIFAR-sized input (3x32x32): the large-network example for mapping and reports.

CIFAR cannot be downloaded here, so the data are scikit-learn's 8x8 digits upscaled to 32x32
(nearest neighbour) and repeated on 3 channels: real images at CIFAR's size and layout.
Run from the repository root:  python examples/vgg/train.py
Writes examples/vgg/model.pt (torch.save of the whole module) and examples/vgg/test_data.npz.
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

import snncc.nn as snn

HERE = Path(__file__).resolve().parent
SEED = 0
STEPS = 4
WIDTHS = (16, 32, 64)


def build_model(widths: tuple[int, int, int] = WIDTHS, steps: int = STEPS) -> snn.SNN:
    """Three VGG blocks of two 3x3 convs (BN, LIF) and a 2x2 average pool, then a spiking dense layer."""
    layers: list[nn.Module] = []
    channels = 3
    for width in widths:
        for _ in range(2):
            layers += [nn.Conv2d(channels, width, 3, padding=1), nn.BatchNorm2d(width), snn.LIF(tau=2.0, v_reset=0.0)]
            channels = width
        layers.append(nn.AvgPool2d(2))
    layers += [nn.Flatten(), nn.Linear(channels * 16, 128), snn.LIF(tau=2.0, v_reset=0.0), nn.Linear(128, 10)]
    return snn.SNN(nn.Sequential(*layers), steps=steps, readout="mean")


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    digits = load_digits()
    images = np.kron(digits.images / 16.0, np.ones((4, 4)))  # 8x8 -> 32x32, nearest neighbour
    x = np.repeat(images[:, None], 3, axis=1).astype(np.float32)  # (N, 3, 32, 32)
    y = digits.target.astype(np.int64)
    return train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)  # type: ignore[return-value]


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        predicted = torch.cat([model(torch.from_numpy(x[i : i + 128])) for i in range(0, len(x), 128)]).argmax(1)
    return float(np.mean(predicted.numpy() == y))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--out", type=Path, default=HERE)
    args = parser.parse_args()
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    began = time.perf_counter()
    x_train, x_test, y_train, y_test = load_split()
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    order = torch.Generator().manual_seed(SEED)
    for epoch in range(args.epochs):
        model.train()
        for idx in torch.randperm(len(xt), generator=order).split(32):
            optimizer.zero_grad()
            loss_fn(model(xt[idx]), yt[idx]).backward()
            optimizer.step()
        print(f"epoch {epoch + 1}: test accuracy {accuracy(model, x_test, y_test):.4f}", flush=True)
    model.eval()
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model, args.out / "model.pt")
    np.savez_compressed(args.out / "test_data.npz", x=x_test, y=y_test)  # upscaled digits compress well
    print(f"float test accuracy {accuracy(model, x_test, y_test):.4f} ({time.perf_counter() - began:.0f} s)")


if __name__ == "__main__":
    main()
