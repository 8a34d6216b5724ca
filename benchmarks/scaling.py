"""How the reference backend's time grows with network size, time steps and batch size, and the
compile time (import, quantize, map; no long simulation) of the VGG-style network.

Run from the repository root:  .venv/bin/python benchmarks/scaling.py
Each row varies one factor of the dense benchmark network (benchmarks/networks.py: 784-H-H-10,
rate-coded digits input) from the base point H=500, T=16, batch 256; times are the best of 3.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.networks import ROOT, dense_network
from snncc.backends import get_backend
from snncc.compile import CompileOptions, preflight
from snncc.deploy import Timer, deploy
from snncc.energy import synaptic_ops
from snncc.options import DataOptions


def best_seconds(bench, repeat: int = 3) -> tuple[float, float]:
    """(seconds, synaptic events per second) of the fastest of ``repeat`` runs."""
    refsim = get_backend("refsim")
    best, trace = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        trace = refsim.run(bench.graph, bench.inputs)
        best = min(best, time.perf_counter() - start)
    events = sum(synaptic_ops(bench.graph, trace).values()) * trace.batch
    return best, events / best


def main() -> int:
    base = {"hidden": 500, "steps": 16, "samples": 256}
    sweeps = {"hidden": (125, 250, 500, 1000, 2000), "steps": (4, 8, 16, 32, 64), "samples": (1, 16, 64, 256, 1024)}
    print(f"{'factor':<8} {'value':>6} {'seconds':>9} {'per sample-step us':>19} {'events/s':>10}")
    for factor, values in sweeps.items():
        for value in values:
            point = {**base, factor: value}
            bench = dense_network(point["samples"], steps=point["steps"], hidden=point["hidden"])
            seconds, eps = best_seconds(bench)
            per = seconds / (point["samples"] * point["steps"]) * 1e6
            print(f"{factor:<8} {value:>6} {seconds:>9.3f} {per:>19.2f} {eps:>10.2e}")
    vgg = ROOT / "examples/vgg/model.pt"
    start = time.perf_counter()
    d = preflight(vgg, CompileOptions(target="loihi2", data=DataOptions(file=ROOT / "examples/vgg/test_data.npz")))
    check = time.perf_counter() - start
    timer = Timer()
    start = time.perf_counter()
    deploy(
        vgg,
        CompileOptions(target="loihi2", data=DataOptions(file=ROOT / "examples/vgg/test_data.npz")),
        lambda _message: None,
        timer,
    )
    calibrated = time.perf_counter() - start
    steps = ", ".join(f"{k} {v:.2f} s" for k, v in timer.seconds.items())
    print(f"\nVGG-style 3x32x32 (examples/vgg) on loihi2, {d.placement.to_dict()['cores_used']} cores:")
    print(f"  snncc check (import, quantize, map): {check:.2f} s")
    print(f"  compile up to mapping, with calibration on 256 samples: {calibrated:.2f} s ({steps})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
