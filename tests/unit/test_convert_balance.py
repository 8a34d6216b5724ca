"""Threshold balancing: thresholds are the ANN's per-layer max / percentile, measured independently by torch."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from snncc.convert.balance import DEAD_LAYER_THRESHOLD, balance
from snncc.importers.onnx import import_onnx


def export(model: nn.Module, path: Path) -> Path:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model.eval(), (torch.zeros(1, 1, 8, 8),), str(path), dynamo=False, dynamic_axes={"input": {0: "b"}}
        )
    return path


def make_model(bias: bool = True, seed: int = 0) -> nn.Sequential:
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1, bias=bias),
        nn.ReLU(),
        nn.AvgPool2d(2),
        nn.Flatten(),
        nn.Linear(64, 16, bias=bias),
        nn.ReLU(),
        nn.Linear(16, 3, bias=bias),
    )


def relu_outputs(model: nn.Sequential, x: np.ndarray) -> list[np.ndarray]:
    """The ReLU layers' outputs, recorded by forward hooks in torch (float64)."""
    seen: list[np.ndarray] = []
    hooks = [
        m.register_forward_hook(lambda mod, args, out: seen.append(out.numpy()))
        for m in model
        if isinstance(m, nn.ReLU)
    ]
    with torch.no_grad():
        model.double()(torch.from_numpy(x).double())
    for h in hooks:
        h.remove()
    model.float()
    return seen


def data(n: int = 64, seed: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, (n, 1, 8, 8)).astype(np.float32)


def test_max_balancing_gives_each_layers_largest_activation(tmp_path):
    model = make_model()
    ann = import_onnx(export(model, tmp_path / "m.onnx"))
    x = data()
    b = balance(ann, x)
    expected = [a.max() for a in relu_outputs(model, x)]
    assert b.method == "max"
    np.testing.assert_allclose([b.thresholds[n] for n in ann.relus], expected, rtol=1e-6)
    np.testing.assert_allclose([b.max_activation[n] for n in ann.relus], expected, rtol=1e-6)


def test_percentile_is_taken_over_the_positive_activations_and_never_exceeds_the_max(tmp_path):
    model = make_model()
    ann = import_onnx(export(model, tmp_path / "m.onnx"))
    x = data()
    acts = relu_outputs(model, x)
    for p in (50.0, 99.0, 99.9):
        b = balance(ann, x, percentile=p)
        for name, a in zip(ann.relus, acts, strict=True):
            np.testing.assert_allclose(b.thresholds[name], np.percentile(a[a > 0], p), rtol=1e-6)
            assert 0 < b.thresholds[name] <= b.max_activation[name]
    lower, higher = balance(ann, x, percentile=90.0), balance(ann, x, percentile=99.0)
    assert all(lower.thresholds[n] <= higher.thresholds[n] for n in ann.relus)  # monotone in p


def test_thresholds_scale_with_the_input_of_a_bias_free_network(tmp_path):
    """ReLU networks without biases are positively homogeneous: inputs ×k give activations ×k."""
    ann = import_onnx(export(make_model(bias=False), tmp_path / "m.onnx"))
    x = data().astype(np.float64)
    b1, b3 = balance(ann, x, percentile=99.0), balance(ann, 3.0 * x, percentile=99.0)
    for name in ann.relus:
        np.testing.assert_allclose(b3.thresholds[name], 3.0 * b1.thresholds[name], rtol=1e-9)


def test_a_layer_that_never_fires_is_named_and_gets_a_harmless_threshold(tmp_path):
    model = make_model()
    with torch.no_grad():
        model[4].bias.fill_(-1e3)  # the hidden ReLU is always 0
    ann = import_onnx(export(model, tmp_path / "m.onnx"))
    b = balance(ann, data(), percentile=99.9)
    assert b.dead == (ann.relus[1],)
    assert b.thresholds[ann.relus[1]] == DEAD_LAYER_THRESHOLD
