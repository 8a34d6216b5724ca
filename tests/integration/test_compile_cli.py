"""`snncc compile` end to end on the bundled digits model, as a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow  # runs the CLI in subprocesses

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "digits" / "model.pt"


def snncc(*args: str, cwd: Path | None = None, hash_seed: int | None = None) -> subprocess.CompletedProcess:
    env = None if hash_seed is None else {**os.environ, "PYTHONHASHSEED": str(hash_seed)}
    return subprocess.run(
        [sys.executable, "-m", "snncc.cli", *args],
        capture_output=True,
        text=True,
        cwd=cwd or REPO,
        timeout=600,
        env=env,
    )


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[Path, dict, subprocess.CompletedProcess]:
    out = tmp_path_factory.mktemp("c") / "digits"
    proc = snncc("compile", str(MODEL), "--target", "loihi", "--out", str(out), "--neurobench", hash_seed=1)
    assert proc.returncode == 0, proc.stderr
    return out, json.loads((out / "report.json").read_text()), proc


def test_report_has_the_promised_fields(compiled):
    out, report, _ = compiled
    assert report["target"]["name"] == "loihi"
    cores = report["cores"]
    assert 1 <= cores["used"] <= cores["available"]
    assert cores["used"] >= cores["lower_bound"] >= 1
    assert len(cores["per_core"]) == cores["used"]
    for core in cores["per_core"]:
        for key in ("neurons", "synapse_bits", "fan_in_axons", "fan_out_axons"):
            assert core[key] >= 0
    energy = report["energy"]
    assert energy["synops"] > 0 and energy["neuron_updates"] > 0 and energy["total_pj"] > 0
    assert all(c["source"] for c in energy["coefficients"].values())
    v = report["verification"]
    assert {"float_accuracy", "deployed_accuracy", "output_agreement", "layers"} <= set(v)
    assert [layer["layer"] for layer in v["layers"]]  # per-layer spike agreement
    assert report["input"]["encoding"] == "bitplane"  # Loihi 1 has binary spikes only
    for name in ("graph.json", "graph.npz", "placement.json", "report.md"):
        assert (out / name).is_file()
    table_rows = [line for line in (out / "report.md").read_text().splitlines() if line.startswith("|")]
    assert table_rows and not [row for row in table_rows if "||" in row or not row.endswith("|")]
    assert "\n| cores used |" in (out / "report.md").read_text()  # its own row of the summary table


def test_deployment_reproduces_the_float_model(compiled):
    _, report, _ = compiled
    v = report["verification"]
    assert v["float_accuracy"] > 0.9
    assert abs(v["deployed_accuracy"] - v["float_accuracy"]) <= 0.01
    assert v["output_agreement"] >= 0.98


def test_report_states_the_pass_rule_and_what_calibration_saw(compiled):
    out, report, _ = compiled
    calibration = report["data"]["calibration"]
    assert calibration["path"].endswith("calib_data.npz") and not calibration["overlaps_scored"]
    assert report["data"]["samples"] == 450  # every held-out digit is scored; none was calibrated on
    v = report["verification"]
    assert v["passed"] and v["failed_because"] == []
    assert v["float_silent"] == 0 and v["deployed_ties"] <= 2
    md = (out / "report.md").read_text()
    assert "Pass criterion: the deployed network makes the same decision" in md and "argmax" in md
    assert "calibrated on | 256 training samples" in md
    below = [layer["layer"] for layer in v["layers"] if layer["spike_agreement"] < v["tolerance"]]
    assert below  # body.6 sits under the 99 % line: the report must say so, not "PASS" beside it
    assert f"Layers below the 99.00% line: {below[0]}" in md and "(below line)" in md


def test_agreement_plot_starts_at_zero_and_marks_layers_below_the_line_red(compiled):
    from matplotlib.image import imread

    out, _report, _ = compiled
    pixels = imread(out / "agreement.png")[..., :3]
    red = np.all(np.abs(pixels - np.array([0.839, 0.153, 0.157])) < 0.02, axis=-1)  # matplotlib's tab:red
    green = np.all(np.abs(pixels - np.array([0.173, 0.627, 0.173])) < 0.02, axis=-1)  # tab:green
    assert red.sum() > 1000 and green.sum() > 1000  # one layer below the line, one above
    rows_red, rows_green = np.nonzero(red.any(axis=1))[0], np.nonzero(green.any(axis=1))[0]
    # both bars reach down to the same baseline (the axis starts at 0), and the lower layer's bar is shorter
    assert rows_red.max() == rows_green.max()
    assert rows_red.min() > rows_green.min()


def test_calib_option_calibrates_on_its_file_and_data_alone_is_split(tmp_path):
    bundled = np.load(REPO / "examples" / "digits" / "test_data.npz")
    data = tmp_path / "data.npz"
    np.savez(data, x=bundled["x"][:80], y=bundled["y"][:80])
    split = snncc("compile", str(MODEL), "--data", str(data), "--out", str(tmp_path / "split"), "-q")
    assert split.returncode == 0, split.stderr
    report = json.loads((tmp_path / "split" / "report.json").read_text())
    assert report["data"]["samples"] == 60 and report["data"]["calibration"]["samples"] == 20
    assert "the first 20 samples of data.npz (not scored" in (tmp_path / "split" / "report.md").read_text()
    calib = REPO / "examples" / "digits" / "calib_data.npz"
    given = snncc("compile", str(MODEL), "--data", str(data), "--calib", str(calib), "--out", str(tmp_path / "c"), "-q")
    assert given.returncode == 0, given.stderr
    report = json.loads((tmp_path / "c" / "report.json").read_text())
    assert report["data"]["samples"] == 80 and report["data"]["calibration"]["samples"] == 256
    assert "(--calib)" in report["data"]["calibration"]["source"]


def test_neurons_placed_equal_the_model(compiled):
    out, report, _ = compiled
    graph = json.loads((out / "graph.json").read_text())
    neurons = 0
    for node in graph["nodes"]:
        if node["op"] == "int_lif":
            size = 1
            for d in node["fields"]["shape"]:
                size *= d
            neurons += size
    assert sum(core["neurons"] for core in report["cores"]["per_core"]) == neurons


def test_existing_output_dir_is_refused_and_left_alone(compiled, tmp_path):
    out = tmp_path / "exists"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    proc = snncc("compile", str(MODEL), "--out", str(out))
    assert proc.returncode == 2
    assert "already exists" in proc.stderr and "Traceback" not in proc.stderr
    assert (out / "keep.txt").read_text() == "mine"


def test_bad_model_file_gives_a_clear_error_and_no_output(tmp_path):
    bad = tmp_path / "model.pt"
    bad.write_bytes(b"not a torch file")
    out = tmp_path / "out"
    proc = snncc("compile", str(bad), "--out", str(out))
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and str(bad) in proc.stderr
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out")]


def test_neurobench_flag_prints_the_metrics_report_json_holds(compiled):
    out, report, proc = compiled
    section = report["neurobench"]
    keys = {"Footprint", "ConnectionSparsity", "ActivationSparsity", "SynapticOperations", "MembraneUpdates"}
    assert keys <= set(section["float"]) and keys <= set(section["integer"])
    ops = section["integer"]["SynapticOperations"]
    assert ops["Effective_MACs"] == 0 < ops["Effective_ACs"]  # bit-plane input and spikes: binary messages only
    assert section["integer"]["samples"] == min(256, report["data"]["samples"])
    printed = [line.split() for line in proc.stdout.splitlines() if "Effective_ACs" in line]
    assert printed == [
        [
            "SynapticOperations",
            "Effective_ACs",
            f"{section['float']['SynapticOperations']['Effective_ACs']:,.1f}",
            f"{ops['Effective_ACs']:,.1f}",
        ]
    ]
    assert "## NeuroBench metrics" in (out / "report.md").read_text()


def test_compiling_twice_gives_identical_artifacts(compiled, tmp_path):
    out, _, _ = compiled
    again = tmp_path / "again"
    # without --neurobench: the flag only prints, the artifacts are the same
    # another hash seed: set and dict-of-set orders must not reach the artifacts
    assert snncc("compile", str(MODEL), "--out", str(again), "-q", hash_seed=2).returncode == 0
    for path in sorted(out.iterdir()):
        if path.name == "report.json":
            a, b = json.loads(path.read_text()), json.loads((again / path.name).read_text())
            a.pop("timing"), b.pop("timing")
            assert a == b
        else:
            assert path.read_bytes() == (again / path.name).read_bytes(), path.name


@pytest.mark.lava
def test_lava_backend_from_the_command_line(tmp_path):
    out = tmp_path / "lava"
    proc = snncc("compile", str(MODEL), "--out", str(out), "--backend", "lava", "--lava-samples", "3", "-q")
    assert proc.returncode == 0, proc.stderr
    lava = json.loads((out / "report.json").read_text())["backends"]["lava"]
    assert lava["bit_exact"] is True and lava["samples"] == 3 and lava["wall_seconds"] > 0
    assert lava["compared"] == ["u", "v", "spikes"]
    sim = snncc("simulate", str(out), "--backend", "lava", "--samples", "3")
    assert sim.returncode == 0, sim.stderr
    summary = json.loads(sim.stdout)
    assert summary["backend"] == "lava" and summary["samples"] == 3 and summary["output_agreement"] >= 2 / 3
    assert summary["bit_exact_with_refsim"] is True and summary["compared_with_refsim"] == ["u", "v", "spikes"]
    assert "Lava matched the reference backend bit for bit" in sim.stderr


def test_a_reader_that_closes_the_pipe_gets_no_traceback():
    read, write = os.pipe()
    os.close(read)  # as `snncc targets | head -0`: every write to stdout fails with EPIPE
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "snncc.cli", "targets"], stdout=write, stderr=subprocess.PIPE, text=True, cwd=REPO
        )
    finally:
        os.close(write)
    assert proc.returncode == 141 and "Traceback" not in proc.stderr, proc.stderr


def test_check_and_targets_commands():
    ok = snncc("check", str(MODEL), "--target", "loihi", "-q")
    assert ok.returncode == 0 and "fits loihi" in ok.stdout
    too_small = snncc("check", str(MODEL), "--target", "toy", "-q")
    assert too_small.returncode == 2
    assert "MAP003" in too_small.stderr and "body.6" in too_small.stderr and "Traceback" not in too_small.stderr
    listing = snncc("targets")
    assert listing.returncode == 0 and all(name in listing.stdout for name in ("loihi", "loihi2", "toy"))


def test_progress_without_a_terminal_is_plain_lines(compiled):
    _, _, proc = compiled  # stderr was a pipe
    lines = proc.stderr.splitlines()
    assert "snncc:   450/450 samples" in lines and "snncc:   64/450 samples" in lines
    assert "\r" not in proc.stderr and "%|" not in proc.stderr
    assert all(line.startswith("snncc: ") for line in lines)
