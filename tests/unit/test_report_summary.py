"""The summary a user sees first: CompileResult.summary(), the notebook view, report.json's "summary",
and report.md's energy split by event type with the equivalent ANN beside the total."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from snncc.compile import CompileOptions, compile_model, write_report
from snncc.options import DataOptions
from snncc.target import load_target

pytestmark = pytest.mark.slow  # one compile and report (~9 s) shared by the tests

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    result = compile_model(DIGITS / "model.pt", CompileOptions(target="loihi", data=DataOptions(samples=64)))
    out = tmp_path_factory.mktemp("r") / "out"
    write_report(result, out)
    return result, json.loads((out / "report.json").read_text()), (out / "report.md").read_text()


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def test_summary_names_verdict_accuracy_energy_and_cores(compiled):
    result, _, _ = compiled
    v = result.comparison.verification
    text = result.summary()
    assert text.splitlines()[0] == "model.pt on loihi: PASS"
    assert f"float accuracy {pct(v.float_accuracy)}, deployed {pct(v.deployed_accuracy)} (+0.00 pp)" in text
    assert f"same decision on {pct(v.output_agreement)} of 64 samples" in text and "approximations: none" in text
    assert f"{result.energy.total('total_pj') / 1e6:.3f} µJ per sample" in text
    assert f"cores: {result.placement.cores_used} of 128" in text


def test_notebook_view_is_the_report_summary_table(compiled):
    result, _, md = compiled
    view = result._repr_markdown_()
    assert view.startswith("**PASS**: float accuracy")
    rows = [line for line in view.splitlines() if line.startswith("| ")]
    assert rows and all(row in md.splitlines() for row in rows)  # the same rows as report.md's summary
    assert any(row.startswith("| cores used |") for row in rows)


def test_report_json_summary_holds_the_headline_numbers(compiled):
    result, report, _ = compiled
    s, v = report["summary"], result.comparison.verification
    assert (s["passed"], s["target"], s["samples"]) == (True, "loihi", 64)
    assert (s["float_accuracy"], s["deployed_accuracy"]) == (v.float_accuracy, v.deployed_accuracy)
    assert s["cores_used"] == result.placement.cores_used
    assert s["energy_pj_per_sample"] == report["energy"]["total_pj"]
    assert s["ann_equivalent_pj_per_sample"] == report["energy"]["ann_equivalent"]["total_pj"]


def test_energy_split_rows_are_count_times_the_targets_coefficient_and_add_up(compiled):
    _, report, md = compiled
    section = md.split("## Energy per sample, by event type")[1].split("\n## ")[0]
    rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in section.splitlines()]
    rows = [r for r in rows if len(r) == 5 and r[0] not in ("event", "---")]
    *events, total = rows
    coefficients = load_target("loihi").energy  # the YAML's numbers, not the report's
    expected_coefficient = {
        "synaptic ops": coefficients.synop_pj,
        "neuron updates, active": coefficients.neuron_update_active_pj,
        "neuron updates, idle": coefficients.neuron_update_idle_pj,
        "spike messages within a core": coefficients.spike_in_core_pj,
        "mesh hops of spike messages between cores": coefficients.hop_pj,
        "spike messages between chips": coefficients.chip_hop_pj,
    }
    assert [r[0] for r in events] == list(expected_coefficient)
    e = report["energy"]
    counts = {
        "synaptic ops": e["synops"],
        "neuron updates, active": e["active_neuron_updates"],
        "neuron updates, idle": e["neuron_updates"] - e["active_neuron_updates"],
        "spike messages within a core": e["spike_messages"]["within_core"],
        "mesh hops of spike messages between cores": e["spike_messages"]["mesh_hops"],
        "spike messages between chips": e["spike_messages"]["between_chips"],
    }
    for name, count, pj_each, uj, _share in events:
        assert float(pj_each) == expected_coefficient[name].value
        assert float(count.replace(",", "")) == pytest.approx(counts[name], abs=0.05)
        assert float(uj) == pytest.approx(counts[name] * expected_coefficient[name].value / 1e6, abs=1e-6)
    total_uj = float(total[3].strip("*"))
    assert total_uj == pytest.approx(e["total_pj"] / 1e6, abs=1e-6)
    assert sum(float(r[3]) for r in events) == pytest.approx(total_uj, abs=len(events) * 1e-6)
    assert float(events[0][3]) > 0.5 * total_uj  # synaptic ops dominate this network's energy


def test_summary_table_compares_the_energy_with_the_equivalent_ann(compiled):
    _, report, md = compiled
    (row,) = [line for line in md.splitlines() if line.startswith("| energy per sample |")]
    e = report["energy"]
    snn, ann = e["total_pj"], e["ann_equivalent"]["macs"] * 4.6  # 4.6 pJ per 32-bit float MAC
    assert f"{snn / 1e6:.3f} µJ" in row and f"the equivalent ANN {ann / 1e6:.3f} µJ" in row
    assert float(re.search(r"SNN / ANN = ([0-9.]+)", row).group(1)) == pytest.approx(snn / ann, rel=1e-2)
