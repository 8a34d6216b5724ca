"""The Python API: compile a torch module built in memory, as for models that cannot be saved whole."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import snntorch
import torch
from torch import nn

import snncc
from snncc.errors import DataError, OutputError
from snncc.importers.torch import load_torch_model
from snncc.options import DataOptions, ModelOptions, VerificationOptions

REPO = Path(__file__).resolve().parents[2]
DIGITS = REPO / "examples" / "digits"


def test_an_in_memory_module_compiles_as_its_file_does(tmp_path):
    data = np.load(DIGITS / "test_data.npz")
    x, y = data["x"][:96], data["y"][:96]
    options = snncc.CompileOptions(target="loihi", data=DataOptions(samples=96))
    from_memory = snncc.compile_module(load_torch_model(DIGITS / "model.pt"), torch.from_numpy(x), y, options)
    np.savez(tmp_path / "d.npz", x=x, y=y)
    from_file = snncc.compile_model(
        DIGITS / "model.pt", snncc.CompileOptions(target="loihi", data=DataOptions(file=tmp_path / "d.npz"))
    )
    a, b = from_memory.comparison.verification, from_file.comparison.verification
    np.testing.assert_array_equal(a.deployed_predictions, b.deployed_predictions)
    assert a.deployed_accuracy == b.deployed_accuracy > 0.9 and from_memory.verification_passed

    report = snncc.write_report(from_memory, tmp_path / "out")
    written = json.loads((tmp_path / "out" / "report.json").read_text())
    assert written["verification"]["deployed_accuracy"] == report["verification"]["deployed_accuracy"]
    assert written["model"] == {"path": "<SNN>", "sha256": None}  # no file behind an in-memory module
    with pytest.raises(OutputError):
        snncc.write_report(from_memory, tmp_path / "out")  # never over an existing directory without force
    snncc.write_report(from_memory, tmp_path / "out", force=True)


def test_an_snntorch_model_that_cannot_be_pickled_compiles_from_memory():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Linear(64, 32), snntorch.Leaky(beta=0.9, init_hidden=True),
        nn.Linear(32, 10), snntorch.Leaky(beta=0.9, init_hidden=True, output=True),
    )  # fmt: skip
    with pytest.raises(AttributeError):  # the reason users need this path: Leaky's surrogate is a closure
        torch.save(net, "/dev/null")
    x = np.load(DIGITS / "test_data.npz")["x"][:32].reshape(32, 64)
    options = snncc.CompileOptions(
        target="loihi2",
        model=ModelOptions(steps=8, readout="sum"),
        verification=VerificationOptions(min_output_agreement=0.0),
    )
    result = snncc.compile_module(net, x, options=options)
    assert result.float_graph.meta.steps == 8 and result.comparison.verification.deployed_accuracy is None


def test_bad_arrays_get_the_data_file_errors():
    model = load_torch_model(DIGITS / "model.pt")
    bad = np.full((4, 1, 8, 8), np.nan)
    with pytest.raises(DataError) as err:
        snncc.compile_module(model, bad)
    assert err.value.code == "DAT007"
    with pytest.raises(DataError) as err:
        snncc.compile_module(model, np.zeros((4, 1, 8, 8)), np.zeros(3, dtype=np.int64))
    assert err.value.code == "DAT009"


def test_the_public_api_is_listed_and_imported_only_when_used():
    assert {"compile_module", "compile_model", "check_model", "CompileOptions", "simulate_artifact"} <= set(dir(snncc))
    assert "annotations" not in dir(snncc) and set(dir(snncc)) == set(snncc.__all__)
    for name in snncc.__all__:
        assert getattr(snncc, name) is not None
    code = "import sys, snncc; dir(snncc); print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", "import snncc must stay cheap: torch and numpy load on first use"


def test_calibration_samples_are_taken_as_arrays_and_the_report_names_the_data():
    digits = np.load(DIGITS / "test_data.npz")
    x, y = digits["x"][:48], digits["y"][:48]
    calib = np.load(DIGITS / "calib_data.npz")["x"][:32]
    model = load_torch_model(DIGITS / "model.pt")
    options = snncc.CompileOptions(target="loihi")
    given = snncc.compile_module(model, x, y, options, calib=torch.from_numpy(calib))
    assert len(given.dataset) == 48  # every sample scored: none was spent on calibration
    assert given.calibration.calibration.x.shape == (32, 1, 8, 8) and "<array calib>" in given.calibration.how
    default = snncc.compile_module(model, x, y, options)
    assert len(default.dataset) == 36 and "<array x>" in default.calibration.how  # the data, not "<SNN>"
    assert "SNN" not in default.calibration.how
    # the calibration scales differ, so the quantization does: the arrays were really used
    a, b = given.quantization.layers[0], default.quantization.layers[0]
    assert a.to_dict() != b.to_dict()
    with pytest.raises(DataError) as err:
        snncc.compile_module(model, x, y, options, calib=np.zeros((3, 5)))
    assert err.value.code == "DAT008" and "(5,)" in err.value.render()
