"""`snncc compile model.pt --target xylo` end to end on a model trained on the digits for one Xylo core.

The model (examples/xylo_digits/train.py, saved whole with torch.save) reads 16 input channels
(the digits pooled 2x2) and tells the digits 0-7 apart with Xylo's 8 output neurons.  Its deployed
integer network runs in refsim and in SynSense's XyloSim, which must agree bit for bit.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snncc.backends.base import Record, first_mismatch
from snncc.backends.refsim import RefSim
from snncc.backends.xylosim import XyloSimBackend
from snncc.cli import main
from snncc.ir import IntXyloLIF, load
from snncc.passes.quantize import quantize_inputs

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "xylo_digits"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("xylo") / "out"
    code = main(
        [
            "compile", str(EXAMPLE / "model.pt"), "--target", "xylo", "--data", str(EXAMPLE / "test_data.npz"),
            "--out", str(out), "--backend", "xylosim", "--lava-samples", "361", "-q",
        ]
    )  # fmt: skip
    assert code == 0
    return out


@pytest.mark.slow
def test_compile_reports_accuracy_xylosim_bit_exactness_and_energy(compiled):
    report = json.loads((compiled / "report.json").read_text())
    v = report["verification"]
    assert report["target"]["name"] == "xylo" and report["cores"]["used"] == 1
    assert v["float_accuracy"] > 0.9 and abs(v["deployed_accuracy"] - v["float_accuracy"]) <= 0.03
    assert v["output_agreement"] >= 0.95
    xylo = report["backends"]["lava"]
    assert (
        xylo["backend"] == "xylosim" and xylo["bit_exact"] and xylo["samples"] == v["samples"] == 271
    )  # 3/4 of 361 scored, 1/4 calibrates
    assert xylo["deployed_accuracy"] == v["deployed_accuracy"]  # XyloSim's own outputs score the same
    coefficients = report["energy"]["coefficients"]
    assert report["energy"]["total_pj"] > 0
    assert all(c["source"] for c in coefficients.values())
    assert "XyloSim" in (compiled / "report.md").read_text()


@pytest.mark.slow
def test_deployed_network_equals_xylosim_at_every_step(compiled):
    """Independently of the report: the artifact's integer network, rerun on both simulators."""
    graph = load(compiled)
    assert graph.meta.numerics.family == "xylo"
    layers = [n for n, _ in graph.of_type(IntXyloLIF)]
    assert [graph[n].max_spikes for n in layers] == [31, 1] and graph[layers[0]].dash_syn == 1
    data = np.load(EXAMPLE / "test_data.npz")
    ((input_name, _),) = [(n, op) for n, op in graph.nodes if op.OP == "int_input"]
    x = quantize_inputs(graph, {input_name: data["x"][:100]})
    record = Record(spikes=True, v=True, u=True)
    ref = RefSim().run(graph, x, record=record)
    xylo = XyloSimBackend().run(graph, x, record=record)
    assert first_mismatch(xylo, ref) is None
    assert ref.spikes[layers[0]].sum() > 0 and ref.spikes[layers[1]].sum() > 0
