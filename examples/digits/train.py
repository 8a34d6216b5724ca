"""Train the bundled example: a small convolutional SNN on scikit-learn's 8x8 digits.

Run from the repository root:  python examples/digits/train.py
Writes examples/digits/model.pt (the whole module, saved with torch.save) and
examples/digits/test_data.npz (the held-out split: x float32 (N, 1, 8, 8), y int64 (N,)).
``--neuron NAME`` trains the same network with another neuron model of snncc.nn (the models
in examples/neurons/ were made this way).
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
CALIBRATION_SAMPLES = 256  # training samples in calib_data.npz
STEPS = 8
CHANNELS = 8
HIDDEN = 64


# neuron model name -> (factory taking the layer's per-sample shape, readout over time)
NEURONS = {
    "lif": (lambda shape: snn.LIF(tau=2.0, v_reset=0.0), "mean"),
    "lif-soft": (lambda shape: snn.LIF(tau=2.0, v_reset=None), "mean"),
    "if": (lambda shape: snn.IF(v_reset=0.0), "mean"),
    "if-soft": (lambda shape: snn.IF(v_reset=None), "mean"),
    "plif": (lambda shape: snn.PLIF(init_tau=2.0, v_reset=0.0), "mean"),
    "klif": (lambda shape: snn.KLIF(tau=2.0, k=1.0, v_reset=0.0), "mean"),
    "clif": (lambda shape: snn.CLIF(tau=2.0), "mean"),
    "imp": (lambda shape: snn.IMPLIF(shape, tau=2.0, v_reset=0.0), "last"),
    "dsr-if": (lambda shape: snn.DSRIF(vth=1.0, alpha=0.5), "mean"),
    "dsr-lif": (lambda shape: snn.DSRLIF(tau=1.0, delta_t=0.05, vth=0.3, alpha=0.3), "mean"),
}


def build_model(channels: int = CHANNELS, hidden: int = HIDDEN, steps: int = STEPS, neuron: str = "lif") -> snn.SNN:
    """Conv-BN-neuron-pool, then a spiking hidden layer and a linear readout over the steps.

    The default LIF resets hard to 0: Loihi 1 has no soft reset.
    """
    make, readout = NEURONS[neuron]
    body = nn.Sequential(
        nn.Conv2d(1, channels, 3, padding=1),
        nn.BatchNorm2d(channels),
        make((channels, 8, 8)),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(channels * 16, hidden),
        make((hidden,)),
        nn.Linear(hidden, 10),
    )
    return snn.SNN(body, steps=steps, readout=readout)


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Stratified 75/25 split of the 1797 digits; pixels 0..16 scaled to [0, 1], shape (1, 8, 8)."""
    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, stratify=y, random_state=SEED)
    return x_train, y_train, x_test, y_test


def accuracy(model: nn.Module, x: np.ndarray, y: np.ndarray) -> float:
    model.eval()
    with torch.no_grad():
        predicted = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    return float(np.mean(predicted == y))


def train(
    epochs: int, batch_size: int = 32, lr: float = 1e-2, neuron: str = "lif"
) -> tuple[snn.SNN, np.ndarray, np.ndarray]:
    torch.manual_seed(SEED)
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    x_train, y_train, x_test, y_test = load_split()
    model = build_model(neuron=neuron)
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
            loss = loss_fn(model(xt[idx]), yt[idx])
            loss.backward()
            optimizer.step()
            total += loss.item() * len(idx)
        schedule.step()
        print(f"epoch {epoch + 1:2d}  loss {total / len(xt):.4f}  test accuracy {accuracy(model, x_test, y_test):.4f}")
    model.eval()
    return model, x_test, y_test


def write_calibration_data(out: Path, samples: int = CALIBRATION_SAMPLES) -> None:
    """calib_data.npz: the first training samples, what `snncc compile` calibrates on by default, so
    that no scored test sample is seen by calibration."""
    x_train, y_train, _, _ = load_split()
    np.savez(out / "calib_data.npz", x=x_train[:samples].astype(np.float32), y=y_train[:samples].astype(np.int64))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=HERE, help="folder for model.pt and test_data.npz")
    parser.add_argument("--neuron", choices=sorted(NEURONS), default="lif", help="neuron model (default lif)")
    args = parser.parse_args()
    began = time.perf_counter()
    model, x_test, y_test = train(args.epochs, neuron=args.neuron)
    acc = accuracy(model, x_test, y_test)
    args.out.mkdir(parents=True, exist_ok=True)
    name = "model.pt" if args.neuron == "lif" else f"{args.neuron}.pt"
    torch.save(model, args.out / name)  # the whole module, as users save it
    np.savez(args.out / "test_data.npz", x=x_test.astype(np.float32), y=y_test.astype(np.int64))
    write_calibration_data(args.out)
    print(f"float test accuracy {acc:.4f} on {len(y_test)} held-out digits ({time.perf_counter() - began:.1f} s)")


if __name__ == "__main__":
    main()
