"""The printed IR after every pass, pinned for a few small models (issue 28, item 5).

Each file under passes/ is what `snncc compile MODEL --dump-after PASS ...` prints for every pass
of the pipeline, so a change in what a pass does shows as a readable diff of its output.  Three
normalizations keep the files short and about decisions: a pass that leaves the graph as it was
prints ``(unchanged)`` instead of the same graph again; floats are printed to 10 significant digits
(a reordered float sum moves the last bits; the integers a target runs are printed exactly); and an
op's fields are sorted by name (the op kit may reorder an op's fields, which changes no pass).
`pytest tests/golden --regen-golden` rewrites the files from the code (review the diff); never edit
them by hand.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from snncc import nn as snn
from snncc.cli import main
from snncc.pipeline import PASS_NAMES

REPO = Path(__file__).resolve().parents[2]
GOLDEN = Path(__file__).parent / "passes"
DIGITS = ["examples/digits/model.pt"]  # the bundled example, verified on the bundled test split
CASES = {
    "digits": DIGITS,
    "split_fan_in": [*DIGITS, "--target", "tests/targets/toy_relay.yaml"],  # 512 inputs > 256 axons per core
    "xylo": ["examples/xylo_digits/model.pt", "--target", "xylo", "--data", "examples/xylo_digits/test_data.npz"],
    "clif": ["examples/neurons/clif.pt", "--target", "loihi2"],
    "csnn_maxpool": ["csnn.pt", "--min-agreement", "0", "--max-accuracy-drop", "100"],  # untrained: csnn()
}
# every pass compile runs with the default backend (refsim: the "lava" pass is not run)
DUMP = [arg for name in PASS_NAMES if name != "lava" for arg in ("--dump-after", name)]
HEADER = "--- graph after "
FLOAT = re.compile(r"(?<![\w.])-?(?:\d+\.\d+(?:e[-+]?\d+)?|\d+e[-+]?\d+)")
FIELDS = re.compile(r"\{(.*)\}$")  # a node line ends with its fields: {name=value, ...}
NEXT_FIELD = re.compile(r", (?=\w+=)")  # values hold ", " too (tuples), never ", name="


def normalized(line: str) -> str:
    line = FLOAT.sub(lambda m: repr(float(f"{float(m.group()):.10g}")), line)
    return FIELDS.sub(lambda m: "{" + ", ".join(sorted(NEXT_FIELD.split(m.group(1)))) + "}", line)


def csnn(path: Path) -> None:
    """Conv, spiking neuron, max pool, conv, neuron, average pool, dense: saved as users save a model.
    Weights come from numpy's seeded generator (not torch's initialisation, which may change), spread so
    that the untrained net's decision still depends on the input (compile refuses a constant one)."""
    model = snn.SNN(
        nn.Sequential(
            nn.Conv2d(1, 4, 3, padding=1),
            snn.LIF(),
            nn.MaxPool2d(2),  # over spikes: imported exactly, as a sum pool into a relay
            nn.Conv2d(4, 8, 3, padding=1),
            snn.LIF(),
            nn.AvgPool2d(2),
            nn.Flatten(),
            nn.Linear(32, 10),
        ),
        steps=4,
    )
    rng = np.random.default_rng(28)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.from_numpy(rng.normal(0.0, 0.8, tuple(p.shape))))
    torch.save(model, path)


def dumps(args: list[str], out: Path) -> str:
    """What `snncc compile ARGS --dump-after (every pass)` prints of the graphs, normalized."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(["compile", *args, "--out", str(out), "-q", "--samples", "8", "--lava-samples", "1", *DUMP])
    assert code == 0, err.getvalue()
    sections: list[tuple[str, list[str]]] = []
    for line in err.getvalue().splitlines():
        if line.startswith(HEADER):
            sections.append((line, []))
        elif sections and line.startswith(("graph ", "  %")):
            sections[-1][1].append(normalized(line))
    out, previous = [f"# snncc compile {' '.join(args)} --dump-after (every pass)"], None
    for header, graph in sections:
        out += [f"{header} (unchanged)"] if graph == previous else [header, *graph]
        previous = graph
    return "\n".join(out) + "\n"


@pytest.mark.parametrize("name", sorted(CASES))
def test_the_printed_ir_after_each_pass_is_the_golden_one(name, tmp_path, monkeypatch, regen_golden):
    if name == "csnn_maxpool":
        csnn(tmp_path / "csnn.pt")
        monkeypatch.chdir(tmp_path)  # the model's path is printed (source=...): the same in every run
    else:
        monkeypatch.chdir(REPO)
    got = dumps(CASES[name], tmp_path / "out")
    golden = GOLDEN / f"{name}.txt"
    if regen_golden:
        GOLDEN.mkdir(exist_ok=True)
        golden.write_text(got)
    expected = golden.read_text()
    diff = "".join(difflib.unified_diff(expected.splitlines(True), got.splitlines(True), "golden", "now", n=1))
    assert not diff, f"{golden.relative_to(REPO)} differs (pytest tests/golden --regen-golden, then review):\n{diff}"


def test_each_golden_shows_every_pass_compile_runs_and_what_changed():
    """Every pass but the two this run has no use for (no approximation to cost, no Lava run), in
    the pipeline's order, and more than one graph: the goldens pin what passes do, not one graph."""
    for name in CASES:
        headers = [line for line in (GOLDEN / f"{name}.txt").read_text().splitlines() if line.startswith(HEADER)]
        passes = [h.removeprefix(HEADER).split(" ---")[0] for h in headers]
        assert passes == [p for p in PASS_NAMES if p not in ("approximation-cost", "lava")], name
        assert sum("(unchanged)" not in h for h in headers) >= 3, name  # imported, canonical, integer


def test_the_normalization_rounds_floats_and_sorts_fields_only():
    line = (
        "  %body.7.readout: int_lif[10] (body.7) {vth=131071, scale=7.891833451561831e-06, eps=1e-05, s=(1, 1), w=-0.5}"
    )
    assert (
        normalized(line)
        == "  %body.7.readout: int_lif[10] (body.7) {eps=1e-05, s=(1, 1), scale=7.891833452e-06, vth=131071, w=-0.5}"
    )
    empty = "  %input: input[1, 8, 8] () {}"
    assert normalized(empty) == empty
