"""The last hostile inputs (issue 25): bounded memory, no traceback on any path, clean exits under
signals, and files that loaded although they were wrong.

Each case failed on the code before it: it ran out of memory or for minutes, printed a traceback
(exit 3, nothing on stdout with --json), left a temporary folder behind, or exited 0.  Cases whose
memory is the point run in a process with a bounded address space and a timeout.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from onnx_models import onnx_conv
from torch import nn

import snncc.nn as snn
from snncc.cli import main

REPO = Path(__file__).resolve().parents[2]
DIGITS_MODEL = REPO / "examples" / "digits" / "model.pt"
XYLO = REPO / "examples" / "xylo_digits"
SNNCC = [sys.executable, "-m", "snncc.cli"]
GB = 1 << 30


def run_json(args: list, capsys) -> tuple[int, dict, str]:
    """main() with --json: the exit status, the one JSON object on stdout, stderr."""
    code = main([*map(str, args), "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err  # json.loads fails on an empty stdout or on two objects


def assert_json_refused(args: list, capsys, error_code: str, fragment: str = "") -> dict:
    code, doc, err = run_json(args, capsys)
    assert code == 2, err
    assert doc["error"]["code"] == error_code, doc
    assert fragment in err, err
    assert "Traceback" not in err, err
    return doc


def bounded(args: list, address_space: int = 2 * GB, timeout: float = 120) -> subprocess.CompletedProcess:
    """snncc in a process that cannot map more than ``address_space`` bytes; its peak RSS in kB
    is the last line of stdout."""
    script = textwrap.dedent(
        f"""
        import resource, sys
        resource.setrlimit(resource.RLIMIT_AS, ({address_space}, {address_space}))
        from snncc.cli import main
        code = main({[str(a) for a in args]!r})
        # VmHWM: this program's own peak; ru_maxrss would also count the forked copy of pytest before exec
        print(next(l.split()[1] for l in open("/proc/self/status") if l.startswith("VmHWM:")))
        sys.exit(code)
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="module")
def artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("compiled") / "digits"
    assert main(["compile", str(DIGITS_MODEL), "--out", str(out), "--samples", "8", "-q"]) == 0
    return out


def copy_of(artifact: Path, tmp: Path) -> Path:
    copy = tmp / "artifact"
    shutil.copytree(artifact, copy)
    return copy


# --- 1. memory ------------------------------------------------------------------------------------


def sparse_npy_folder(folder: Path, samples: int = 20_000_000) -> Path:
    """x.npy of 8 KB on disk declaring samples x 64 float32 (1.28e9 elements, 5 GB)."""
    folder.mkdir()
    x = np.lib.format.open_memmap(folder / "x.npy", mode="w+", dtype=np.float32, shape=(samples, 64))
    del x
    assert (folder / "x.npy").stat().st_blocks * 512 < 64 * 1024
    return folder


def test_a_sparse_npy_declaring_a_billion_elements_is_refused_at_once(artifact, tmp_path):
    data = sparse_npy_folder(tmp_path / "data")
    done = bounded(["simulate", artifact, "--data", data, "-q"], timeout=60)  # was 5.2 GB and 3 minutes
    assert done.returncode == 2, done.stderr
    assert "error[LIM001]" in done.stderr and "x.npy" in done.stderr, done.stderr
    assert int(done.stdout.split()[-1]) < 1_000_000  # kB (about 330 MB measured)


@pytest.mark.parametrize(
    ("y", "code"), [(np.zeros(3, np.int64), "DAT009"), (None, "DAT008")], ids=["bad labels", "bad shape"]
)
def test_shape_and_label_checks_come_before_the_nan_scan(y, code, artifact, tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    x = np.full((4, 1, 8, 8) if y is not None else (4, 7), np.nan)  # the NaN scan reads all of x: last
    np.save(data / "x.npy", x)
    if y is not None:
        np.save(data / "y.npy", y)
    assert_json_refused(["simulate", artifact, "--data", data], capsys, code)


def test_a_run_too_large_for_memory_is_refused_before_it_allocates(tmp_path):
    steps = 10**8  # with a raised --max-steps: 5.3 GB and an OpenBLAS malloc abort before
    args = ["compile", DIGITS_MODEL, "--out", tmp_path / "out", "--steps", steps, "--max-steps", steps, "-q"]
    done = bounded(args, timeout=120)
    assert done.returncode == 2, done.stderr
    assert "error[LIM001]" in done.stderr and "--max-elements" in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


# --- 2. tracebacks that were exit 3 ---------------------------------------------------------------


@pytest.fixture(scope="module")
def xylo_artifact(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("xylo") / "xylo"
    args = ["compile", XYLO / "model.pt", "--target", "xylo", "--data", XYLO / "test_data.npz", "--out", out]
    assert main([*map(str, args), "--samples", "4", "-q"]) == 0
    return out


def test_export_netx_of_a_xylo_compile_is_refused(xylo_artifact, tmp_path, capsys):
    assert_json_refused(["export", xylo_artifact, "--netx", tmp_path / "x.net"], capsys, "OUT206", "int_xylo_lif")
    assert list(tmp_path.iterdir()) == []


def test_an_onnx_conv_with_stride_0_is_refused(tmp_path, capsys):
    model = onnx_conv(tmp_path / "m.onnx", strides=(0, 0))
    np.savez(tmp_path / "calib.npz", x=np.random.default_rng(0).random((8, 1, 6, 6)))
    args = ["convert", model, "--calib", tmp_path / "calib.npz", "--steps", "4", "--out", tmp_path / "out", "-q"]
    assert_json_refused(args, capsys, "GRF022", "stride (0, 0)")
    assert not (tmp_path / "out").exists()


def test_simulating_an_artifact_with_nan_weights_is_refused(artifact, tmp_path, capsys):
    copy = copy_of(artifact, tmp_path)
    arrays = dict(np.load(copy / "graph.npz"))
    arrays = {k: np.full(v.shape, np.nan) if k.endswith("/weight") else v for k, v in arrays.items()}
    np.savez(copy / "graph.npz", **arrays)
    assert_json_refused(["simulate", copy], capsys, "GRF051", "float64")


def test_a_full_disk_while_writing_is_a_clean_error_leaving_nothing(tmp_path, capsys, monkeypatch):
    """ENOSPC after the graph files are written (here report.json's write fails): OUT004, and the
    temporary folder with the files written before is gone."""
    import snncc.report

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(snncc.report, "_write_json", full)
    args = ["compile", DIGITS_MODEL, "--out", tmp_path / "out", "--samples", "4", "-q"]
    assert_json_refused(args, capsys, "OUT004", "No space left on device")
    assert list(tmp_path.iterdir()) == []


def test_an_out_path_too_long_for_its_files_is_refused_before_the_compile(tmp_path, capsys, monkeypatch):
    """The folders exist and the name fits NAME_MAX, but the files inside would pass PATH_MAX."""
    import snncc.compile

    folder = tmp_path
    while len(os.fsencode(str(folder))) < 3800:
        folder /= "d" * 200
    folder.mkdir(parents=True)
    out = folder / ("o" * (4070 - len(os.fsencode(str(folder)))))
    monkeypatch.setattr(snncc.compile, "compile_model", lambda *a, **k: pytest.fail("compiled first"))
    assert_json_refused(["compile", DIGITS_MODEL, "--out", out, "-q"], capsys, "OUT004", "4096")
    assert list(folder.iterdir()) == []


# --- 3. signals -----------------------------------------------------------------------------------


def test_sigterm_as_the_temporary_folder_appears_leaves_nothing(tmp_path, capsys, monkeypatch):
    """The signal lands right after each mkdtemp (the probe before the compile, the output folder
    after it): the run ends 143 and no temporary folder survives."""
    import snncc.output_dir

    made = []

    def mkdtemp_then_sigterm(**kwargs):
        made.append(real(**kwargs))
        os.kill(os.getpid(), signal.SIGTERM)
        return made[-1]

    real = snncc.output_dir.tempfile.mkdtemp
    monkeypatch.setattr(snncc.output_dir.tempfile, "mkdtemp", mkdtemp_then_sigterm)
    code = main(["compile", str(DIGITS_MODEL), "--out", str(tmp_path / "out"), "--samples", "4", "-q"])
    assert code == 128 + signal.SIGTERM
    assert "no partial output was left" in capsys.readouterr().err
    assert made and list(tmp_path.iterdir()) == []


@pytest.mark.slow  # a few fresh snncc processes
@pytest.mark.parametrize("moment", ["loading", "8/8 samples"])  # simulating: test_hostile_usage.py
def test_sigterm_at_any_moment_exits_143_and_leaves_nothing(moment, tmp_path):
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*SNNCC, "compile", str(DIGITS_MODEL), "--out", str(out), "--samples", "8"], stderr=subprocess.PIPE, text=True
    )
    try:
        for line in proc.stderr:
            if moment in line:
                proc.send_signal(signal.SIGTERM)
                break
        rest = proc.stderr.read()
        assert proc.wait(timeout=60) == 128 + signal.SIGTERM, rest
    finally:
        proc.kill()
        proc.wait()
    assert "Traceback" not in rest, rest
    assert list(tmp_path.iterdir()) == []


# --- 4. accepted but wrong ------------------------------------------------------------------------


def test_split_parts_reading_the_same_columns_are_refused_on_load(tmp_path):
    from snncc.errors import InvalidGraph
    from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage, load, save
    from snncc.ir import verify as verify_graph
    from snncc.mapping.split import split_fan_in
    from snncc.target import load_target

    def lif(n: int) -> IntLIF:
        z = Const(np.zeros(n, dtype=np.int32))
        return IntLIF(shape=(n,), du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z)

    b = GraphBuilder()
    b.add("x", IntInput(shape=(600,), bits=4, encoding="graded"))
    w = Const(np.ones((10, 600), np.int32))
    b.add("o", lif(10), [b.add("fc", IntDense(shape=(10,), weight=w), ["x"])])
    b.add("out", Output(shape=(10,), readout="spike_count"), ["o"])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=LOIHI))
    split = split_fan_in(graph, load_target(REPO / "tests" / "targets" / "toy_relay.yaml"))
    save(split, tmp_path)
    verify_graph(load(tmp_path))  # as written: fine
    doc = json.loads((tmp_path / "graph.json").read_text())
    parts = [n for n in doc["nodes"] if n["op"] == "int_partial_sum"]
    assert len(parts) >= 2
    parts[1]["fields"]["start"] = parts[0]["fields"]["start"]  # both read the first part's columns
    (tmp_path / "graph.json").write_text(json.dumps(doc))
    with pytest.raises(InvalidGraph) as err:
        verify_graph(load(tmp_path))
    assert err.value.code == "GRF056"


def test_weight_bits_80_in_graph_json_is_refused(artifact, tmp_path, capsys):
    copy = copy_of(artifact, tmp_path)
    doc = json.loads((copy / "graph.json").read_text())
    doc["meta"]["numerics"]["weight_bits"] = 80
    (copy / "graph.json").write_text(json.dumps(doc))
    assert_json_refused(["simulate", copy], capsys, "GRF064", "weight_bits: 80")


def test_a_xylo_target_declaring_100_million_hidden_neurons_is_refused(tmp_path, capsys):
    spec = yaml.safe_load((REPO / "targets" / "xylo.yaml").read_text())
    spec["xylo"]["hidden_neurons"]["value"] = 100_000_000
    (tmp_path / "big.yaml").write_text(yaml.safe_dump(spec))
    args = ["check", XYLO / "model.pt", "--target", tmp_path / "big.yaml", "--data", XYLO / "test_data.npz"]
    assert_json_refused(args, capsys, "TGT008", "xylo.hidden_neurons")


MODELS = textwrap.dedent(
    """
    import torch
    from torch import nn
    import snncc.nn as snn

    class Net(snn.SNN):
        def __init__(self):
            super().__init__(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF()), steps=4)
    """
)


@pytest.mark.parametrize("dtype", [torch.bool, torch.int8])
def test_bool_or_int8_weights_under_arch_are_refused(dtype, tmp_path, capsys):
    (tmp_path / "models.py").write_text(MODELS)
    state = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(64, 10), snn.LIF()), steps=4).state_dict()
    state["body.1.weight"] = (state["body.1.weight"] * 100).to(dtype)
    torch.save(state, tmp_path / "w.pt")
    args = ["check", tmp_path / "w.pt", "--arch", f"{tmp_path / 'models.py'}:Net"]
    assert_json_refused(args, capsys, "LOD019", "body.1.weight")


@pytest.mark.parametrize(
    "args",
    [
        ["compile", DIGITS_MODEL, "--dump-after", "lava"],
        ["check", DIGITS_MODEL, "--dump-after", "verify"],
    ],
    ids=["compile without a bit-exact backend", "check"],
)
def test_dump_after_a_pass_the_run_skips_is_an_error(args, tmp_path, capsys, monkeypatch):
    import snncc.compile

    if args[0] == "compile":
        args = [*args, "--out", tmp_path / "out"]
    monkeypatch.setattr(snncc.compile, "compile_model", lambda *a, **k: pytest.fail("ran before refusing"))
    monkeypatch.setattr(snncc.compile, "preflight", lambda *a, **k: pytest.fail("ran before refusing"))
    assert_json_refused(args, capsys, "DAT032", args[3])


def test_control_characters_in_out_are_printed_escaped(tmp_path, capsys):
    out = tmp_path / "o\x1b[31mred\rX"
    assert main(["compile", str(DIGITS_MODEL), "--out", str(out), "--samples", "4", "-q"]) == 0
    printed = capsys.readouterr().out
    assert "\\x1b[31mred\\rX/report.md" in printed and "\x1b" not in printed and "\r" not in printed, printed


def test_targets_json_prints_one_object(capsys):
    assert main(["targets", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert isinstance(doc, dict) and {t["name"] for t in doc["targets"]} >= {"loihi", "loihi2", "xylo"}


@pytest.mark.parametrize("command", [["targets"], ["errors"], ["targets", "--json"]])
def test_a_closed_stdout_exits_141(command):
    """As the exit-code table (README, docs/robustness.md) says: stdout closed (`>&-`) is 141, never a silent 0."""
    done = subprocess.run(
        ["sh", "-c", 'exec "$@" >&-', "sh", *SNNCC, *command], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 141, done.stderr
    assert "Traceback" not in done.stderr


def test_a_command_line_that_does_not_parse_with_json_prints_one_error_object(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["compile", str(DIGITS_MODEL), "--json"])  # no --out
    out, err = capsys.readouterr()
    assert exit_.value.code == 2 and "--out" in err
    assert json.loads(out)["error"]["code"] == "DAT033"


def test_a_sigterm_a_library_swallowed_still_ends_the_run(tmp_path, capsys, monkeypatch):
    """torch imports sympy inside try/except blocks that swallowed snncc's KeyboardInterrupt: the run
    went on and wrote its result (exit 0). The signal is raised again at the next progress step."""
    import snncc.output_dir

    real = snncc.output_dir.check_output_dir

    def check_then_swallow_a_sigterm(*args, **kwargs):
        real(*args, **kwargs)
        try:
            os.kill(os.getpid(), signal.SIGTERM)
            for _ in range(1000):  # the handler runs between bytecodes
                pass
        except KeyboardInterrupt:
            pass

    monkeypatch.setattr(snncc.output_dir, "check_output_dir", check_then_swallow_a_sigterm)
    code = main(["compile", str(DIGITS_MODEL), "--out", str(tmp_path / "out"), "--samples", "4"])
    assert code == 128 + signal.SIGTERM, capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []
