"""`snncc check`: everything up to and including mapping, without simulating, with every blocker
found in one run (an approximation a refusal's hint names stands in, to find what lies behind it)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

from snncc.data import Dataset
from snncc.deploy import Timer, deploy
from snncc.errors import EXIT_BAD_INPUT, SnnccError
from snncc.ir import Graph
from snncc.options import CompileOptions
from snncc.pipeline import Progress
from snncc.result import Deployment

STAND_IN = re.compile(r"--approximate ([a-z][a-z-]*[a-z])")  # an approximation a hint offers
MAX_STAND_INS = 3  # rounds of stand-ins: each may uncover a refusal with another approximation


def preflight(
    model_path: str | Path,
    options: CompileOptions,
    progress: Progress | None = None,
    *,
    imported: tuple[Dataset, Graph] | None = None,
) -> Deployment:
    """A refusal whose hint names an approximation (--approximate NAME) would hide what later phases
    refuse; the check goes on with that approximation as a stand-in and reports those blockers too."""
    say = progress or (lambda _msg: None)
    try:
        return deploy(Path(model_path), options, say, Timer(), calibrate_v=False, imported=imported)
    except SnnccError as err:
        if err.exit_code != EXIT_BAD_INPUT:
            raise
        first, found = err, list(err.diagnostics)
    tried = set(options.quantization.approximations)
    for _ in range(MAX_STAND_INS):
        stand_ins = sorted({n for d in found for n in STAND_IN.findall(d.hint or "")} - tried)
        if not stand_ins:
            break
        tried.update(stand_ins)
        say(f"checking what else stands in the way, with {', '.join(stand_ins)} in place")
        quantization = dataclasses.replace(options.quantization, approximations=tuple(sorted(tried)))
        retry = dataclasses.replace(options, quantization=quantization)
        try:
            deploy(Path(model_path), retry, lambda _msg: None, Timer(), calibrate_v=False, imported=imported)
            break
        except SnnccError as later:
            if later.exit_code != EXIT_BAD_INPUT:
                break
            found += [d for d in later.diagnostics if d not in found]
    if len(found) == len(first.diagnostics):
        raise first
    raise type(first)(diagnostics=found) from first
