"""--json: one JSON object on stdout and nothing else there; progress stays on stderr, as a bar on a terminal."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from snncc.cli import main

pytestmark = pytest.mark.slow  # compiles and checks the digits model

REPO = Path(__file__).resolve().parents[2]
MODEL = REPO / "examples" / "digits" / "model.pt"


def on_a_terminal(args: list[str]) -> tuple[int, str, str]:
    """Run snncc with stderr on a pseudo-terminal (80 columns), stdout on a pipe: (code, stdout, stderr)."""
    import fcntl
    import pty
    import struct
    import termios

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    proc = subprocess.Popen(
        [sys.executable, "-m", "snncc.cli", *args], stdout=subprocess.PIPE, stderr=follower, cwd=REPO
    )
    os.close(follower)
    err = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        err += chunk
    out, _ = proc.communicate(timeout=600)
    os.close(leader)
    return proc.returncode, out.decode(), err.decode()


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_compile_json_on_a_terminal_prints_the_report_summary_and_draws_a_bar(tmp_path):
    out = tmp_path / "out"
    code, stdout, stderr = on_a_terminal(["compile", str(MODEL), "--out", str(out), "--samples", "150", "--json"])
    assert code == 0, stderr
    printed = json.loads(stdout)  # stdout holds the one object and nothing else
    assert printed == json.loads((out / "report.json").read_text())["summary"]
    assert printed["passed"] is True and printed["samples"] == 150 and printed["cores_used"] >= 1
    assert "\rsnncc:" in stderr and "150/150" in stderr and "100%|" in stderr  # tqdm's bar
    assert "snncc: mapping onto loihi" in stderr  # and the step messages as lines


def test_check_json_reports_the_fit(capsys):
    assert main(["check", str(MODEL), "--json", "-q"]) == 0
    captured = capsys.readouterr()
    fit = json.loads(captured.out)
    assert fit["fits"] is True and fit["target"] == "loihi" and fit["cores_available"] == 128
    assert fit["neurons"] == 512 + 64 + 10  # body.2, body.6 and the readout of the digits model
    assert [layer["layer"] for layer in fit["layers"]] == ["body.2", "body.6", "body.7.readout"]
    assert captured.err == ""


def test_an_error_with_json_is_an_object_on_stdout_and_the_usual_message_on_stderr(capsys):
    assert main(["check", str(MODEL), "--target", "toy", "--json", "-q"]) == 2
    captured = capsys.readouterr()
    error = json.loads(captured.out)["error"]
    assert error["code"] == "MAP003" and error["exit_code"] == 2
    assert error["diagnostics"][0]["node"] == "body.6" and error["diagnostics"][0]["hint"]
    assert "error[MAP003] layer 'body.6'" in captured.err


def test_targets_json_lists_every_target_file(capsys):
    assert main(["targets", "--json"]) == 0
    listed = {t["name"]: t for t in json.loads(capsys.readouterr().out)["targets"]}  # one object, as everywhere
    files = {p.stem: yaml.safe_load(p.read_text()) for p in (REPO / "targets").glob("*.yaml")}
    assert set(listed) == set(files)
    for name, spec in files.items():
        resources = spec["resources"]
        assert listed[name]["cores"] == resources["chips"]["value"] * resources["cores_per_chip"]["value"]
        assert listed[name]["per_core"]["neurons"] == resources["per_core"]["neurons"]["value"]
        assert listed[name]["title"] == spec["title"]
