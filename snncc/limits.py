"""Size limits on what an input file may declare, checked before anything is allocated.

A file of a few hundred bytes can declare a terabyte (an HDF5 dataset or .npy header with a huge
shape, a tensor view with zero strides, a compressed zip member, 10^9 time steps).  Every reader
compares what the file declares with these limits first, and refuses with a LIM code that names
the flag raising the limit.  The command line sets them (--max-elements, --max-steps) for the
duration of one command; the Python API uses the defaults unless it enters ``applied(...)``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from snncc.errors import ResourceLimitError


@dataclass(frozen=True)
class Limits:
    # the largest array any input declares, and the total of a model's weights and neurons:
    # 20 M elements are 160 MB as float64; the pipeline holds a few copies, well under 2 GB
    max_elements: int = 20_000_000
    max_steps: int = 10_000  # time steps per sample


_CURRENT: ContextVar[Limits] = ContextVar("snncc_limits", default=Limits())  # noqa: B039 (frozen)


def current() -> Limits:
    return _CURRENT.get()


def set_limits(limits: Limits) -> None:
    """The limits from now on (the command line's flags)."""
    _CURRENT.set(limits)


@contextlib.contextmanager
def applied(limits: Limits) -> Iterator[None]:
    token = _CURRENT.set(limits)
    try:
        yield
    finally:
        _CURRENT.reset(token)


def check_elements(count: int, what: str, source: str | None = None, node: str | None = None) -> None:
    """Refuse ``count`` elements (declared by ``what`` in ``source``) above --max-elements."""
    limit = current().max_elements
    if count > limit:
        raise ResourceLimitError(
            f"{what} declares {count:,} elements, more than the limit of {limit:,}",
            code="LIM001",
            source=source,
            node=node,
            hint="if the file is yours and the model really is that large, raise the limit with "
            f"--max-elements {count}",
        )


def check_steps(steps: int, source: str | None = None) -> None:
    """Refuse more time steps per sample than --max-steps."""
    limit = current().max_steps
    if steps > limit:
        raise ResourceLimitError(
            f"{steps:,} time steps per sample, more than the limit of {limit:,}",
            code="LIM002",
            source=source,
            hint=f"pass fewer --steps, or raise the limit with --max-steps {steps}",
        )


# a batch's recordings may hold this many values per --max-elements (80 M by default: spikes and
# counters of a 64-sample batch of a 60,000-neuron model over 20 steps), as they are one batch's,
# freed before the next
RECORDING_PER_ELEMENT = 4
RECORDING_FLOOR = 64_000_000  # values (512 MB as int64) any run may record: a low --max-elements guards files


def check_recording(batch: int, steps: int, per_step: int, state: int = 0, source: str | None = None) -> None:
    """Refuse a run whose recordings would hold more than 4 × --max-elements values (at least 64 M):
    ``batch`` samples × ``steps`` × ``per_step`` values kept each step (recorded neurons × fields,
    per-step readouts), plus ``state`` values per sample that the run holds throughout (u, v, ...).
    Checked before the first step, so that --steps 10**8 is refused at once, not by the OOM killer."""
    count = batch * (steps * per_step + state)
    limit = max(RECORDING_FLOOR, RECORDING_PER_ELEMENT * current().max_elements)
    if count > limit:
        raise ResourceLimitError(
            f"the run would hold {count:,} values ({batch:,} samples × ({steps:,} steps × {per_step:,} recorded per "
            f"step + {state:,} of state)), more than the limit of {limit:,}",
            code="LIM001",
            source=source,
            hint=f"pass fewer --steps or --samples, or, with the memory for it (8 bytes a value), raise the limit "
            f"with --max-elements {-(-count // RECORDING_PER_ELEMENT)}",
        )


@contextlib.contextmanager
def address_space_bounded(extra_bytes: int) -> Iterator[None]:
    """Let the process grow by at most ``extra_bytes`` of address space for the duration.

    For a step that runs a file's instructions, such as unpickling even with torch's allowlist
    (``bytearray(10**10)``, ``torch.FloatStorage(10**10)``, a layer constructor), whose sizes cannot
    be known before: an allocation past the bound fails with MemoryError instead of taking the
    machine.  Linux only (elsewhere a no-op); the previous limit is restored afterwards.
    """
    try:
        import resource

        with open("/proc/self/statm") as f:
            used = int(f.read().split()[0]) * resource.getpagesize()
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        yield
        return
    bound = used + extra_bytes
    if hard != resource.RLIM_INFINITY:
        bound = min(bound, hard)
    if soft != resource.RLIM_INFINITY and soft <= bound:
        yield  # already tighter
        return
    resource.setrlimit(resource.RLIMIT_AS, (bound, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def check_graph(graph: Any, source: str | None = None) -> None:
    """A graph's steps, weights and neurons within the limits, before anything simulates it."""
    check_steps(int(graph.meta.steps), source)
    weights = neurons = 0
    for name, op in graph.nodes:
        size = math.prod(op.shape)
        check_elements(size, f"layer {name!r} of shape {tuple(op.shape)}", source=source)
        neurons += size
        weights += sum(const.array.size for const in op.consts().values())
    check_elements(neurons, "the model's neurons (outputs of all layers)", source=source)
    check_elements(weights, "the model's weights", source=source)
