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


def test_lava_imports_after_something_fixed_the_start_method():
    """tqdm (as torch.fx's shape propagation uses it) makes a multiprocessing lock, which fixes the
    start method; Lava's import-time set_start_method('fork') then raised RuntimeError."""
    code = (
        "import multiprocessing; multiprocessing.RLock()\n"
        "from snncc.backends.lava.compat import import_lava\n"
        "import_lava()\n"
        "import lava.magma.runtime.message_infrastructure.multiprocessing\n"
        "assert multiprocessing.get_start_method() == 'fork'\n"
        "assert multiprocessing.set_start_method.__module__ == 'multiprocessing.context'  # restored\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_a_start_method_lava_cannot_use_is_a_clear_error():
    code = (
        "import multiprocessing; multiprocessing.set_start_method('spawn')\n"
        "from snncc.backends.lava.compat import import_lava\n"
        "from snncc.errors import BackendError\n"
        "try:\n    import_lava()\nexcept BackendError as e:\n    print(e.diagnostics[0].code, e.diagnostics[0].message)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "BKD004" in proc.stdout and "already uses 'spawn'" in proc.stdout
