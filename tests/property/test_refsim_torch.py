"""The accelerator path: refsim on torch tensors (device "cpu" here, "cuda" where there is one) is
the same code as on numpy arrays and gives identical integer traces."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from test_refsim_props import ALL, networks

from snncc.backends import first_mismatch
from snncc.backends.refsim import RefSim
from snncc.compile import CompileOptions, preflight
from snncc.data import load_dataset
from snncc.ir import IntCLIF
from snncc.passes.quantize import quantize_inputs

ROOT = Path(__file__).resolve().parents[2]


def _assert_identical(graph, inputs):
    on_numpy = RefSim().run(graph, inputs, record=ALL)
    on_torch = RefSim(device="cpu").run(graph, inputs, record=ALL)
    assert first_mismatch(on_numpy, on_torch) is None
    for name, values in on_numpy.outputs.items():
        np.testing.assert_array_equal(values, on_torch.outputs[name])
    for name, counts in on_numpy.spike_counts.items():
        np.testing.assert_array_equal(counts, on_torch.spike_counts[name])
    assert {k: s.to_dict() for k, s in on_numpy.stats.items()} == {k: s.to_dict() for k, s in on_torch.stats.items()}


@settings(max_examples=40, deadline=None)
@given(networks())
def test_torch_path_equals_numpy_path_on_random_networks(case):
    graph, x = case
    _assert_identical(graph, {"x": x})


@pytest.mark.parametrize(
    ("model", "target"), [("examples/digits/model.pt", "loihi"), ("examples/neurons/clif.pt", "loihi2")]
)
def test_torch_path_equals_numpy_path_on_example_models(model, target):
    """Conv, bit-plane input (Loihi 1) and the CLIF look-up tables (Loihi 2)."""
    deployment = preflight(ROOT / model, CompileOptions(target=target))
    assert target != "loihi2" or deployment.int_graph.of_type(IntCLIF)
    x = load_dataset(ROOT / "examples/digits/test_data.npz").x[:32]
    _assert_identical(deployment.int_graph, quantize_inputs(deployment.int_graph, {deployment.input_name: x}))
