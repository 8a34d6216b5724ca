"""`snncc simulate DIR --backend nengo-loihi` compares nengo-loihi's Loihi 1 emulator with the reference backend
bit for bit (u, v, spikes of every layer), as --backend lava does: exit 0 when equal, exit 1 naming the first
mismatch and which known silicon difference it is (issue 24, item 4).

The artifact is the bundled example quantized without the accumulator bound (as snncc did before issue 24),
so that body.6's per-step input overflows Loihi 1's 21-bit + sign q0 on some samples: with the artifact's
`loihi` numerics (16-bit wrapping accumulator) refsim wraps as the emulator does and they agree; with the
numerics of an artifact written before the accumulator was modelled (Lava's int32) they differ there.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path

import pytest

from snncc import pipeline
from snncc.cli import main
from snncc.compile import CompileOptions, compile_model
from snncc.options import DataOptions
from snncc.passes.quantize import Quantize
from snncc.report import write_outputs

pytest.importorskip("nengo_loihi.emulator.interface")
pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[2]
ACCUMULATOR_KEYS = ("accumulator_bits", "accumulator_overflow")


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory) -> Path:
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "Quantize", functools.partial(Quantize, acc_headroom=math.inf))
        result = compile_model(
            REPO / "examples" / "digits" / "model.pt", CompileOptions(target="loihi", data=DataOptions(samples=40))
        )
    assert result.comparison.deployed_trace.stats["body.6"].acc_overflows > 0  # the case this test is about
    out = tmp_path_factory.mktemp("digits")
    write_outputs(result, out)
    return out


def test_the_emulator_agrees_with_the_wrapping_reference_backend_even_where_q0_overflows(overflowing, capsys):
    assert main(["simulate", str(overflowing), "--backend", "nengo-loihi", "--samples", "40"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["bit_exact_with_refsim"] is True and summary["samples"] == 40
    assert "16 bits, wrap" in summary["semantics"]


def test_the_reference_backend_counts_the_overflows_it_wraps(overflowing, capsys):
    assert main(["simulate", str(overflowing), "--samples", "40"]) == 0
    counts = json.loads(capsys.readouterr().out)["accumulator_overflows"]
    assert counts["body.6"] > 0 and counts["body.2"] == 0


def test_an_artifact_without_the_accumulator_bound_differs_and_the_mismatch_is_named(overflowing, capsys):
    graph_json = overflowing / "graph.json"
    meta = json.loads(graph_json.read_text())
    for key in ACCUMULATOR_KEYS:  # as written before the accumulator was modelled: Lava's int32 by default
        del meta["meta"]["numerics"][key]
    graph_json.write_text(json.dumps(meta))
    assert main(["simulate", str(overflowing), "--backend", "nengo-loihi", "--samples", "40"]) == 1
    captured = capsys.readouterr()
    first = json.loads(captured.out)["first_mismatch"]
    assert (first["variable"], first["layer"]) == ("u", "body.6")
    assert abs(first["refsim"]) >= 2**21 and first["nengo-loihi"] == (first["refsim"] + 2**21) % 2**22 - 2**21
    assert first["known_difference"].startswith("dendritic accumulator")
    assert "DID NOT match" in captured.err
