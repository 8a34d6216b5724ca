"""Checks of compile options that need no model (the command line runs them before any work)."""

from __future__ import annotations

import os

from snncc.errors import BackendError, DataError
from snncc.options import CompileOptions
from snncc.target import Target

MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))


def check_verification_options(options: CompileOptions) -> None:
    """What compile_model refuses before loading the target: the checks below and --lava-samples < 0."""
    v = options.verification
    check_agreement(v.min_output_agreement)
    check_accuracy_drop(v.max_accuracy_drop)
    check_parallel_options(options.parallel.workers, options.parallel.dask_scheduler)
    if v.lava_samples < 0:
        raise DataError(f"lava_samples must be 0 (no Lava run) or more, got {v.lava_samples}", code="DAT012")


def check_oracle(options: CompileOptions, target: Target) -> None:
    """BKD042: --lava-samples on a bit-exact backend that does not model ``target``."""
    v = options.verification
    if v.lava_samples > 0 and v.oracle_backend not in target.backends:
        raise BackendError(
            f"{target.name} is not modelled by the {v.oracle_backend} backend",
            code="BKD042",
            hint=f"{target.name}'s bit-exact backends: {', '.join(target.backends)}",
        )


def check_agreement(value: float) -> None:
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise DataError(
            f"--min-agreement must be a fraction in [0, 1], got {value}",
            code="DAT013",
            hint="e.g. --min-agreement 0.95: at least 95% of the samples classified as the float model does",
        )


def check_accuracy_drop(value: float) -> None:
    if not 0.0 <= value <= 100.0:  # NaN fails too
        raise DataError(
            f"--max-accuracy-drop must be percentage points in [0, 100], got {value}",
            code="DAT016",
            hint="e.g. --max-accuracy-drop 1: the deployed accuracy may be at most 1 point below the float model's",
        )


def check_parallel_options(workers: int, dask_scheduler: str | None) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise DataError(
            f"--workers must be between 1 and {MAX_WORKERS}, got {workers}",
            code="DAT012",
            hint=f"this machine has {os.cpu_count()} CPUs; for more, use a cluster with --dask-scheduler",
        )
    if dask_scheduler is not None:
        from snncc.parallel import check_scheduler_address

        check_scheduler_address(dask_scheduler)
