"""One version: snncc.__version__ is what `snncc --version` prints and what the installed
distribution's metadata says (pyproject.toml reads it from snncc/__init__.py)."""

from __future__ import annotations

from importlib.metadata import version

import pytest

import snncc
from snncc.cli import main


def test_version_flag_prints_the_package_version(capsys):
    with pytest.raises(SystemExit) as done:
        main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out.strip() == f"snncc {snncc.__version__}"


def test_the_distribution_has_the_same_version():
    assert version("snncc") == snncc.__version__
