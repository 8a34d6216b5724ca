"""Train a spiking network shaped for one SynSense Xylo core on scikit-learn's 8x8 digits.

Run from the repository root:  python examples/xylo_digits/train.py
Xylo Audio 2 has 16 input channels and 8 output neurons, so the model sees each digit as its
4x4 average-pooled image (16 channels, presented every step) and tells the digits 0-7 apart (8
classes).  Its neurons are current-based LIFs with alpha = beta = 1 − 2^−k, the decays Xylo
computes as bit shifts, soft reset, and no biases (Xylo starts every layer from rest).
Writes model.pt (the whole module, torch.save) and test_data.npz (x float32 (N, 16), y int64).
Deterministic: fixed seeds, deterministic kernels, 2 threads.
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
STEPS = 8
HIDDEN = 64
CLASSES = 8  # Xylo Audio 2's output neurons


def build_model(hidden: int = HIDDEN, steps: int = STEPS) -> snn.SNN:
    body = nn.Sequential(
        nn.Linear(16, hidden, bias=False),
        snn.CubaLIF(alpha=0.5, beta=0.75),  # dash_syn 1, dash_mem 2
        nn.Linear(hidden, CLASSES, bias=False),
        snn.CubaLIF(alpha=0.5, beta=0.75),
    )
    return snn.SNN(body, steps=steps, readout="mean")  # output firing rate


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Digits 0-7, each 8x8 image averaged over 2x2 blocks into 16 values in [0, 1]; stratified 75/25."""
    digits = load_digits()
    keep = digits.target < CLASSES
    images = digits.images[keep] / 16.0
    x = images.reshape(-1, 4, 2, 4, 2).mean(axis=(2, 4)).reshape(-1, 16).astype(np.float32)
    y = digits.target[keep].astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    return x_train, y_train, x_test, y_test


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    return float(np.mean(predicted == y))


def train(epochs: int, batch_size: int = 32, lr: float = 1e-2) -> tuple[snn.SNN, np.ndarray, np.ndarray]:
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    x_train, y_train, x_test, y_test = load_split()
    model = build_model()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
    loss_fn = nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x_train), torch.from_numpy(y_train)
    order = torch.Generator().manual_seed(SEED)
    for epoch in range(epochs):
        model.train()
        permutation = torch.randperm(len(xt), generator=order)
        total = 0.0
        for start in range(0, len(xt), batch_size):
            idx = permutation[start : start + batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(xt[idx]) * 10.0, yt[idx])  # rates in [0, 1]: sharpen the logits
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        schedule.step()
        print(f"epoch {epoch + 1:2d}  loss {total / len(xt):.4f}  test accuracy {accuracy(model, x_test, y_test):.4f}")
    model.eval()
    return model, x_test, y_test


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for model.pt and test_data.npz")
    args = parser.parse_args()
    began = time.perf_counter()
    model, x_test, y_test = train(args.epochs)
    acc = accuracy(model, x_test, y_test)
    args.out.mkdir(parents=True, exist_ok=True)
    torch.save(model, args.out / "model.pt")  # the whole module, as users save it
    np.savez(args.out / "test_data.npz", x=x_test.astype(np.float32), y=y_test.astype(np.int64))
    print(f"float test accuracy {acc:.4f} on {len(y_test)} held-out digits ({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":
    main()
