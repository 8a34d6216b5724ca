"""The package layout promises: every module is imported as snncc.*, every package is in the wheel
(SPEC.md against the ops: test_spec_sync.py)."""

from __future__ import annotations

import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_no_top_level_ir_or_backends_imports():
    # ir/ and backends/ are installed as snncc.ir and snncc.backends; a bare import would give
    # a module two identities (or fail when installed).
    pattern = re.compile(r"^\s*(from|import)\s+(ir|backends)(\.|\s|$)", re.MULTILINE)
    offenders = [
        str(path.relative_to(REPO))
        for folder in ("snncc", "ir", "backends", "tests", "examples")
        for path in (REPO / folder).rglob("*.py")
        if pattern.search(path.read_text())
    ]
    assert offenders == []


def test_every_subpackage_is_listed_in_pyproject():
    """A package missing from pyproject's list works in the editable install but not in a wheel."""
    import tomllib

    config = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]
    listed = set(config["packages"])
    found = set()
    for package, directory in config["package-dir"].items():
        for init in (REPO / directory).rglob("__init__.py"):
            relative = init.parent.relative_to(REPO / directory).parts
            found.add(".".join((package, *relative)))
    assert found <= listed, f"add to pyproject.toml [tool.setuptools] packages: {sorted(found - listed)}"
