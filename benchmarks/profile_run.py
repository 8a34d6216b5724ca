"""Where a refsim run's time goes: per layer (synaptic product, neuron update) and per run (input
checks and copies, kernel setup, event counts), in CPU seconds of this thread.

Run from the repository root:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/profile_run.py [--only spikes-784-500-500-10] [--batch 256]

CPU time of the calling thread, so with OMP_NUM_THREADS=1 (everything in this thread) it is not
inflated by other processes' share of a loaded machine the way wall time is; the components are
timed by wrapping the functions the simulator calls, so the total is a little above a plain run's.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.networks import BUILDERS
from snncc.backends import get_backend, interpreter
from snncc.backends.refsim import fused, kernels, simulator

clock = time.thread_time


@contextmanager
def timed(seconds: dict[str, float], patches: list[tuple[object, str, object]]):
    """Wrap each (owner, attribute, key) so that its CPU time adds to seconds[key(args)]; undone after."""
    originals = [(owner, attr, getattr(owner, attr)) for owner, attr, _ in patches]

    def wrapper(fn, key):
        def timed_call(*args, **kwargs):
            start = clock()
            try:
                return fn(*args, **kwargs)
            finally:
                seconds[key(*args) if callable(key) else key] += clock() - start

        return timed_call

    for (owner, attr, key), (_, _, fn) in zip(patches, originals, strict=True):
        setattr(owner, attr, wrapper(fn, key))
    try:
        yield
    finally:
        for owner, attr, fn in originals:
            setattr(owner, attr, fn)


def _product_key(kernel, x, *_):
    weight = getattr(kernel, "weight", None)
    shape = "x".join(map(str, weight.shape[::-1])) if weight is not None else type(kernel).__name__
    return f"product {shape}"


def _bitplane_key(int8, x, bits, *_):
    return f"product {x.shape[1]}x{int8.weight_t.shape[1]} ({bits} bit planes)"


def _lif_key(_fused_lif, total, *_):
    return f"neuron update ({total[0].size} neurons)"


def profile(name: str, batch: int, repeat: int) -> None:
    bench = BUILDERS[name](batch)
    inputs = bench.head(batch)
    refsim = get_backend("refsim")
    refsim.run(bench.graph, inputs)  # compile and warm up
    seconds: dict[str, float] = defaultdict(float)
    patches = [
        (simulator, "check_int_inputs", "run: check inputs"),
        (simulator, "_time_major", "run: inputs to time-major copies"),
        (simulator, "input_events", "run: count input events"),
        (simulator.LoihiDialect, "__init__", "run: set up (weights, kernels)"),
        (interpreter._Run, "__init__", "run: set up (state, tallies)"),
        (interpreter._Run, "trace", "run: readouts and trace"),
        (kernels, "binary_port", _product_key),
        (kernels.Int8Weights, "bitplanes", _bitplane_key),
        (fused.FusedLIF, "step", _lif_key),
        (interpreter._Run, "step", "all steps"),
    ]
    with timed(seconds, patches):
        start = clock()
        for _ in range(repeat):
            refsim.run(bench.graph, inputs)
        total = clock() - start
    per = batch * bench.graph.meta.steps * repeat
    print(f"\n{name}, batch {batch}: {total / per * 1e6:.2f} us CPU per sample-step (wrapped functions included)")
    for key, value in sorted(seconds.items(), key=lambda kv: -kv[1]):
        print(f"  {key:<44} {value / per * 1e6:7.2f} us  {value / total:6.1%}")
    steps_rest = seconds["all steps"] - sum(v for k, v in seconds.items() if not k.startswith(("run:", "all")))
    print(
        f"  {'steps: the rest (graph walk, port sums)':<44} {steps_rest / per * 1e6:7.2f} us  {steps_rest / total:6.1%}"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append")
    args = parser.parse_args(argv)
    for name in args.only or ["spikes-784-500-500-10"]:
        profile(name, args.batch, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
