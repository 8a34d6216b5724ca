"""Reference backend vs Lava: synaptic events per second on the same integer networks, in one run.

Run from the repository root:  .venv/bin/python benchmarks/throughput.py [--batch 256] [--only dense]

For each network (benchmarks/networks.py) it
1. runs the reference backend on a batch of samples (best of --repeat runs);
2. runs Lava (fixed-point CPU models) on 1 and on --lava-samples samples and takes its steady rate
   from the difference, so that Lava's process-graph compile time is not charged to it;
3. checks that both backends gave identical u, v and spikes at every step on the Lava samples;
4. prints synaptic events per second for both (events = each spike or input event times its
   nonzero fan-out, snncc.energy.synaptic_ops), their ratio, and the fraction of this machine's
   memory bandwidth (measured here, numpy copy of 512 MiB) the reference backend reaches under
   its minimum-traffic model (memory_traffic below).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.networks import BUILDERS, Bench
from snncc.backends import Record, first_mismatch, get_backend
from snncc.energy import synaptic_ops
from snncc.ir import Graph, IntDense, IntInput, IntLIF

EVERYTHING = Record(spikes=True, v=True, u=True)


def memory_bandwidth(nbytes: int = 512 << 20, repeat: int = 5) -> float:
    """Bytes per second of a large array copy (one read + one write per byte), best of ``repeat``."""
    src = np.ones(nbytes // 8, dtype=np.int64)
    dst = np.empty_like(src)
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        np.copyto(dst, src)
        best = min(best, time.perf_counter() - start)
    return 2 * nbytes / best


def memory_traffic(graph: Graph, batch: int) -> int:
    """Bytes a step of the reference backend must move at least, for the whole batch.

    Every synapse op reads its weights once (as the float32 it computes with) and reads its
    input and writes its output (int64); every neuron layer reads and writes u and v (int64).
    Temporaries, recordings and the input are not counted, so the fraction is an upper bound
    of the share of the memory system the backend uses.
    """
    total = 0
    for name, op in graph:
        if isinstance(op, IntLIF):
            total += 4 * 8 * batch * int(np.prod(op.shape))
        elif isinstance(op, IntDense) or type(op).__name__ == "IntConv2d":
            src = graph[graph.predecessors(name)[0]]
            total += 4 * op.weight.array.size + 8 * batch * (int(np.prod(src.shape)) + int(np.prod(op.shape)))
    return total


def refsim_seconds(bench: Bench, repeat: int) -> tuple[float, object]:
    refsim = get_backend("refsim")
    best, trace = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        trace = refsim.run(bench.graph, bench.inputs)
        best = min(best, time.perf_counter() - start)
    return best, trace


def lava_rate(bench: Bench, samples: int) -> tuple[float, bool, str]:
    """(Lava's steady sample-steps per second, bit-identical to refsim?, first mismatch if any)."""
    lava = get_backend("lava")
    steps = bench.graph.meta.steps
    short = lava.run(bench.graph, bench.head(1))
    long = lava.run(bench.graph, bench.head(samples), record=EVERYTHING)
    rate = (samples - 1) * steps / max(long.wall_seconds - short.wall_seconds, 1e-9)
    ref = get_backend("refsim").run(bench.graph, bench.head(samples), record=EVERYTHING)
    mismatch = first_mismatch(ref, long)
    return rate, mismatch is None, "" if mismatch is None else repr(mismatch)


def describe(graph: Graph) -> str:
    neurons = sum(int(np.prod(op.shape)) for _, op in graph.of_type(IntLIF))
    synapses = sum(int(np.count_nonzero(op.weight.array)) for _, op in graph if hasattr(op, "weight"))
    (_, inp), *_ = graph.of_type(IntInput)
    return f"{neurons} neurons, {synapses} weights, {graph.meta.steps} steps, {inp.encoding} input"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lava-samples", type=int, default=4, help="samples for Lava's rate (>= 2)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append")
    args = parser.parse_args(argv)

    bandwidth = memory_bandwidth()
    print(
        f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}"
    )
    print(f"measured memory bandwidth (copy): {bandwidth / 1e9:.1f} GB/s; batch {args.batch}")
    rows = []
    all_identical = True
    for name in args.only or list(BUILDERS):
        bench = BUILDERS[name](args.batch)
        steps = bench.graph.meta.steps
        seconds, trace = refsim_seconds(bench, args.repeat)
        events_per_sample = sum(synaptic_ops(bench.graph, trace).values())
        ref_eps = events_per_sample * args.batch / seconds
        rate, identical, mismatch = lava_rate(bench, args.lava_samples)
        all_identical &= identical
        lava_eps = events_per_sample / steps * rate
        traffic = memory_traffic(bench.graph, args.batch) * steps / seconds
        print(f"\n{name}: {describe(bench.graph)}")
        print(f"  refsim: {args.batch} samples in {seconds:.3f} s = {args.batch * steps / seconds:,.0f} sample-steps/s")
        print(f"  lava:   {rate:,.1f} sample-steps/s (steady, {args.lava_samples} samples)")
        print(f"  bit-identical u, v, spikes on {args.lava_samples} samples: {identical} {mismatch}")
        rows.append((name, ref_eps, lava_eps, ref_eps / lava_eps, traffic / bandwidth, identical))

    print(
        f"\n{'network':<22} {'refsim events/s':>16} {'lava events/s':>14} {'ratio':>9} {'bandwidth':>10} {'identical':>10}"
    )
    for name, ref_eps, lava_eps, ratio, fraction, identical in rows:
        print(f"{name:<22} {ref_eps:>16.3e} {lava_eps:>14.3e} {ratio:>8.0f}x {fraction:>9.1%} {identical!s:>10}")
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
