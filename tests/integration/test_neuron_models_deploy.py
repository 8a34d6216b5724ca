"""Each neuron model, trained on the digits data (examples/neurons), deploys within 1 point of its float accuracy."""

from __future__ import annotations

from pathlib import Path

import pytest

from snncc.compile import CompileOptions, compile_model, preflight
from snncc.errors import MappingError
from snncc.options import QuantizationOptions

pytestmark = pytest.mark.slow  # deploys every trained example model

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
CASES = [
    ("neurons/if.pt", "loihi", ()),
    ("neurons/plif.pt", "loihi", ()),
    ("neurons/lif-soft.pt", "loihi2", ()),
    ("neurons/if-soft.pt", "loihi2", ()),
    ("neurons/klif.pt", "loihi2", ()),
    ("neurons/clif.pt", "loihi2", ()),
    ("neurons/clif.pt", "loihi", ("clif-as-hard-reset",)),
    ("neurons/imp.pt", "loihi2", ()),
    ("neurons/dsr-if.pt", "loihi2", ()),
    ("neurons/dsr-lif.pt", "loihi2", ()),
]


@pytest.mark.parametrize(("model", "target", "approximations"), CASES, ids=[f"{m}-{t}" for m, t, _ in CASES])
def test_deployed_accuracy_within_one_point(model, target, approximations):
    result = compile_model(
        EXAMPLES / model, CompileOptions(target=target, quantization=QuantizationOptions(approximations=approximations))
    )
    v = result.comparison.verification
    assert v.float_accuracy > 0.9
    assert abs(v.deployed_accuracy - v.float_accuracy) <= 0.01
    assert v.output_agreement >= 0.97
    assert [layer.layer for layer in v.layers] == ["body.2", "body.6"]
    assert all(layer.spike_agreement > 0.9 for layer in v.layers)
    assert result.approximations == {name: ["body.2", "body.6"] for name in approximations}


@pytest.mark.parametrize(
    ("model", "feature"),
    [("clif.pt", "clif"), ("klif.pt", "v_floor"), ("imp.pt", "v_init"), ("dsr-if.pt", "reset_subtract")],
)
def test_a_missing_neuron_feature_names_the_feature_and_layers(model, feature):
    with pytest.raises(MappingError) as err:
        preflight(EXAMPLES / "neurons" / model, CompileOptions(target="loihi"))
    hits = [d for d in err.value.diagnostics if feature in d.message]
    assert [d.node for d in hits] == ["body.2", "body.6"]
    assert "approximation" in hits[0].hint
