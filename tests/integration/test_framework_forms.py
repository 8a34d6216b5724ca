"""docs/models.md "Which forms deploy where" (linked from the README's "Bring your model"), cell by cell: each snntorch and spikingjelly neuron form,
saved as a state dict (as the tutorials save them) and run through `snncc check` for loihi, loihi2
and xylo.  A cell marked deployable must fit; a refused cell must be refused with a hint that names
the fix in the user's framework, and that fix must be a form of the table that deploys there, so
that no hint leads back to another refusal (issue 26: Synaptic -> v_init -> reset_delay=False ->
IMT003 -> a zero reset refused)."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from snncc.cli import main

pytestmark = pytest.mark.slow  # 27 preflights of small models

HERE = Path(__file__).resolve().parent
MODELS = HERE / "form_models.py"
MODELS_DOC = HERE.parents[1] / "docs" / "models.md"  # where the README's table of forms moved
TARGETS = ("loihi", "loihi2", "xylo")
XYLO_FORM = "Synaptic(alpha=1 - 2**-k, beta=1.0)"

# form -> (deploys on loihi, loihi2, xylo), and what the hint of a refusal must name, per target
TABLE = {
    "LeakySubtract": ((False, True, False), ("reset_mechanism='zero'", None, XYLO_FORM)),
    "LeakyZero": ((True, True, False), (None, None, XYLO_FORM)),
    "SynapticSubtract": ((False, True, False), ("reset_mechanism='zero', reset_delay=False", None, XYLO_FORM)),
    "SynapticNoLeak": ((False, True, True), ("reset_mechanism='zero', reset_delay=False", None, None)),
    "SynapticZero": ((True, True, False), (None, None, XYLO_FORM)),
    "SynapticZeroBias": ((False, True, False), ("bias=False", None, XYLO_FORM)),
    "SJLIF": ((True, True, False), (None, None, "no spikingjelly neuron snncc imports reaches Xylo")),
    "SJLIFSoft": ((False, True, False), ("v_reset=0.0", None, "no spikingjelly neuron snncc imports reaches Xylo")),
    "SJIF": ((True, True, False), (None, None, "no spikingjelly neuron snncc imports reaches Xylo")),
}
# the form each hint names, by the text it names it with
NAMED_FORM = {
    "reset_mechanism='zero'": "LeakyZero",
    "reset_mechanism='zero', reset_delay=False": "SynapticZero",
    XYLO_FORM: "SynapticNoLeak",
    "v_reset=0.0": "SJLIF",
    "bias=False": "SynapticZero",
}


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> dict[str, Path]:
    import form_models

    folder = tmp_path_factory.mktemp("forms")
    np.savez(folder / "data.npz", x=np.random.default_rng(0).random((16, 16)).astype(np.float32))
    paths = {"data": folder / "data.npz"}
    for name in TABLE:
        torch.manual_seed(0)
        paths[name] = folder / f"{name}.pt"
        torch.save(getattr(form_models, name)().state_dict(), paths[name])
    return paths


def check(saved, form: str, target: str, capsys) -> tuple[int, str]:
    argv = ["check", str(saved[form]), "--arch", f"{MODELS}:{form}", "--target", target]
    code = main([*argv, "--steps", "4", "--readout", "sum", "--data", str(saved["data"]), "-q"])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("form", TABLE)
def test_each_form_deploys_where_the_table_says_and_each_refusal_names_a_form_that_does(saved, form, capsys):
    deploys, fixes = TABLE[form]
    for target, ok, fix in zip(TARGETS, deploys, fixes, strict=True):
        code, err = check(saved, form, target, capsys)
        assert (code == 0) == ok, f"{form} on {target}: exit {code}\n{err}"
        if ok:
            continue
        hints = [line for line in err.splitlines() if line.strip().startswith("hint:")]
        assert hints and all(fix in h for h in hints), f"{form} on {target}: hints do not name {fix!r}\n{err}"
        named = NAMED_FORM.get(fix)
        if named is not None:  # the hint leads out: the form it names deploys on that target
            assert TABLE[named][0][TARGETS.index(target)], f"{form} on {target}: {named} does not deploy there"


def test_the_readme_table_says_what_the_tests_find():
    section = MODELS_DOC.read_text().split("### Which forms deploy where", 1)[1]
    table = section[section.index("\n|") + 1 :].split("\n\n", 1)[0]  # the first table, to its blank line
    rows = [line.split("|")[1:5] for line in table.splitlines()[2:]]  # after the header and |---|
    assert len(rows) == len(TABLE)
    for (form, (deploys, _)), (name, *cells) in zip(TABLE.items(), rows, strict=True):
        assert README_NAMES[form] in name, (form, name)
        assert tuple(c.strip().startswith("yes") for c in cells) == deploys, (form, name, cells)


# the README row of each form, in TABLE's order
README_NAMES = {
    "LeakySubtract": "`Leaky(beta)`",
    "LeakyZero": '`Leaky(beta, reset_mechanism="zero")`',
    "SynapticSubtract": "`Synaptic(alpha, beta < 1)`",
    "SynapticNoLeak": "`Synaptic(alpha=1 - 2**-k, beta=1.0)`",
    "SynapticZero": '`Synaptic(reset_mechanism="zero", reset_delay=False)`, `nn.Linear(bias=False)`',
    "SynapticZeroBias": "the same with `nn.Linear` biases",
    "SJLIF": "`LIFNode` (default",
    "SJLIFSoft": "`LIFNode(v_reset=None)`",
    "SJIF": "`IFNode`",
}


def test_check_lists_every_blocker_of_every_phase_at_once(tmp_path, capsys):
    """The snntorch conv net on xylo: its resets, its convolutions and poolings (quantization), its 64
    inputs and 10 outputs (the core's pools), all in one `snncc check` instead of one per retrain."""
    import form_models

    torch.manual_seed(0)
    torch.save(form_models.ConvNet().state_dict(), tmp_path / "conv.pt")
    code = main(["check", str(tmp_path / "conv.pt"), "--arch", f"{MODELS}:ConvNet", "--target", "xylo", "-q"])
    err = capsys.readouterr().err
    found = set(re.findall(r"error\[(\w+)\] layer '([\w.]+)'", err))
    assert code == 2 and "Traceback" not in err
    assert {("QNT031", f"lif{i}") for i in (1, 2, 3)} <= found  # the reset's initial potential, each layer
    assert {("QNT032", "lif1"), ("QNT032", "lif2")} <= found  # the convolutions
    assert {("QNT032", "max_pool2d"), ("QNT032", "max_pool2d_1")} <= found  # the poolings
    assert {("MAP050", "input"), ("MAP050", "lif3")} <= found  # 64 > 16 input channels, 10 > 8 outputs
    assert "64 input channels; Xylo has 16" in err and "10 output neurons; Xylo has 8" in err


def test_check_looks_past_a_refusal_that_has_an_approximation(tmp_path, capsys):
    """Tutorial 6's order (max pooling before the Leaky) on loihi: the pooling is refused at
    canonicalization, and the subtract resets Loihi 1 lacks are named in the same run, not after a
    retrain."""
    import form_models

    torch.manual_seed(0)
    torch.save(form_models.TutorialConvNet().state_dict(), tmp_path / "tutorial.pt")
    argv = ["check", str(tmp_path / "tutorial.pt"), "--arch", f"{MODELS}:TutorialConvNet", "--target", "loihi"]
    assert main([*argv, "-q"]) == 2
    err = capsys.readouterr().err
    # maxpool-after-neuron (the hint's approximation) moves lif1 and lif2 before their pools: 'lifN.unpooled'
    found = {
        (code, name.removesuffix(".unpooled")) for code, name in re.findall(r"error\[(\w+)\] layer '([\w.]+)'", err)
    }
    assert {("IMT003", "max_pool2d"), ("IMT003", "max_pool2d_1")} <= found
    assert {("MAP002", f"lif{i}") for i in (1, 2, 3)} <= found
    assert err.count("train the Leaky with reset_mechanism='zero'") >= 3  # the moved layers keep their framework's hint
