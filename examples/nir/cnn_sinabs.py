"""Check snncc's reading of the NIR paper's published CNN (neuromorphs/NIR paper/02_cnn/cnn_sinabs.nir,
a sinabs export for N-MNIST: Conv2d, IF, SumPool2d, Flatten, Affine) and write data to compile it on.

    .venv/bin/python examples/nir/cnn_sinabs.py PATH/TO/cnn_sinabs.nir [--out digits34.npz]

1. Every op's shape as snncc reads the file (strides and paddings are arrays in nir 1.0.8) equals the
   output type the file records for that node.
2. On random spike trains (N-MNIST-like: 2 polarities x 34 x 34, 5 % of pixels per step), snncc's
   float model at --dt 1 gives the spikes that norse's own NIR reader (norse.torch.from_nir, run as the
   NIR paper's 02_cnn/norse_apply.ipynb runs it) gives, layer by layer and step by step; at
   --dt 1e-3 nothing fires.
3. Writes the bundled 8x8 test digits as spike frames, upscaled 3x into a 34 x 34 frame: a spike in
   both polarities at every step where the pixel is above 0.5; with their labels.  The network was
   trained on N-MNIST, not on these, but it recognizes many.

The NIR paper's own recorded activity (02_cnn/*_activity.npy, cnn_numbers.npy) is not usable here: the
inputs it was recorded on are too large for the repository snapshots this project can read.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import nir
import numpy as np
import torch

from snncc.backends import Record, get_backend
from snncc.importers.nir import import_nir, read_nir

REPO = Path(__file__).resolve().parents[2]
STEPS = 30


def check_shapes(path: Path) -> None:
    file = read_nir(path)
    graph = import_nir(file, dt=1.0, steps=STEPS, readout="sum")
    for name, op in graph.nodes:
        want = tuple(int(s) for s in next(iter(file.nodes[name].output_type.values())))
        assert tuple(op.shape) == want, (name, op.shape, want)
    print(f"shapes: all {len(graph.nodes)} nodes as the file's output types")


def norse_spikes(path: Path, x: np.ndarray) -> dict[str, np.ndarray]:
    """Spikes of every IF layer, from norse's from_nir, one sample at a time (norse reads the file's
    Flatten(start_dim=0) as torch's, which would flatten a batch too)."""
    import norse.torch

    net = norse.torch.from_nir(nir.read(str(path)))
    layers = {name: m for name, m in net.named_children() if isinstance(m, norse.torch.IAFCell)}
    recorded: dict[str, list] = {name: [] for name in layers}
    for name, module in layers.items():
        module.register_forward_hook(lambda _m, _i, out, name=name: recorded[name].append(out[0].numpy()))
    with torch.no_grad():
        for sample in torch.tensor(x, dtype=torch.float32):
            state = None
            for step in sample:
                _, state = net(step, state)
    return {name: np.stack(v).reshape(len(x), STEPS, *v[0].shape) for name, v in recorded.items()}


def check_against_norse(path: Path, samples: int = 8) -> None:
    x = (np.random.default_rng(0).random((samples, STEPS, 2, 34, 34)) < 0.05).astype(np.float64)
    want = norse_spikes(path, x)
    for dt in (1.0, 1e-3):
        graph = import_nir(read_nir(path), dt=dt, steps=STEPS, readout="sum")
        run = get_backend("floatsim").run(graph, {"input": x}, record=Record(spikes=True))
        same = all(np.array_equal(run.spikes[name], spikes) for name, spikes in want.items())
        rates = ", ".join(f"{name}: {run.spikes[name].mean():.3f}" for name, _ in graph.nodes if name in want)
        print(f"--dt {dt:g}: firing rates {rates}; spike for spike as norse: {same}")
        assert same == (dt == 1.0)


def write_digits(out: Path) -> None:
    digits = np.load(REPO / "examples" / "digits" / "test_data.npz")
    images = np.kron(digits["x"][:, 0], np.ones((3, 3)))  # 24 x 24
    x = np.zeros((len(images), 2, 34, 34))
    x[:, :, 5:29, 5:29] = images[:, None] > 0.5
    np.savez(out, x=x, y=digits["y"])
    print(f"wrote {out}: x {x.shape}, y {digits['y'].shape}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("nir_file", type=Path)
    parser.add_argument("--out", type=Path, default=Path("digits34.npz"))
    args = parser.parse_args()
    check_shapes(args.nir_file)
    check_against_norse(args.nir_file)
    write_digits(args.out)
