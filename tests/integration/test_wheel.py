"""The wheel built from the repository is a working snncc outside the checkout: targets, their schema
and the bundled digits test set are package data, and the README's first command runs on it.

The fresh venv has no pip and no third-party packages of its own: a .pth line lends it the test
venv's site-packages (torch, numpy, ...), whose own .pth files (the editable install of the checkout)
Python does not run from such a folder, so only the wheel can provide `snncc`.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import snncc

REPO = Path(__file__).resolve().parents[2]
NOT_SOURCE = (".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", ".hypothesis", "out")

pytestmark = pytest.mark.slow


def _run(args: list[str | Path], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(a) for a in args], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """(bin folder of a fresh venv holding only the snncc wheel, environment to run it in)."""
    root = tmp_path_factory.mktemp("wheel")
    # a copy of the sources, so that no stale build/ of the checkout can slip files into the wheel
    source = root / "source"
    shutil.copytree(REPO, source, ignore=shutil.ignore_patterns(*NOT_SOURCE))
    built = _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", root / "dist", source],
        cwd=root,
        env=os.environ.copy(),
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (root / "dist").glob("snncc-*.whl")

    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", venv], check=True)
    python = venv / "bin" / "python"
    site = _run([python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], root, os.environ.copy())
    Path(site.stdout.strip(), "lent-third-party.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index", "-q", wheel]
    installed = _run(pip, cwd=root, env=os.environ.copy())
    assert installed.returncode == 0, installed.stderr

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "SNNCC_TARGETS", "VIRTUAL_ENV")}
    env["OMP_NUM_THREADS"] = "2"
    return venv / "bin", env


def test_wheel_imports_snncc_from_itself(installed, tmp_path):
    bin_dir, env = installed
    where = _run([bin_dir / "python", "-c", "import snncc; print(snncc.__file__)"], tmp_path, env)
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(bin_dir.parent), where.stdout
    version = _run([bin_dir / "snncc", "--version"], tmp_path, env)
    assert version.stdout.strip() == f"snncc {snncc.__version__}"


def test_wheel_lists_the_bundled_targets(installed, tmp_path):
    bin_dir, env = installed
    listed = _run([bin_dir / "snncc", "targets"], tmp_path, env)
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines()[1:]}
    assert names == {p.stem for p in (REPO / "targets").glob("*.yaml")}


def test_wheel_compiles_the_bundled_example_as_the_readme_does(installed, tmp_path):
    """README's first command, with no --data: the held-out digits come from the wheel."""
    bin_dir, env = installed
    work = tmp_path / "elsewhere"
    work.mkdir()
    model = REPO / "examples" / "digits" / "model.pt"
    done = _run([bin_dir / "snncc", "compile", model, "--target", "loihi", "--out", "digits", "-q"], work, env)
    assert done.returncode == 0, done.stderr
    report = json.loads((work / "digits" / "report.json").read_text())
    assert report["target"]["name"] == "loihi"
    assert Path(report["data"]["path"]).is_relative_to(bin_dir.parent), report["data"]
    assert report["verification"]["samples"] == 450
    assert report["verification"]["deployed_accuracy"] > 0.9
