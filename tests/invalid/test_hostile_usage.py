"""Careless and unlucky use: nothing of the user's is lost, nothing is left behind, and every
refusal is exit 2 with an error code, before any work where it can be.

Data loss: two runs into one --out, --force over the inputs, the current or the home folder,
SIGTERM and SIGKILL mid-run, output locations that cannot be written.  Exit status: user code
that exits, options out of range, malformed layers, labels and complex numbers the model cannot
mean.  Each case runs the real command line (in-process, or as a process where signals or
concurrency are the point) on the bundled digits model or a small model built here.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import snncc
import snncc.nn as snn
from snncc.cli import main
from snncc.errors import DataError, OutputError
from snncc.options import DataOptions, ParallelOptions, VerificationOptions
from snncc.output_dir import atomic_output_dir

REPO = Path(__file__).resolve().parents[2]
DIGITS_MODEL = REPO / "examples" / "digits" / "model.pt"
DIGITS_DATA = REPO / "examples" / "digits" / "test_data.npz"
ANN = REPO / "examples" / "ann"
SNNCC = [sys.executable, "-m", "snncc.cli"]


def run_cli(args: list[str], capsys) -> tuple[int, str]:
    code = main([str(a) for a in args])
    return code, capsys.readouterr().err


def assert_refused(code: int, err: str, error_code: str, fragment: str = "") -> None:
    assert code == 2, err
    assert f"error[{error_code}]" in err, err
    assert fragment in err, err
    assert "Traceback" not in err, err


def siblings(folder: Path, name: str) -> list[str]:
    """Temporary or moved-aside siblings of ``folder/name`` (any run's)."""
    return sorted(p.name for p in folder.iterdir() if p.name.startswith(f".{name[:100]}."))


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A user's project folder: the model and the data side by side."""
    folder = tmp_path / "project"
    folder.mkdir()
    shutil.copy(DIGITS_MODEL, folder / "model.pt")
    shutil.copy(DIGITS_DATA, folder / "data.npz")
    return folder


def intact(folder: Path) -> bool:
    return (folder / "model.pt").read_bytes() == DIGITS_MODEL.read_bytes() and (
        folder / "data.npz"
    ).read_bytes() == DIGITS_DATA.read_bytes()


# --- data loss: --force over what the user reads -------------------------------------------------


@pytest.mark.parametrize("where", ["model-folder", "folder-above", "current-folder", "home-folder", "symlink"])
def test_force_never_replaces_a_folder_holding_the_inputs(where, workspace, tmp_path, capsys, monkeypatch):
    (tmp_path / "link").symlink_to(workspace)
    other = tmp_path / "elsewhere"  # the home folder, or the current one, holding other files of the user
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    monkeypatch.setenv("HOME", str(other))
    monkeypatch.chdir(workspace if where in ("current-folder", "home-folder") else other)
    out = {
        "model-folder": workspace,
        "folder-above": tmp_path,
        "current-folder": Path("."),
        "home-folder": Path("~").expanduser(),
        "symlink": tmp_path / "link",
    }[where]
    code, err = run_cli(
        ["compile", workspace / "model.pt", "--data", workspace / "data.npz", "--out", out, "--force", "-q"], capsys
    )
    assert_refused(code, err, "OUT005")
    assert intact(workspace) and (other / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in workspace.iterdir()) == ["data.npz", "model.pt"]


def test_force_never_replaces_the_root(workspace, capsys, monkeypatch):
    monkeypatch.chdir(workspace)
    code, err = run_cli(["compile", "model.pt", "--out", "/", "--force", "-q"], capsys)
    assert_refused(code, err, "OUT005")
    assert not [p for p in Path("/").iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_convert_refuses_an_out_holding_its_calibration_data(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    shutil.copy(ANN / "calib.npz", data / "calib.npz")
    code, err = run_cli(
        ["convert", ANN / "ann.onnx", "--calib", data / "calib.npz", "--steps", "8", "--out", data, "--force", "-q"],
        capsys,
    )
    assert_refused(code, err, "OUT005", "calib.npz")
    assert (data / "calib.npz").read_bytes() == (ANN / "calib.npz").read_bytes()


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compiled") / "out"
    assert main(["compile", str(DIGITS_MODEL), "--out", str(out), "--samples", "8", "-q"]) == 0
    return out


def test_export_never_overwrites_the_artifact_it_reads(artifact, tmp_path, capsys):
    copy = tmp_path / "artifact"
    shutil.copytree(artifact, copy)
    before = (copy / "graph.json").read_bytes()
    code, err = run_cli(["export", copy, "--nir", copy / "graph.json", "--force", "-q"], capsys)
    assert_refused(code, err, "OUT005", "graph.json")
    assert (copy / "graph.json").read_bytes() == before
    code, err = run_cli(["export", copy, "--nir", tmp_path, "--force", "-q"], capsys)
    assert code == 2 and "error[OUT" in err and "Traceback" not in err, err


def test_write_report_refuses_the_model_folder(workspace, capsys):
    result = snncc.compile_model(
        workspace / "model.pt", snncc.CompileOptions(data=DataOptions(file=workspace / "data.npz", samples=4))
    )
    with pytest.raises(OutputError) as err:
        snncc.write_report(result, workspace, force=True)
    assert err.value.code == "OUT005" and intact(workspace)


# --- data loss: two runs into one --out ----------------------------------------------------------


def test_a_run_never_replaces_an_output_that_appeared_meanwhile(tmp_path):
    """Another run's result lands while this one writes (here an empty directory, which os.rename
    replaces silently): it stays, this run fails with OUT007 and leaves nothing."""
    out = tmp_path / "out"
    with pytest.raises(OutputError) as err, atomic_output_dir(out) as tmp:
        (tmp / "report.json").write_text("{}")
        out.mkdir()
    assert err.value.code == "OUT007"
    assert list(out.iterdir()) == [] and sorted(p.name for p in tmp_path.iterdir()) == ["out"]


FORCED_WRITER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    from snncc.output_dir import atomic_output_dir
    out, n = Path(sys.argv[1]), int(sys.argv[2])
    for i in range(n):
        with atomic_output_dir(out, force=True) as tmp:
            for part in ("a", "b", "c"):
                (tmp / part).write_text(f"{os.getpid()}-{i}")
    """
)


def test_concurrent_forced_runs_each_leave_one_whole_result(tmp_path):
    out = tmp_path / "out"
    writers = [
        subprocess.Popen([sys.executable, "-c", FORCED_WRITER, str(out), "150"], stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    errors = [w.communicate(timeout=120)[1] for w in writers]
    assert [w.returncode for w in writers] == [0, 0, 0], errors
    parts = {(out / p).read_text() for p in ("a", "b", "c")}
    assert len(parts) == 1, parts  # one run's whole result, not a mix
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


# --- data loss: signals --------------------------------------------------------------------------


@pytest.mark.slow  # a fresh snncc process
def test_sigterm_is_an_interrupt_that_leaves_nothing(workspace, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*SNNCC, "compile", str(workspace / "model.pt"), "--out", str(out)], stderr=subprocess.PIPE, text=True
    )
    for line in proc.stderr:
        if "simulating" in line:
            proc.send_signal(signal.SIGTERM)
            break
    rest = proc.stderr.read()
    assert proc.wait(timeout=60) == 128 + signal.SIGTERM, rest
    assert "interrupted (SIGTERM)" in rest and "Traceback" not in rest, rest
    assert sorted(p.name for p in tmp_path.iterdir()) == ["project"]


INTERRUPTED_WRITER = textwrap.dedent(
    """
    import os, signal, sys, time
    from pathlib import Path
    from snncc.output_dir import atomic_output_dir
    with atomic_output_dir(Path(sys.argv[1])) as tmp:
        (tmp / "report.json").write_text("{")
        print(tmp.name, flush=True)
        if sys.argv[2] == "kill":
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(60)
    """
)


def test_leftovers_of_a_killed_run_are_removed_but_a_live_runs_are_kept(tmp_path, capsys):
    out = tmp_path / "out"
    live = subprocess.Popen(
        [sys.executable, "-c", INTERRUPTED_WRITER, str(out), "wait"], stdout=subprocess.PIPE, text=True
    )
    try:
        running = live.stdout.readline().strip()
        killed = subprocess.run(
            [sys.executable, "-c", INTERRUPTED_WRITER, str(out), "kill"], capture_output=True, text=True, timeout=60
        )
        assert killed.returncode == -signal.SIGKILL
        stale = killed.stdout.strip()
        assert siblings(tmp_path, "out") == sorted([stale, running])
        code, err = run_cli(["compile", DIGITS_MODEL, "--out", out, "--samples", "4", "-q"], capsys)
        assert code == 0, err
        assert siblings(tmp_path, "out") == [running]  # the dead run's folder is gone, the live one's kept
        assert (tmp_path / running / "report.json").is_file()
    finally:
        live.kill()
        live.wait()


def test_an_interrupt_inside_the_write_removes_the_temporary_folder(tmp_path):
    from snncc.cli import Terminated

    out = tmp_path / "out"
    with pytest.raises(Terminated), atomic_output_dir(out) as tmp:
        (tmp / "report.json").write_text("{")
        raise Terminated(signal.SIGTERM)
    assert list(tmp_path.iterdir()) == []


# --- data loss: locations that fail only at the end ----------------------------------------------


@pytest.mark.parametrize(
    ("out", "code"),
    [
        ("/sys/kernel/snncc-out", "OUT004"),  # root may "access" it; mkdir still fails
        ("/proc", "OUT003"),  # a mount point: rename says EBUSY
        ("x" * 256, "OUT004"),
        ("a/" + "y" * 256 + "/b", "OUT004"),
    ],
    ids=["sys", "mount-point", "name-256", "folder-256"],
)
def test_unwritable_locations_fail_before_any_work(out, code, tmp_path, capsys, monkeypatch):
    """Refused before the model is read: a model file that does not exist is not reported."""
    monkeypatch.chdir(tmp_path)
    exit_code, err = run_cli(["compile", "missing.pt", "--out", out, "--force", "-q"], capsys)
    assert_refused(exit_code, err, code)
    assert list(tmp_path.iterdir()) == []
    assert not [p for p in Path("/").iterdir() if ".tmp-" in p.name or ".old-" in p.name]


def test_a_255_character_name_is_written(tmp_path, capsys):
    out = tmp_path / ("n" * 255)
    code, err = run_cli(["compile", DIGITS_MODEL, "--out", out, "--samples", "4", "-q"], capsys)
    assert code == 0, err
    assert (out / "report.json").is_file() and [p.name for p in tmp_path.iterdir()] == [out.name]


def test_missing_parent_folders_are_not_left_behind_on_failure(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"not a model")
    code, err = run_cli(["compile", bad, "--out", tmp_path / "new" / "deeper" / "out", "-q"], capsys)
    assert code == 2, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.pt"]


# --- wrong exit status: user code ----------------------------------------------------------------

MODELS = textwrap.dedent(
    """
    import argparse, sys
    import torch
    from torch import nn
    import snncc.nn as snn


    def body(*layers):
        return snn.SNN(nn.Sequential(*layers), steps=4)


    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = body(nn.Flatten(), nn.Linear(64, 10), snn.LIF())

        def forward(self, x):
            return self.b(x)


    class ParsesArgv(Net):
        def __init__(self):
            parser = argparse.ArgumentParser()
            parser.add_argument("--lr", type=float, default=0.1)
            parser.parse_args()
            super().__init__()


    class ExitsInConstructor(nn.Module):
        def __init__(self):
            sys.exit(0)


    class ExitsInForward(Net):
        def forward(self, x):
            sys.exit(0)


    class Bias5(Net):
        def __init__(self):
            super().__init__()
            self.b.body[1].bias = nn.Parameter(torch.zeros(5))


    class Weight3D(Net):
        def __init__(self):
            super().__init__()
            self.b.body[1].weight = nn.Parameter(torch.zeros(10, 64, 1))


    class Stride0(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = body(nn.Conv2d(1, 2, 3, stride=0), snn.LIF(), nn.Flatten(), nn.Linear(72, 10), snn.LIF())

        def forward(self, x):
            return self.b(x)


    class AvgPool0(nn.Module):
        def __init__(self):
            super().__init__()
            self.b = body(nn.Conv2d(1, 2, 3), snn.LIF(), nn.AvgPool2d(0), nn.Flatten(), nn.Linear(72, 10), snn.LIF())

        def forward(self, x):
            return self.b(x)


    class ContainsItself(Net):
        def __init__(self):
            super().__init__()
            self.b.body.add_module("again", self.b.body)
    """
)


@pytest.fixture(scope="module")
def user_code(tmp_path_factory) -> Path:
    """models.py and state dicts of its classes (net.pt: Net), saved as users save them."""
    folder = tmp_path_factory.mktemp("user_code")
    (folder / "models.py").write_text(MODELS)
    spec = importlib.util.spec_from_file_location("hostile_models", folder / "models.py")
    models = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(models)
    torch.manual_seed(0)
    torch.save(models.Net().state_dict(), folder / "net.pt")
    for cls in ("Bias5", "Weight3D", "Stride0", "AvgPool0"):
        torch.save(getattr(models, cls)().state_dict(), folder / f"{cls}.pt")
    torch.save(models.Net().state_dict(), folder / "ContainsItself.pt")  # its own state_dict() never ends
    return folder


def arch_check(folder: Path, cls: str, state: str = "net.pt") -> list:
    return ["check", folder / state, "--arch", f"{folder / 'models.py'}:{cls}", "-q"]


def test_arch_naming_an_exit_function_is_an_error_not_success(user_code, capsys):
    code, err = run_cli(["check", user_code / "net.pt", "--arch", "sys:exit", "-q"], capsys)
    assert_refused(code, err, "LOD013", "SystemExit")


def test_a_constructor_that_exits_is_an_error(user_code, capsys):
    code, err = run_cli(arch_check(user_code, "ExitsInConstructor"), capsys)
    assert_refused(code, err, "LOD013", "SystemExit")


def test_a_forward_that_exits_is_an_error(user_code, tmp_path, capsys):
    code, err = run_cli(
        [
            "compile",
            user_code / "net.pt",
            "--arch",
            f"{user_code / 'models.py'}:ExitsInForward",
            "--out",
            tmp_path / "out",
            "-q",
        ],
        capsys,
    )
    assert_refused(code, err, "LOD018", "SystemExit")
    assert not (tmp_path / "out").exists()


def test_a_constructor_that_parses_the_command_line_sees_no_snncc_options(user_code, capsys):
    code, err = run_cli(arch_check(user_code, "ParsesArgv"), capsys)
    assert code == 0, err
    assert "usage:" not in err


@pytest.mark.parametrize(
    ("cls", "code", "fragment"),
    [
        ("Bias5", "IMT016", "bias (5,)"),
        ("Weight3D", "IMT016", "3 dimensions"),
        ("Stride0", "IMT016", "stride"),
        ("AvgPool0", "IMT016", "kernel_size"),
        ("ContainsItself", "IMT015", "contains itself"),
    ],
)
def test_malformed_layers_are_refused_by_name(cls, code, fragment, user_code, capsys):
    exit_code, err = run_cli(arch_check(user_code, cls, f"{cls}.pt"), capsys)
    assert_refused(exit_code, err, code, fragment)


def test_complex_weights_in_a_state_dict_are_refused(user_code, tmp_path, capsys):
    state = torch.load(user_code / "net.pt")
    state["b.body.1.weight"] = state["b.body.1.weight"].to(torch.complex64) * (1 + 1j)
    torch.save(state, tmp_path / "complex.pt")
    code, err = run_cli(["check", tmp_path / "complex.pt", "--arch", f"{user_code / 'models.py'}:Net", "-q"], capsys)
    assert_refused(code, err, "LOD017", "b.body.1.weight")


def test_complex_weights_in_a_module_are_refused(tmp_path, capsys):
    model = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF()), steps=4)
    model.body[1].weight = nn.Parameter(model.body[1].weight.detach().to(torch.complex64))
    x = np.random.default_rng(0).random((8, 64))
    with pytest.raises(snncc.SnnccError) as err:
        snncc.compile_module(model, x)
    assert err.value.code == "IMT017" and "weight" in str(err.value)


# --- wrong exit status: options ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "code"),
    [
        (["--backend", "lava", "--lava-samples", "0"], "DAT012"),
        (["--backend", "lava", "--lava-samples", "-3"], "DAT012"),
        (["--workers", str(10**20)], "DAT012"),
        (["--dask-scheduler", "not a url"], "DAT031"),
        (["--dask-scheduler", "tcp://host-without-port"], "DAT031"),
        (["--min-agreement", "nan"], "DAT013"),
        (["--min-agreement", "2"], "DAT013"),
        (["--min-agreement", "-0.5"], "DAT013"),
    ],
    ids=lambda v: " ".join(v) if isinstance(v, list) else v,
)
def test_options_out_of_range_are_refused_before_any_work(extra, code, tmp_path, capsys):
    """Refused before the model is read: a model file that does not exist is not reported."""
    exit_code, err = run_cli(["compile", tmp_path / "missing.pt", "--out", tmp_path / "out", "-q", *extra], capsys)
    assert_refused(exit_code, err, code)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("extra", [["--min-agreement", "nan"], ["--min-agreement", "1.5"]])
def test_convert_validates_the_same_options(extra, tmp_path, capsys):
    code, err = run_cli(
        [
            "convert",
            ANN / "ann.onnx",
            "--calib",
            ANN / "calib.npz",
            "--steps",
            "8",
            "--out",
            tmp_path / "o",
            "-q",
            *extra,
        ],
        capsys,
    )
    assert_refused(code, err, "DAT013")


def test_the_python_api_validates_options_too():
    x = np.load(DIGITS_DATA)["x"][:4]
    model = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF()), steps=4)
    for options, code in [
        (snncc.CompileOptions(verification=VerificationOptions(min_output_agreement=float("nan"))), "DAT013"),
        (snncc.CompileOptions(parallel=ParallelOptions(workers=10**20)), "DAT012"),
    ]:
        with pytest.raises(DataError) as err:
            snncc.compile_module(model, x, options=options)
        assert err.value.code == code


@pytest.mark.slow
def test_an_unreachable_dask_scheduler_fails_within_a_bounded_time(tmp_path, capsys):
    started = time.perf_counter()
    code, err = run_cli(
        [
            "compile",
            DIGITS_MODEL,
            "--out",
            tmp_path / "out",
            "--samples",
            "4",
            "-q",
            "--dask-scheduler",
            "tcp://127.0.0.1:9",
        ],
        capsys,
    )
    assert_refused(code, err, "DAT031", "cannot reach")
    assert time.perf_counter() - started < 30
    assert list(tmp_path.iterdir()) == []


# --- accepted but wrong: data the model cannot mean ----------------------------------------------


def digits_with(tmp_path: Path, **change) -> Path:
    with np.load(DIGITS_DATA) as npz:
        arrays = {"x": npz["x"][:20], "y": npz["y"][:20]}
    for key, edit in change.items():
        arrays[key] = edit(arrays[key])
    np.savez(tmp_path / "data.npz", **arrays)
    return tmp_path / "data.npz"


def set_first(value):
    def edit(y):
        y = y.copy()
        y[0] = value
        return y

    return edit


@pytest.mark.parametrize("label", [99, 10, -1])
@pytest.mark.parametrize("command", ["compile", "check", "simulate"])
def test_labels_outside_the_models_classes_are_refused(label, command, artifact, tmp_path, capsys):
    data = digits_with(tmp_path, y=set_first(label))
    args = {
        "compile": ["compile", DIGITS_MODEL, "--data", data, "--out", tmp_path / "out", "-q"],
        "check": ["check", DIGITS_MODEL, "--data", data, "-q"],
        "simulate": ["simulate", artifact, "--data", data, "-q"],
    }[command]
    code, err = run_cli(args, capsys)
    assert_refused(code, err, "DAT014", str(label))
    assert not (tmp_path / "out").exists()


def test_convert_refuses_labels_outside_the_classes(tmp_path, capsys):
    with np.load(ANN / "test.npz") as npz:
        np.savez(tmp_path / "test.npz", x=npz["x"][:16], y=np.full(16, 99))
    code, err = run_cli(
        [
            "convert",
            ANN / "ann.onnx",
            "--calib",
            ANN / "calib.npz",
            "--data",
            tmp_path / "test.npz",
            "--steps",
            "4",
            "--out",
            tmp_path / "o",
            "-q",
        ],
        capsys,
    )
    assert_refused(code, err, "DAT014")
    assert not (tmp_path / "o").exists()


def test_complex_inputs_are_refused_naming_the_file(tmp_path, capsys):
    data = digits_with(tmp_path, x=lambda x: x + 1j)
    code, err = run_cli(["check", DIGITS_MODEL, "--data", data, "-q"], capsys)
    assert_refused(code, err, "DAT015", str(data))


def test_the_python_api_refuses_labels_outside_the_classes():
    with np.load(DIGITS_DATA) as npz:
        x, y = npz["x"][:8], npz["y"][:8].copy()
    y[3] = 10
    model = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF()), steps=4)
    with pytest.raises(DataError) as err:
        snncc.compile_module(model, x, y)
    assert err.value.code == "DAT014"


def test_bundled_digits_labels_are_not_scored_against_a_model_with_fewer_classes(tmp_path, capsys):
    """No --data: the bundled digits' labels 0-9 mean nothing to a 3-output model, so no accuracy
    is reported (agreement with the float model still is), instead of a meaningless one."""
    torch.manual_seed(0)
    model = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(64, 3), snn.LIF()), steps=4)
    torch.save(model, tmp_path / "three.pt")
    code, err = run_cli(["compile", tmp_path / "three.pt", "--out", tmp_path / "out", "--samples", "20", "-q"], capsys)
    assert code in (0, 1), err  # an untrained net may be silent (verdict FAIL): the report is still written
    assert "DAT014" not in err
    verification = json.loads((tmp_path / "out" / "report.json").read_text())["verification"]
    assert verification["float_accuracy"] is None and verification["output_agreement"] is not None
