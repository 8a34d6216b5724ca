"""The integer networks the benchmarks run, built through snncc's own pipeline (import, quantize).

Each builder returns a Bench: the deployed integer graph and integer inputs of real images
(scikit-learn's 8x8 digits, resized to the network's input), so firing rates are those of a
network at work rather than of random noise.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sklearn.datasets import load_digits
from torch import nn

import snncc.nn as snn
from snncc.data import Dataset
from snncc.deploy import deploy
from snncc.importers.torch import import_torch, load_torch_model
from snncc.ir import Graph, IntInput
from snncc.options import CompileOptions
from snncc.passes.quantize import quantize_inputs

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Bench:
    name: str
    graph: Graph  # INTEGER stage
    inputs: dict[str, np.ndarray]  # integer inputs, (samples, *shape)

    def head(self, n: int) -> dict[str, np.ndarray]:
        return {k: v[:n] for k, v in self.inputs.items()}


def digits_images(side: int, samples: int) -> np.ndarray:
    """(samples, side, side) float32 in [0, 1]: the digits, nearest-neighbour upscaled and zero-padded."""
    images = load_digits().images / 16.0
    factor = side // 8
    up = np.kron(images, np.ones((factor, factor)))
    pad = (side - up.shape[-1]) // 2
    up = np.pad(up, ((0, 0), (pad, side - up.shape[-1] - pad), (pad, side - up.shape[-1] - pad)))
    reps = -(-samples // len(up))
    return np.concatenate([up] * reps)[:samples].astype(np.float32)


def _deployed(name: str, model: nn.Module, x: np.ndarray, target: str, *, per_step: bool = False) -> Bench:
    """``x``: (samples, *shape), or (samples, steps, *shape) with ``per_step``: the model's input at each step."""
    graph = import_torch(model, tuple(x.shape[2:] if per_step else x.shape[1:]), source=f"benchmark:{name}")
    dataset = Dataset(Path(name), x, None)
    options = CompileOptions(target=target)
    # calibrated on 64 of the samples, as `snncc compile --calib` would (float simulation included)
    deployment = deploy(Path(name), options, imported=(dataset, graph), calibration=dataset.head(64))
    inputs = quantize_inputs(deployment.int_graph, {deployment.input_name: x})
    return Bench(name, deployment.int_graph, inputs)


def dense_784_500_500_10(samples: int, steps: int = 16, seed: int = 0) -> Bench:
    """The 784-500-500-10 LIF network of the issue."""
    return dense_network(samples, steps=steps, hidden=500, seed=seed)


def dense_network(samples: int, *, steps: int = 16, hidden: int = 500, seed: int = 0) -> Bench:
    """784-H-H-10 LIF network, seeded weights scaled for sparse activity, rate-coded digits input."""
    torch.manual_seed(seed)
    body = nn.Sequential(
        nn.Linear(784, hidden), snn.LIF(tau=2.0, v_reset=0.0),
        nn.Linear(hidden, hidden), snn.LIF(tau=2.0, v_reset=0.0),
        nn.Linear(hidden, 10), snn.LIF(tau=2.0, v_reset=0.0),
    )  # fmt: skip
    with torch.no_grad():
        for layer, gain in ((body[0], 4.0), (body[2], 6.0), (body[4], 6.0)):
            layer.weight.mul_(gain)
    model = snn.SNN(body, steps=steps, readout="sum").eval()
    x = digits_images(28, samples).reshape(samples, 784)
    bench = _deployed(f"dense-784-{hidden}-{hidden}-10", model, x, "loihi")
    # rate-coded input: at each step a pixel of intensity p sends a full-scale value with probability p
    (name, full_scale), *_ = bench.inputs.items()
    fires = np.random.default_rng(seed).random((samples, steps, 784)) < x[:, None, :]
    per_step = np.where(fires, full_scale.max(), 0).astype(full_scale.dtype)  # as quantize_inputs types it
    return Bench(bench.name, bench.graph, {name: per_step})


def digits_conv(samples: int) -> Bench:
    """The bundled example (examples/digits/model.pt) on its own test images."""
    model = load_torch_model(ROOT / "examples/digits/model.pt")
    x = np.load(ROOT / "examples/digits/test_data.npz")["x"]
    x = np.concatenate([x] * -(-samples // len(x)))[:samples]
    return _deployed("digits-conv", model, x, "loihi")


def vgg_32x32(samples: int) -> Bench:
    """The VGG-style example (examples/vgg/model.pt, 3x32x32 input) deployed on Loihi 2."""
    model = load_torch_model(ROOT / "examples/vgg/model.pt")
    x = np.load(ROOT / "examples/vgg/test_data.npz")["x"]
    x = np.concatenate([x] * -(-samples // len(x)))[:samples]
    return _deployed("vgg-32x32", model, x, "loihi2")


def rate_coded_spikes(images: np.ndarray, steps: int, rate: float, seed: int) -> np.ndarray:
    """(samples, steps, *shape) binary spikes: pixel p fires with probability p·rate/mean(p), so
    that the mean input rate is ``rate`` and the pattern follows the image."""
    x = images / images.mean()
    probability = np.clip(x * rate, 0.0, 1.0)
    rng = np.random.default_rng(seed)
    return (rng.random((len(images), steps, *images.shape[1:])) < probability[:, None]).astype(np.int64)


def spiking_mlp(samples: int, hidden: tuple[int, ...], *, steps: int = 16, rate: float = 0.1, seed: int = 0) -> Bench:
    """784-hidden-10 LIF network fed binary spikes (one axon per pixel, ``rate`` mean firing rate):
    the input a Lava user feeds a chip."""
    torch.manual_seed(seed)
    layers: list[nn.Module] = []
    sizes = (784, *hidden, 10)
    for n_in, n_out in itertools.pairwise(sizes):
        linear = nn.Linear(n_in, n_out)
        with torch.no_grad():  # scaled so that every layer stays active at ~10 % input rate
            linear.weight.mul_(8.0 if n_in == 784 else 6.0)
        layers += [linear, snn.LIF(tau=2.0, v_reset=0.0)]
    model = snn.SNN(nn.Sequential(*layers), steps=steps, readout="sum").eval()
    images = digits_images(28, samples).reshape(samples, 784)
    spikes = rate_coded_spikes(images, steps, rate, seed)
    name = "spikes-" + "-".join(map(str, sizes))
    return _spiking(name, model, spikes)


def spiking_conv(samples: int, *, steps: int = 16, rate: float = 0.1, seed: int = 0) -> Bench:
    """A small conv net, 28x28x1 -> 16c3 stride 2 -> 32c3 stride 2 -> 10, fed binary spikes (both
    convs stride 2: a Loihi core takes at most 4096 input axons per neuron)."""
    torch.manual_seed(seed)
    model = snn.SNN(
        nn.Sequential(
            nn.Conv2d(1, 16, 3, stride=2, padding=1), snn.LIF(tau=2.0, v_reset=0.0),
            nn.Conv2d(16, 32, 3, stride=2, padding=1), snn.LIF(tau=2.0, v_reset=0.0),
            nn.Flatten(), nn.Linear(32 * 7 * 7, 10), snn.LIF(tau=2.0, v_reset=0.0),
        ),
        steps=steps,
        readout="sum",
    ).eval()  # fmt: skip
    with torch.no_grad():
        for layer, gain in ((model.body[0], 6.0), (model.body[2], 4.0), (model.body[5], 4.0)):
            layer.weight.mul_(gain)
    images = digits_images(28, samples).reshape(samples, 1, 28, 28)
    return _spiking("spikes-conv-28x28-16c3s2-32c3s2-10", model, rate_coded_spikes(images, steps, rate, seed))


def _spiking(name: str, model: nn.Module, spikes: np.ndarray) -> Bench:
    """Deploy, calibrated on the spike trains ``spikes`` (samples, steps, *shape) themselves (binary:
    one axon, one spike per input), and feed them step by step as `snncc simulate --data` does."""
    bench = _deployed(name, model, spikes.astype(np.float32), "loihi", per_step=True)
    (input_name, op), *_ = bench.graph.of_type(IntInput)
    assert op.bits == 1, f"{name}: binary input quantized to {op.bits} bits"
    assert np.array_equal(bench.inputs[input_name], spikes)
    return bench


BUILDERS = {
    "dense": dense_784_500_500_10,
    "digits-conv": digits_conv,
    "vgg": vgg_32x32,
    "spikes-784-100-10": lambda samples: spiking_mlp(samples, (100,)),
    "spikes-784-500-500-10": lambda samples: spiking_mlp(samples, (500, 500)),
    "spikes-784-2000-2000-10": lambda samples: spiking_mlp(samples, (2000, 2000)),
    "spikes-conv": spiking_conv,
}
