"""report.md's "Fidelity to the chip" and the accumulator table (issue 24, items 2 and 5): what each oracle
checked on this run, each known silicon difference with its count, and each layer's accumulator bound."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest

from snncc.accumulator import accumulator_lines, accumulator_report
from snncc.backends.base import LayerStats
from snncc.fidelity import fidelity_lines, fidelity_report, known_difference
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage
from snncc.options import DataOptions
from snncc.target_loader import load

DIGITS = Path(__file__).resolve().parents[2] / "examples" / "digits"


def graph(numerics, weight_exp=6):
    b = GraphBuilder()
    b.add("x", IntInput(shape=(3,), bits=1, encoding="bitplane"))
    z = Const(np.zeros(2, np.int32))
    w = Const(np.array([[255, 255, 255], [1, 2, 3]], np.int32))
    lif = IntLIF(shape=(2,), du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z)
    b.add("lif", lif, [b.add("syn", IntDense(shape=(2,), weight=w, weight_exp=weight_exp), ["x"])])
    b.add("out", Output(shape=(2,), readout="spike_count"), ["lif"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=numerics))


def test_loihi_lists_its_oracles_and_counts_the_known_differences():
    target = load("loihi")
    g = graph(target.numerics, weight_exp=-1)
    lava = {"backend": "lava", "samples": 5, "bit_exact": True, "compared": ["u", "v", "spikes"], "semantics": "S"}
    f = fidelity_report("loihi", g, target.backends, lava, {"lif": LayerStats(acc_overflows=7, u_wraps=2)})
    assert f["oracles"]["Lava fixed_pt"]["checked"] == "5 samples, u, v, spikes at every step: bit-exact with S"
    assert (
        "not run: snncc simulate DIR --backend nengo-loihi"
        in f["oracles"]["nengo-loihi 1.1.0 emulator (Loihi 1 model)"]["checked"]
    )
    assert "NIR paper's Loihi 1 hardware trace" in f["oracles"]
    counts = {k: d["count"] for k, d in f["differences"].items()}
    assert counts == {"dendritic accumulator overflow": 7, "negative weight exponent": 1, "u at the edge of 24 bits": 2}
    text = "\n".join(fidelity_lines(f))
    assert "## Fidelity to the chip" in text and "| dendritic accumulator overflow | 7 neuron-steps |" in text


def test_loihi2_has_no_loihi1_oracle_and_lava_not_run_says_how():
    target = load("loihi2")
    f = fidelity_report("loihi2", graph(target.numerics), target.backends, None, {"lif": LayerStats()})
    assert set(f["oracles"]) == {"Lava fixed_pt"}
    assert f["oracles"]["Lava fixed_pt"]["checked"] == "not run: pass --backend lava"


def test_accumulator_table_proves_or_gives_the_calibrated_margin():
    target = load("loihi")
    acc = accumulator_report(graph(target.numerics), dict(target.accumulator), {"lif": 0.4}, {"lif": 3})
    row = acc["layers"]["lif"]
    assert row["worst_case"] == 3 * 255 * 64 and not row["proved"]  # 48,960 > 32,767
    assert (row["calibrated_fraction"], row["overflows"]) == (0.4, 3)
    text = "\n".join(accumulator_lines(acc))
    assert "16 bits signed (q0 = a·2^6 in 21 bits + sign)" in text and "Q_BITS = 21" in text
    assert "| lif | 1.49 | no | 0.40 | 3 |" in text
    small = accumulator_report(graph(target.numerics, weight_exp=0), {}, {}, {})
    assert small["layers"]["lif"]["proved"]  # 765 < 32,768


@pytest.mark.slow
def test_the_bundled_example_report_has_both_sections(tmp_path):
    from snncc.compile import CompileOptions, compile_model, write_report

    result = compile_model(DIGITS / "model.pt", CompileOptions(target="loihi", data=DataOptions(samples=64)))
    write_report(result, tmp_path / "out")
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    md = (tmp_path / "out" / "report.md").read_text()
    assert report["accumulator"]["bits"] == 16 and report["accumulator"]["overflow"] == "wrap"
    assert all(o["acc_overflows"] == 0 for o in report["overflow"].values())  # the quantizer's bound holds
    assert report["accumulator"]["layers"]["body.2"]["proved"]  # Σ|w|·2^e·31 fits 16 bits
    assert 0 < report["accumulator"]["layers"]["body.6"]["calibrated_fraction"] <= 0.5
    assert "Fidelity to the chip" in md and "accumulator overflows |" in md
    assert "dendritic accumulator" in {q["limited_by"] for q in report["quantization"]["layers"]}


def test_known_difference_names_each_cause_of_a_mismatch_with_the_emulator():
    loihi1 = load("loihi").numerics
    mismatch = ("u", 0, 1, (0,), 5, 6, "lif")  # (variable, sample, step, neuron, refsim, emulator, layer)
    quiet = {"lif": np.zeros((1, 3, 2), np.int64)}
    assert known_difference(graph(loihi1, weight_exp=-1), mismatch, quiet).startswith("weight exponent < 0")
    assert known_difference(graph(LOIHI), mismatch, quiet).startswith("dendritic accumulator")
    edge = {"lif": np.full((1, 3, 2), 2**23 - 1, np.int64)}
    assert known_difference(graph(loihi1), mismatch, edge).startswith("u at the edge")
    biased = graph(loihi1).replace_nodes(
        lif=dataclasses.replace(graph(loihi1)["lif"], bias_mant=Const(np.array([4095, 0], np.int32)),
                                bias_exp=Const(np.array([7, 0], np.int32)))
    )  # fmt: skip
    near = {"lif": np.full((1, 3, 2), 2**23 - 2**18, np.int64)}  # + 4095·2^7 ~ 2^19 crosses 2^23
    assert known_difference(biased, mismatch, near).startswith("u + bias")
    assert known_difference(graph(loihi1), mismatch, quiet).startswith("no known difference")
