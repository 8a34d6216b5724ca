"""The deployed neuron models run bit-identically in Lava and in the reference simulator."""

from __future__ import annotations

from pathlib import Path

import pytest
from lava_compare import assert_bit_exact

from snncc.compile import CompileOptions, preflight
from snncc.ir import IntCLIF
from snncc.passes.quantize import quantize_inputs

NEURONS = Path(__file__).resolve().parents[2] / "examples" / "neurons"


@pytest.mark.parametrize("model", ["clif.pt", "klif.pt", "imp.pt", "dsr-lif.pt"])
def test_deployed_model_is_bit_exact_in_lava(model):
    d = preflight(NEURONS / model, CompileOptions(target="loihi2"))
    if model == "clif.pt":
        assert isinstance(d.int_graph["body.2"], IntCLIF)
    x = quantize_inputs(d.int_graph, {d.input_name: d.dataset.x[:2]})
    ref, _ = assert_bit_exact(d.int_graph, x)
    assert ref.spike_counts["body.2"].sum() > 0 and ref.spike_counts["body.6"].sum() > 0
