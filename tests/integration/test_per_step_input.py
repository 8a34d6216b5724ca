"""Per-step input (N, T, *input_shape), e.g. spike trains, for torch models (issue 15, item 5).

The model's input shape decides how a data file is read: (N, T, C, H, W) for a conv net that
takes (C, H, W) is one input per step; a shape the model could take both ways is refused.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snncc import CompileOptions, compile_module
from snncc.binding import bind_samples
from snncc.cli import main
from snncc.compile import compile_model
from snncc.data import Dataset
from snncc.errors import DataError
from snncc.importers.torch import load_torch_model, read_torch
from snncc.options import DataOptions
from snncc.simulate import simulate_artifact

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "examples" / "digits" / "model.pt"
CALIB = ROOT / "examples" / "digits" / "calib_data.npz"
sys.path.insert(0, str(Path(__file__).resolve().parent))


@pytest.fixture(scope="module")
def digits():
    data = np.load(ROOT / "examples" / "digits" / "test_data.npz")
    return data["x"][:64], data["y"][:64]


def spike_trains(x: np.ndarray, steps: int, seed: int = 0) -> np.ndarray:
    """Bernoulli spike trains with each pixel's intensity as its per-step firing probability."""
    rng = np.random.default_rng(seed)
    return (rng.random((len(x), steps, *x.shape[1:])) < x[:, None]).astype(np.float32)


def test_the_same_image_at_every_step_deploys_exactly_as_direct_input(digits, tmp_path):
    x, y = digits
    np.savez(tmp_path / "direct.npz", x=x, y=y)
    np.savez(tmp_path / "steps.npz", x=np.repeat(x[:, None], 8, axis=1), y=y)
    direct = compile_model(MODEL, CompileOptions(data=DataOptions(file=tmp_path / "direct.npz", calib=CALIB)))
    steps = compile_model(MODEL, CompileOptions(data=DataOptions(file=tmp_path / "steps.npz", calib=CALIB)))
    assert steps.dataset.x.shape == (64, 8, 1, 8, 8)
    a, b = direct.comparison.verification, steps.comparison.verification
    assert np.array_equal(a.float_predictions, b.float_predictions)
    assert np.array_equal(a.deployed_predictions, b.deployed_predictions)
    assert [layer.spike_agreement for layer in a.layers] == [layer.spike_agreement for layer in b.layers]


def test_spike_trains_run_in_the_float_simulator_as_the_torch_model_runs_them(digits, tmp_path):
    x, y = digits
    trains = spike_trains(x, 8)
    np.savez(tmp_path / "trains.npz", x=trains, y=y)
    result = compile_model(MODEL, CompileOptions(data=DataOptions(file=tmp_path / "trains.npz", calib=CALIB)))
    model = load_torch_model(MODEL)
    with torch.no_grad():  # snncc.nn.SNN takes a sequence time-major: (T, N, C, H, W)
        expected = model(torch.from_numpy(trains).transpose(0, 1), sequence=True).numpy()
    got = result.comparison.float_trace.outputs["output"]
    np.testing.assert_allclose(got.reshape(expected.shape), expected, rtol=1e-4, atol=1e-5)
    v = result.comparison.verification
    assert v.float_accuracy > 0.8 and v.output_agreement > 0.9 and v.float_silent == 0


def test_per_step_data_for_spikingjelly_and_snntorch_models(digits):
    from framework_models import STEPS, SJConvNet, STNet

    x, _ = digits
    for model, sample in ((SJConvNet().eval(), x.shape[1:]), (STNet().eval(), (64,))):
        per_step = Dataset(Path("<trains>"), spike_trains(x, STEPS).reshape(len(x), STEPS, *sample), None)

        read = read_torch(model, readout="mean" if isinstance(model, STNet) else None)
        graph = bind_samples(read.graph, per_step)
        assert graph.meta.steps == STEPS
        (_, op), *_ = [(n, o) for n, o in graph.nodes if type(o).__name__ == "Input"]
        assert op.shape == tuple(sample)


def test_per_step_data_with_the_wrong_number_of_steps_is_refused(digits, tmp_path):
    x, y = digits
    np.savez(tmp_path / "five.npz", x=spike_trains(x, 5), y=y)
    with pytest.raises(DataError) as err:
        compile_model(MODEL, CompileOptions(data=DataOptions(file=tmp_path / "five.npz")))
    assert err.value.code == "DAT008" and "the model runs 8 steps, not 5" in err.value.render()


def test_a_shape_the_model_takes_both_ways_is_refused_as_ambiguous():
    # Flatten + Linear(64): (N, 1, 64) is one 64-vector, or 1 step of a 64-vector when the model runs 1 step
    body = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))
    data = Dataset(Path("<x>"), np.zeros((4, 1, 64)), None)
    with pytest.raises(DataError) as err:
        bind_samples(read_torch(body, steps=1, readout="mean").graph, data)
    assert err.value.code == "DAT030" and "both as one input" in err.value.render()


def test_compile_module_takes_spike_trains(digits):
    x, y = digits
    model = load_torch_model(MODEL)
    result = compile_module(model, spike_trains(x, 8), y, CompileOptions())
    assert result.dataset.x.shape[1:] == (8, 1, 8, 8)
    assert result.comparison.verification.output_agreement > 0.85


def test_spike_trains_from_the_command_line(digits, tmp_path, capsys):
    x, y = digits
    np.savez(tmp_path / "trains.npz", x=spike_trains(x, 8), y=y)
    argv = ["compile", str(MODEL), "--data", str(tmp_path / "trains.npz"), "--out", str(tmp_path / "o"), "-q"]
    # 48 samples are scored (16 calibrate): one sample that changes class is 2.08 pp of accuracy
    code = main([*argv, "--max-accuracy-drop", "3"])
    assert code == 0, capsys.readouterr().err
    summary = simulate_artifact(tmp_path / "o", data=tmp_path / "trains.npz")  # the artifact runs them too
    report = json.loads((tmp_path / "o" / "report.json").read_text())
    # the file it was compiled with: simulate runs the rows compile scored, and agrees with compile
    assert summary["samples"] == 48 and summary["data"]["rows"] == report["data"]["scored_rows"] == [16, 64]
    assert summary["output_agreement"] == report["verification"]["output_agreement"] > 0.9
