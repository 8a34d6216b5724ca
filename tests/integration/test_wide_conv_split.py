"""A trained conv net whose second convolution reads more inputs per neuron than a core has axons deploys (issue 15, item 7).

snncc.nn model on the 8x8 digits: Conv2d(1, 32, 3, stride 2) -> LIF -> Conv2d(32, 4, 3) -> LIF -> Linear -> LIF,
trained for a few seconds and saved whole with torch.save, compiled through the CLI for
tests/targets/toy_relay.yaml (Loihi numerics with graded relays, 256 input axons per core): each
neuron of the second conv reads 32 x 9 = 288 inputs, so the conv is split along its input channels
into two partial sums (a VGG-style 512-channel 3x3 layer on loihi2's 4096 axons, scaled down so that
the test is fast).  It deploys at float's accuracy with Lava bit-exact; toy (no graded relays) refuses it.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import snncc.nn as snn
from snncc.cli import main

pytestmark = pytest.mark.slow  # trains a small conv net and runs Lava

TOY_RELAY = Path(__file__).resolve().parents[1] / "targets" / "toy_relay.yaml"


def wide_conv_net() -> snn.SNN:
    body = nn.Sequential(
        nn.Conv2d(1, 32, 3, stride=2, padding=1), snn.LIF(tau=2.0),
        nn.Conv2d(32, 4, 3, padding=1), snn.LIF(tau=2.0),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10), snn.LIF(tau=2.0),
    )  # fmt: skip
    return snn.SNN(body, steps=4, readout="sum")


@pytest.fixture(scope="module")
def saved(tmp_path_factory, digits_split) -> dict:
    x_train, y_train, x_test, y_test = digits_split
    torch.manual_seed(0)
    model = wide_conv_net()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.tensor(x_train), torch.tensor(y_train)
    for epoch in range(4):
        model.train()
        for idx in torch.randperm(len(x), generator=torch.Generator().manual_seed(epoch)).split(64):
            optimizer.zero_grad()
            nn.functional.cross_entropy(model(x[idx]), y[idx]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = float((model(torch.tensor(x_test)).argmax(1).numpy() == y_test).mean())
    folder = tmp_path_factory.mktemp("wideconv")
    torch.save(model, folder / "wideconv.pt")
    np.savez(folder / "test.npz", x=x_test, y=y_test)
    np.savez(folder / "calib.npz", x=x_train[:256])
    return {"folder": folder, "accuracy": accuracy}


def compile_argv(saved: dict, target: str, out: Path) -> list[str]:
    f = saved["folder"]
    data = ["--data", str(f / "test.npz"), "--calib", str(f / "calib.npz")]
    return ["compile", str(f / "wideconv.pt"), "--target", target, *data, "--out", str(out)]


def test_a_conv_wider_than_a_core_deploys_split_along_its_input_channels(saved, tmp_path, capsys):
    out = tmp_path / "out"
    code = main([*compile_argv(saved, str(TOY_RELAY), out), "--backend", "lava", "--lava-samples", "4"])
    err = capsys.readouterr().err
    assert code == 0, err
    report = json.loads((out / "report.json").read_text())
    v = report["verification"]
    with capsys.disabled():  # shown with -s
        print(f"wide conv: torch {saved['accuracy']:.4f}, float {v['float_accuracy']:.4f}, ", end="")
        print(f"deployed {v['deployed_accuracy']:.4f}, {report['cores']['used']} cores")
    assert saved["accuracy"] > 0.85
    assert v["float_accuracy"] == pytest.approx(saved["accuracy"], abs=1e-9)
    assert v["deployed_accuracy"] >= v["float_accuracy"] - 0.01
    assert report["backends"]["lava"]["bit_exact"] is True
    assert report["fan_in_splits"] == {
        "body.3": {"parts": ["body.3.part1", "body.3.part2"], "inputs_per_neuron": 288, "core_input_axons": 256}
    }
    placed = {layer for core in report["cores"]["per_core"] for layer in core["layers"]}
    assert {"body.3.part1", "body.3.part2", "body.3"} <= placed
    assert report["energy"]["per_layer"]["body.3.part1"]["synops"] > 0
    assert "Split fan-in: each neuron of body.3 reads 288 inputs" in (out / "report.md").read_text()
    check = ["check", str(saved["folder"] / "wideconv.pt"), "--target", str(TOY_RELAY)]
    assert main([*check, "--data", str(saved["folder"] / "test.npz")]) == 0
    assert "fan-in of body.3 split into 2 partial sums" in capsys.readouterr().out


def test_a_target_without_graded_relays_refuses_the_wide_conv_and_names_the_one_that_splits_it(saved, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(compile_argv(saved, "toy", out)) == 2
    err = capsys.readouterr().err
    assert "MAP003" in err and "'body.3'" in err and "needs 288 input axons" in err
    assert "toy cannot split one neuron's inputs across cores" in err and "loihi2 has graded spikes" in err
    assert "Traceback" not in err and not out.exists()
