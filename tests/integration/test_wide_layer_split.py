"""A user's model whose Linear reads more spikes than a Loihi 2 core has input axons deploys (issue 15, item 7).

snntorch tutorial 5's count network with its hidden layer widened to 4200 (user_models.STWideCountNet),
trained for a few seconds on the digits' training split, saved with torch.save(net.state_dict()) and
compiled through the CLI with --arch, as the README says.  Each output neuron reads 4200 spikes, more
than a core's 4096 axons: on loihi2 the layer is split into two partial sums (graded spikes) and
deploys within half a point of float, with Lava bit-exact; loihi, which has binary spikes only,
refuses it and names loihi2.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from snncc.cli import main

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import user_models as um  # noqa: E402
from test_user_models_deploy import accuracy, train  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits_split) -> dict:
    x_train, y_train, x_test, y_test = digits_split
    folder = tmp_path_factory.mktemp("wide")
    np.savez(folder / "test_flat.npz", x=x_test.reshape(len(x_test), -1), y=y_test)
    np.savez(folder / "train_flat.npz", x=x_train[:256].reshape(256, -1))
    torch.manual_seed(2)
    x = torch.from_numpy(x_train).reshape(len(x_train), -1)
    net = train(um.STWideCountNet(), x, torch.from_numpy(y_train), epochs=6, lr=5e-3)
    torch.save(net.state_dict(), folder / "wide.pt")
    return {"folder": folder, "accuracy": accuracy(net, x_test.reshape(len(x_test), -1), y_test)}


def compile_argv(saved: dict, target: str, out: Path) -> list[str]:
    f = saved["folder"]
    return [
        "compile",
        str(f / "wide.pt"),
        "--arch",
        f"{HERE / 'user_models.py'}:STWideCountNet",
        "--target",
        target,
        "--data",
        str(f / "test_flat.npz"),
        "--calib",
        str(f / "train_flat.npz"),
        "--out",
        str(out),
    ]


def test_a_linear_wider_than_a_core_deploys_on_loihi2_split_into_partial_sums(saved, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([*compile_argv(saved, "loihi2", out), "--backend", "lava", "--lava-samples", "4"])
    err = capsys.readouterr().err
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    v = report["verification"]
    print(
        f"wide: framework {saved['accuracy']:.4f}, float {v['float_accuracy']:.4f}, deployed {v['deployed_accuracy']:.4f}"
    )
    assert saved["accuracy"] > 0.9
    assert v["float_accuracy"] == pytest.approx(saved["accuracy"], abs=1e-9)
    assert v["deployed_accuracy"] >= v["float_accuracy"] - 0.005
    assert report["backends"]["lava"]["bit_exact"] is True
    assert report["fan_in_splits"] == {
        "lif2": {"parts": ["lif2.part1", "lif2.part2"], "inputs_per_neuron": 4200, "core_input_axons": 4096}
    }
    placed = {layer for core in report["cores"]["per_core"] for layer in core["layers"]}
    assert {"lif2.part1", "lif2.part2", "lif2"} <= placed
    assert report["energy"]["per_layer"]["lif2.part1"]["synops"] > 0
    assert "Split fan-in: each neuron of lif2 reads 4200 inputs" in (out / "report.md").read_text()
    model = [str(saved["folder"] / "wide.pt"), "--arch", f"{HERE / 'user_models.py'}:STWideCountNet"]
    assert main(["check", *model, "--target", "loihi2", "--data", str(saved["folder"] / "test_flat.npz")]) == 0
    assert "fan-in of lif2 split into 2 partial sums" in capsys.readouterr().out


def test_loihi_refuses_the_wide_linear_and_names_the_target_that_splits_it(saved, tmp_path, capsys):
    out = tmp_path / "out"
    code = main(compile_argv(saved, "loihi", out))
    err = capsys.readouterr().err
    assert code == 2
    assert "MAP003" in err and "'lif2'" in err and "needs 4200 input axons" in err
    assert "loihi cannot split one neuron's inputs across cores" in err and "loihi2 has graded spikes" in err
    assert "Traceback" not in err and not out.exists()
