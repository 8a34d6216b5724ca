"""The bundled digits model: loads safely, is accurate, and imports to a graph that computes the same."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

import snncc.nn as snn
from snncc.backends.floatsim import FloatSim
from snncc.importers.torch import import_torch, load_torch_model

pytestmark = pytest.mark.slow  # runs the trained example on its test set

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "digits"


def test_bundled_model_is_accurate_and_imports_exactly():
    model = load_torch_model(EXAMPLE / "model.pt")  # weights_only: no code from the file runs
    data = np.load(EXAMPLE / "test_data.npz", allow_pickle=False)
    x, y = data["x"], data["y"]
    assert x.dtype == np.float32 and x.shape == (450, 1, 8, 8) and y.dtype == np.int64 and y.shape == (450,)
    assert x.min() >= 0.0 and x.max() <= 1.0 and set(np.unique(y)) == set(range(10))
    assert isinstance(model, snn.SNN) and not model.training
    with torch.no_grad():
        predicted = model(torch.from_numpy(x)).argmax(dim=1).numpy()
    accuracy = float(np.mean(predicted == y))
    assert accuracy > 0.9, accuracy

    graph = import_torch(model, (1, 8, 8), source=f"torch:{EXAMPLE / 'model.pt'}")
    with torch.no_grad():
        expected = model.double()(torch.from_numpy(x).double()).numpy()
    got = FloatSim().run(graph, {"input": x}).outputs["output"]
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
