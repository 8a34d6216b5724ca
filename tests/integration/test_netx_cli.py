"""A lava-dl netx network through the command line: `snncc check`, `compile` and `simulate` take the
.net file lava-dl's export_hdf5 writes (recognized by its HDF5 signature, not its name), and the
compiled artifact reproduces lava-dl's golden arrays for its tiny.net (produced by Lava's
fixed-point models in lava-dl's own tests), as snncc.importers.netx does from Python."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from snncc.backends import Record, get_backend
from snncc.cli import main
from snncc.ir import load

STEPS = 16  # lava-dl's test runs 16 steps; its golden arrays hold steps 1..15 after an empty step 0
ALL = Record(spikes=True, v=True, u=True)


@pytest.fixture(scope="module")
def tiny(shared_data, tmp_path_factory) -> dict[str, Path]:
    net, arrays = shared_data / "netx" / "tiny.net", shared_data / "netx" / "tinynet"
    if not net.is_file():
        pytest.skip(f"{net} is absent")
    folder = tmp_path_factory.mktemp("netx")
    model = folder / "lava_dl_export"  # no extension: snncc must know the file by its content
    shutil.copy(net, model)
    # lava-dl drives the input block's neurons through bias_mant, stored in Lava's (x, y, c) order
    x = np.load(arrays / "input_bias.npy").transpose(2, 1, 0)[None].astype(np.float64)
    np.savez(folder / "input.npz", x=x)
    return {"model": model, "data": folder / "input.npz", "arrays": arrays, "folder": folder}


def golden(arrays: Path, name: str) -> np.ndarray:
    """A golden (1, C, H, W, T) array as (T - 1, C, H, W): index 0 is lava-dl's empty step 0."""
    return np.moveaxis(np.load(arrays / f"{name}.npy")[0], -1, 0)[1:]


def args(tiny, *more: str) -> list[str]:
    return [str(tiny["model"]), "--steps", str(STEPS), "--data", str(tiny["data"]), "-q", *more]


@pytest.mark.slow  # a compile with its report and plots (13 s)
def test_compile_check_and_simulate_take_a_netx_file_and_reproduce_lava_dl(tiny, capsys):
    assert main(["check", *args(tiny, "--target", "loihi2")]) == 0
    assert "fits loihi2" in capsys.readouterr().out

    out = tiny["folder"] / "out"
    assert main(["compile", *args(tiny, "--target", "loihi2", "--out", str(out))]) == 0
    capsys.readouterr()
    report = json.loads((out / "report.json").read_text())
    assert report["verification"]["output_agreement"] == 1.0
    graph = load(out, stem="graph")  # the deployed network, as the artifact holds it
    x = {"input": np.load(tiny["data"])["x"].astype(np.int64)}
    trace = get_backend("refsim").run(graph, x, record=ALL)
    n, arrays = STEPS - 1, tiny["arrays"]
    np.testing.assert_array_equal(trace.spikes["layer0"][0, :n], golden(arrays, "input"))
    np.testing.assert_array_equal(trace.u["layer1"][0, :n], golden(arrays, "current") * 64)  # current = u / 2^6
    np.testing.assert_array_equal(trace.spikes["layer1"][0, :n], golden(arrays, "layer1"))
    np.testing.assert_array_equal(trace.spikes["layer2"][0, :n], golden(arrays, "output"))
    assert trace.spikes["layer2"].sum() > 0

    assert main(["simulate", str(out), "--data", str(tiny["data"]), "-q"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["output_agreement"] == 1.0 and summary["steps"] == STEPS


@pytest.mark.parametrize(
    ("target", "code", "named"),
    [("loihi", "MAP001", "--target loihi2"), ("xylo", "MAP051", "loihi or loihi2")],
)
def test_a_target_that_cannot_run_it_is_named_with_one_that_can(tiny, capsys, target, code, named):
    assert main(["check", *args(tiny, "--target", target)]) == 2
    err = capsys.readouterr().err
    assert f"error[{code}]" in err and named in err and "Traceback" not in err


@pytest.mark.lava
def test_lava_runs_the_compiled_netx_network_bit_exactly(tiny, capsys):
    out = tiny["folder"] / "out-lava"
    assert main(["compile", *args(tiny, "--target", "loihi2", "--out", str(out), "--backend", "lava")]) == 0
    capsys.readouterr()
    assert main(["simulate", str(out), "--data", str(tiny["data"]), "--backend", "lava", "-q"]) == 0
    assert json.loads(capsys.readouterr().out)["bit_exact_with_refsim"] is True
