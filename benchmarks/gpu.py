"""refsim's torch path on a GPU: bit-identity with the CPU reference, then synaptic events per second.

Run from the repository root (benchmarks/gpu.sh does):
    .venv/bin/python benchmarks/gpu.py [--batch 256] [--repeat 5] [--device cuda]

Where torch sees no GPU it prints "no GPU: unmeasured" and exits 0, before building anything.
Otherwise, for a dense network (784-500-500-10) and a conv network (28x28 -> 16c3/2 -> 32c3/2 -> 10),
both fed binary spikes at 10 % (benchmarks/networks.py), it
1. runs RefSim() (numpy, the CPU reference) and RefSim(device=...) on the same batch, recording u, v
   and spikes of every layer at every step, and requires them, the outputs, spike counts and event
   counters to be identical (exit 1 otherwise);
2. times the GPU run (best of --repeat, nothing recorded; the trace comes back to the host, so the
   time includes the device's work) and prints synaptic events per second: the spikes of the run
   times their nonzero fan-out (snncc.energy.synaptic_ops), for the whole batch.
Goal (issue 27): >= 1e11 synaptic events/s at batch 256 on one H100.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

GOAL = 1e11
NETWORKS = ("spikes-784-500-500-10", "spikes-conv")


def identical(expected, got) -> str | None:
    """None if the two traces agree on everything refsim reports; else what differs first."""
    from snncc.backends import first_mismatch

    mismatch = first_mismatch(expected, got)
    if mismatch is not None:
        return repr(mismatch)
    for field in ("outputs", "spike_counts"):
        for name, values in getattr(expected, field).items():
            if not np.array_equal(values, getattr(got, field)[name]):
                return f"{field}[{name}]"
    if {k: s.to_dict() for k, s in expected.stats.items()} != {k: s.to_dict() for k, s in got.stats.items()}:
        return "event counters"
    return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args(argv)
    if torch.device(args.device).type == "cuda" and not torch.cuda.is_available():
        print("no GPU: unmeasured")
        return 0

    from benchmarks.networks import BUILDERS
    from snncc.backends import Record
    from snncc.backends.refsim import RefSim
    from snncc.energy import synaptic_ops

    name = torch.cuda.get_device_name(args.device) if torch.device(args.device).type == "cuda" else args.device
    print(f"device: {name}, torch {torch.__version__}, batch {args.batch}")
    everything = Record(spikes=True, v=True, u=True)
    failed = False
    for network in NETWORKS:
        bench = BUILDERS[network](args.batch)
        inputs = bench.head(args.batch)
        steps = bench.graph.meta.steps
        reference = RefSim().run(bench.graph, inputs, record=everything)
        gpu = RefSim(device=args.device)
        mismatch = identical(reference, gpu.run(bench.graph, inputs, record=everything))
        failed |= mismatch is not None
        seconds = float("inf")
        for _ in range(args.repeat):
            start = time.perf_counter()
            trace = gpu.run(bench.graph, inputs)
            seconds = min(seconds, time.perf_counter() - start)
        events = sum(synaptic_ops(bench.graph, trace).values()) * args.batch  # synaptic_ops: per sample
        rate = events / seconds
        print(f"{network}: bit-identical to the CPU reference (u, v, spikes, outputs, counters): "
              f"{mismatch is None} {mismatch or ''}")  # fmt: skip
        print(f"  {seconds * 1e3:.1f} ms for {args.batch} samples x {steps} steps = "
              f"{seconds / (args.batch * steps) * 1e6:.3f} us per sample-step; "
              f"{rate:.3e} synaptic events/s (goal {GOAL:.0e}: {'met' if rate >= GOAL else 'not met'})")  # fmt: skip
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
