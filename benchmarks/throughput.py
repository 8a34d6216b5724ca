"""Reference backend vs stock Lava on the same integer networks, in one run: ratios per sample-step.

Run from the repository root:
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/throughput.py [--batch 256] [--only spikes-784-500-500-10]

For each network (benchmarks/networks.py) it
1. runs refsim on a batch of samples (best of --repeat runs, nothing recorded);
2. runs stock Lava as a Lava user would (benchmarks/stock_lava.py: one Dense/Sparse and one LIFReset
   process per layer, RingBuffer input, no monitors, one RunSteps; compile not timed) on
   --lava-samples samples, one after the other (Lava runs one sample at a time);
3. checks on a separate, untimed run that Lava and refsim give identical u, v and spikes at every
   step of --check-samples samples;
4. prints the honest ratio (Lava's seconds per sample-step / refsim's), the same ratio in CPU
   seconds (refsim's process vs all of Lava's processes: robust to a loaded machine, where Lava's
   many processes get a larger share of the cores than refsim's one), synaptic events per second
   (snncc.energy.synaptic_ops), and the fraction of this machine's limits refsim reaches: its dense
   layers' products (timed alone on the run's own spikes, 2 ops per weight) against the int8 and
   float32 GEMM peaks measured here, and its minimum memory traffic against the copy bandwidth.

These machines are shared: compare ratios from one run, and read the load printed with them.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.networks import BUILDERS, Bench
from benchmarks.stock_lava import (
    lava_matches_refsim,
    stock_lava_step_cpu_seconds,
    stock_lava_step_seconds,
)
from snncc.backends import Record, get_backend
from snncc.backends.refsim import kernels
from snncc.backends.refsim.weights import effective_weights
from snncc.energy import synaptic_ops
from snncc.ir import Graph, IntDense, IntInput, IntLIF


def best_of(fn, repeat: int, clock=time.perf_counter) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = clock()
        fn()
        best = min(best, clock() - start)
    return best


def memory_bandwidth(nbytes: int = 512 << 20, repeat: int = 5) -> float:
    """Bytes per second of a large array copy (one read + one write per byte), best of ``repeat``."""
    src = np.ones(nbytes // 8, dtype=np.int64)
    dst = np.empty_like(src)
    return 2 * nbytes / best_of(lambda: np.copyto(dst, src), repeat)


def gemm_peaks(n: int = 1024, repeat: int = 10) -> tuple[float, float]:
    """(int8 x int8 -> int32, float32) operations per second of an n x n x n product (2 ops per multiply-add)."""
    a8 = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    b8 = torch.randint(-128, 128, (n, n), dtype=torch.int8)
    a32, b32 = a8.float(), b8.float()
    ops = 2 * n**3
    return ops / best_of(lambda: torch._int_mm(a8, b8), repeat), ops / best_of(lambda: a32 @ b32, repeat)


def memory_traffic(graph: Graph, batch: int) -> int:
    """Bytes a step of refsim must move at least, for the whole batch: every synapse op reads its
    weights once (1 byte each) and its binary input (1 byte each) and writes its int32 port; every
    neuron layer reads the port and reads and writes u, v and the spike counts (int64) and writes
    its spikes (1 byte).  An upper bound of the share of the bandwidth it uses."""
    total = 0
    for name, op in graph:
        if isinstance(op, IntLIF):
            total += (4 + 6 * 8 + 1) * batch * int(np.prod(op.shape))
        elif getattr(op, "IS_SYNAPSE", False):
            src = graph[graph.predecessors(name)[0]]
            total += op.weight.array.size + batch * (int(np.prod(src.shape)) + 4 * int(np.prod(op.shape)))
    return total


def dense_layers(bench: Bench, batch: int, repeat: int) -> tuple[int, float, bool]:
    """(dense-equivalent operations, seconds, all int8) of refsim's dense-layer products alone, on the
    spikes of the run, as refsim computes them (int8 GEMM, or the event-driven sum for rare spikes)."""
    graph = bench.graph
    trace = get_backend("refsim").run(graph, bench.head(batch), record=Record(spikes=True))
    numerics = graph.meta.numerics
    work = []
    for name, op in graph.of_type(IntDense):
        src_name = graph.predecessors(name)[0]
        src = graph[src_name]
        if isinstance(src, IntInput):
            if src.bits != 1:
                continue  # bit planes: not a plain product of spikes
            spikes = next(iter(bench.head(batch).values()))
        else:
            spikes = trace.spikes[src_name]
        kernel = kernels.DenseKernel.prepare(effective_weights(op.weight.array, numerics), 1)
        per_step = [
            np.ascontiguousarray(spikes[:, t].reshape(batch, -1), dtype=np.int8) for t in range(spikes.shape[1])
        ]
        work.append((kernel, op.weight_exp, per_step, 2 * op.weight.array.size * batch * len(per_step)))
    if not work:
        return 0, 0.0, False

    def products():
        for kernel, weight_exp, per_step, _ in work:
            for x in per_step:
                kernels.binary_port(kernel, x, weight_exp)

    seconds = best_of(products, repeat)
    return sum(ops for *_, ops in work), seconds, all(k.int8 is not None for k, *_ in work)


def describe(graph: Graph) -> str:
    neurons = sum(int(np.prod(op.shape)) for _, op in graph.of_type(IntLIF))
    synapses = sum(int(np.count_nonzero(op.weight.array)) for _, op in graph if hasattr(op, "weight"))
    (_, inp), *_ = graph.of_type(IntInput)
    kind = "binary spikes" if inp.bits == 1 else f"{inp.bits}-bit {inp.encoding}"
    return f"{neurons} neurons, {synapses} weights, {graph.meta.steps} steps, {kind} input"


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--lava-samples", type=int, default=8, help="samples Lava's timed run streams")
    parser.add_argument("--check-samples", type=int, default=3, help="samples of the bit-identity check")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--only", choices=sorted(BUILDERS), action="append")
    args = parser.parse_args(argv)

    bandwidth = memory_bandwidth()
    int8_peak, f32_peak = gemm_peaks()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch threads {torch.get_num_threads()}, python {platform.python_version()}; {load()}")  # fmt: skip
    print(f"measured: copy bandwidth {bandwidth / 1e9:.1f} GB/s, int8 GEMM {int8_peak / 1e9:.0f} GOP/s, "
          f"float32 GEMM {f32_peak / 1e9:.0f} GFLOP/s; batch {args.batch}")  # fmt: skip
    rows = []
    all_identical = True
    for name in args.only or [n for n in BUILDERS if n.startswith("spikes-")] + ["dense"]:
        bench = BUILDERS[name](max(args.batch, args.lava_samples))
        steps = bench.graph.meta.steps
        refsim = get_backend("refsim")
        inputs = bench.head(args.batch)
        refsim.run(bench.graph, inputs)  # warm-up: numba compiles the fused step once per process
        ref_seconds = best_of(lambda b=bench, i=inputs, r=refsim: r.run(b.graph, i), args.repeat)
        ref_step = ref_seconds / (args.batch * steps)
        ref_cpu = best_of(lambda b=bench, i=inputs, r=refsim: r.run(b.graph, i), args.repeat, time.process_time)
        ref_cpu_step = ref_cpu / (args.batch * steps)
        lava_step = stock_lava_step_seconds(bench, args.lava_samples)
        lava_cpu_step = stock_lava_step_cpu_seconds(bench, args.lava_samples)
        mismatch = lava_matches_refsim(bench, args.check_samples)
        all_identical &= mismatch is None
        trace = refsim.run(bench.graph, inputs)
        events = sum(synaptic_ops(bench.graph, trace).values()) / steps  # per sample-step (synaptic_ops: per sample)
        ops, dense_seconds, int8 = dense_layers(bench, args.batch, args.repeat)
        peak = int8_peak if int8 else f32_peak
        dense_fraction = ops / dense_seconds / peak if ops else float("nan")
        whole_fraction = ops / ref_seconds / peak if ops else float("nan")
        traffic = memory_traffic(bench.graph, args.batch) * steps / ref_seconds / bandwidth
        print(f"\n{name}: {describe(bench.graph)}  [{load()}]")
        print(f"  refsim:     {args.batch} samples in {ref_seconds:.3f} s = {ref_step * 1e6:.2f} us per sample-step")
        print(f"  stock Lava: {lava_step * 1e3:.2f} ms per step ({args.lava_samples} samples streamed, no monitors)")
        print(f"  CPU time:   refsim {ref_cpu_step * 1e6:.2f} us, Lava {lava_cpu_step * 1e3:.2f} ms (all its processes) "
              f"per sample-step: ratio {lava_cpu_step / ref_cpu_step:.0f}x")  # fmt: skip
        print(f"  bit-identical u, v, spikes on {args.check_samples} samples: {mismatch is None} {mismatch or ''}")
        if ops:
            print(f"  dense layers: {ops / dense_seconds / 1e9:.0f} GOP/s alone = {dense_fraction:.0%} of the "
                  f"{'int8' if int8 else 'float32'} peak; whole run {whole_fraction:.0%}")  # fmt: skip
        rows.append((name, lava_step / ref_step, lava_cpu_step / ref_cpu_step, events / ref_step, events / lava_step, dense_fraction,
                     whole_fraction, traffic, mismatch is None))  # fmt: skip

    print(f"\n{load()}")
    print(f"{'network':<26} {'refsim/Lava':>11} {'CPU ratio':>9} {'refsim ev/s':>12} {'Lava ev/s':>10} "
          f"{'dense peak':>10} {'run peak':>9} {'bandwidth':>9} {'identical':>9}")  # fmt: skip
    for name, ratio, cpu_ratio, ref_eps, lava_eps, dense_fraction, whole_fraction, traffic, identical in rows:
        print(f"{name:<26} {ratio:>10.0f}x {cpu_ratio:>8.0f}x {ref_eps:>12.3e} {lava_eps:>10.3e} {dense_fraction:>10.0%} "
              f"{whole_fraction:>9.0%} {traffic:>9.1%} {identical!s:>9}")  # fmt: skip
    return 0 if all_identical else 1


if __name__ == "__main__":
    sys.exit(main())
