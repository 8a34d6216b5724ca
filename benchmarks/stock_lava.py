"""Stock Lava as a Lava user runs it: one Dense (Sparse for a conv) and one LIFReset process per
layer, a RingBuffer source, no probes or monitors, one RunSteps for the whole stream.

Only the run call is timed: the first step (which compiles the process graph and starts Lava's
OS processes) runs before the clock starts.  Bit-identity with refsim is checked on a separate,
untimed run of the same lowering with monitors (snncc's Lava backend).
"""

from __future__ import annotations

import contextlib
import os
import time

from benchmarks.networks import Bench
from snncc.backends import Record, first_mismatch, get_backend
from snncc.fidelity import reference_for

EVERYTHING = Record(spikes=True, v=True, u=True)


def stock_lava_step_seconds(bench: Bench, samples: int) -> float:
    """Seconds per Lava step (= per sample-step: one sample enters every T steps) on ``samples`` samples."""
    return _stock_run(bench, samples)[0]


def stock_lava_step_cpu_seconds(bench: Bench, samples: int) -> float:
    """CPU seconds (all of Lava's OS processes) per Lava step: what a shared machine's load does not
    change.  Lava's processes are children of this one, counted once they have exited; the CPU of
    starting them is taken out by a second, one-step run."""
    _, full = _stock_run(bench, samples)
    _, start_only = _stock_run(bench, samples, steps=1)
    return (full - start_only) / (_total(bench, samples) - 1)


def _total(bench: Bench, samples: int) -> int:
    from snncc.backends.lava.lowering import stream_length

    return stream_length(bench.graph, samples)


def _stock_run(bench: Bench, samples: int, steps: int | None = None) -> tuple[float, float]:
    """(wall seconds per step of the timed run, CPU seconds of the whole run in all processes)."""
    from snncc.backends.lava.compat import import_lava
    from snncc.backends.lava.lowering import build_network, stream_length

    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg

    if bench.graph.recurrent_edges():
        raise ValueError(f"{bench.name}: recurrent layers need pauses between samples; not a stock run")
    values = bench.head(samples)
    network = build_network(bench.graph, values, want_u=False, monitors=False)
    total = stream_length(bench.graph, samples)
    anchor = next(iter(network.neurons.values()))
    config = Loihi2SimCfg(select_tag="fixed_pt")
    cpu_before = _cpu_seconds()
    seconds = 0.0
    try:
        anchor.run(condition=RunSteps(num_steps=1), run_cfg=config)  # compile and start, untimed
        if steps is None:
            start = time.perf_counter()
            anchor.run(condition=RunSteps(num_steps=total - 1), run_cfg=config)
            seconds = time.perf_counter() - start
    finally:
        with contextlib.suppress(Exception):
            anchor.stop()
    return seconds / (total - 1), _cpu_seconds() - cpu_before


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def lava_matches_refsim(bench: Bench, samples: int) -> str | None:
    """None if Lava (same lowering, with monitors, untimed) and refsim agree on u, v and spikes of
    every layer at every step of ``samples`` samples; else the first mismatch."""
    values = bench.head(samples)
    lava = get_backend("lava").run(bench.graph, values, record=EVERYTHING)
    ref = get_backend("refsim").run(reference_for("lava", bench.graph)[0], values, record=EVERYTHING)  # Lava's int32
    mismatch = first_mismatch(ref, lava)
    return None if mismatch is None else repr(mismatch)
