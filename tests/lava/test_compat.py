"""The Python 3.11 import fix for lava-nc: applied once, only while Lava is imported."""

from __future__ import annotations

import dataclasses
import subprocess
import sys


def test_importing_the_backend_does_not_import_lava():
    code = "import sys, snncc.backends.lava, snncc.compile; assert not any(m.startswith('lava') for m in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0


def test_import_fix_restores_dataclass_and_lava_imports():
    code = (
        "import dataclasses; before = dataclasses.dataclass\n"
        "from snncc.backends.lava.compat import import_lava\n"
        "import_lava(); import_lava()\n"
        "assert dataclasses.dataclass is before\n"
        "from lava.proc.lif.process import LIF\n"
        "@dataclasses.dataclass\nclass A:\n    x: int = 0\n"
        "assert A.__hash__ is None  # ordinary dataclasses are untouched\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_without_the_fix_lava_fails_to_import_on_this_python():
    proc = subprocess.run(
        [sys.executable, "-c", "import lava.magma.compiler.var_model"], capture_output=True, text=True
    )
    assert proc.returncode != 0 and "mutable default" in proc.stderr
    assert dataclasses.dataclass.__module__ == "dataclasses"
