"""A fan-in error after fused pooling names the pooling and why it was fused (issue 15, item 7)."""

from __future__ import annotations

from pathlib import Path

import pytest

from snncc.compile import CompileOptions, preflight
from snncc.errors import MappingError

MODEL = Path(__file__).resolve().parents[2] / "examples" / "digits" / "model.pt"


def test_fan_in_error_after_pooling_says_the_pooling_was_fused():
    # body.5 = Linear(128, 64) after AvgPool2d(2) of body.2's 8x8x8 spikes: on toy (256 axons) each of
    # body.6's neurons needs 512 axons, not the 128 the Linear declares
    with pytest.raises(MappingError) as err:
        preflight(MODEL, CompileOptions(target="toy"))
    (fan_in,) = [d for d in err.value.diagnostics if d.code == "MAP003"]
    assert fan_in.node == "body.6"
    assert "needs 512 input axons" in fan_in.message
    assert "'body.5' takes 128 pooled values" in fan_in.message
    assert "AvgPool2d 'body.3' (2x2) was fused into its synapses" in fan_in.message
    assert "the 512 spikes of 'body.2'" in fan_in.message
    # toy has no graded relays: the hint says so and names the target that splits such layers
    assert "toy cannot split one neuron's inputs across cores" in fan_in.hint
    assert "loihi2 has graded spikes and snncc splits such layers there" in fan_in.hint
