"""Import rockpool's XyloSim without samna.

rockpool 3.1.0's ``rockpool.devices.xylo`` package imports its XyloAudio 3 subpackage, which imports
samna (SynSense's hardware driver, not installable here) unconditionally, so
``from rockpool.devices.xylo.syns61201 import XyloSim`` fails without it.  The two simulator
modules themselves need only rockpool's core and xylosim: they are loaded here from their files
under their own module names, so rockpool's own code runs unchanged.
"""

from __future__ import annotations

import importlib.util
import sys
from functools import cache
from pathlib import Path
from types import ModuleType

from snncc.errors import BackendError


def _load(package_dir: Path, sub: str) -> ModuleType:
    name = f"rockpool.devices.xylo.{sub}.xylo_sim"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, package_dir / sub / "xylo_sim.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


@cache
def xylo_audio2_sim() -> type:
    """rockpool's XyloSim for Xylo Audio 2 (SYNS61201, xylosim.v2 core with biases)."""
    try:
        import rockpool
        import xylosim  # noqa: F401
    except ImportError as exc:
        raise BackendError(
            f"the xylosim backend needs rockpool and xylosim ({exc})",
            code="BKD043",
            hint="pip install xylosim==0.1.3 && pip install --no-deps rockpool==3.1.0 (scripts/setup.sh)",
        ) from exc
    package_dir = Path(rockpool.__file__).parent / "devices" / "xylo"
    _load(package_dir, "syns61300")  # the v2 class subclasses the v1 one
    return _load(package_dir, "syns61201").XyloSim
