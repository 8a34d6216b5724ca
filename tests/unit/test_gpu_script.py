"""benchmarks/gpu.sh: where torch sees no GPU it says so and succeeds; its checks run on torch's CPU
tensors the same way they would on a GPU (the device is the only difference)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from snncc.backends.base import LayerStats, Trace

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("gpu_bench", ROOT / "benchmarks" / "gpu.py")
gpu = importlib.util.module_from_spec(spec)
spec.loader.exec_module(gpu)


def test_without_a_gpu_the_script_says_unmeasured_and_exits_0():
    env = {**os.environ, "CUDA_VISIBLE_DEVICES": "", "PYTHON": sys.executable}  # no GPU, even on a GPU machine
    done = subprocess.run(
        ["bash", str(ROOT / "benchmarks/gpu.sh")], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "no GPU: unmeasured"


@pytest.mark.slow
def test_the_checks_pass_on_torch_cpu_tensors_and_report_events_per_second():
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gpu.py"), "--device", "cpu", "--batch", "4", "--repeat", "1"],
        env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert sum("bit-identical to the CPU reference (u, v, spikes, outputs, counters): True" in s for s in lines) == 2
    rates = [float(s.split(" synaptic events/s")[0].split()[-1]) for s in lines if "synaptic events/s" in s]
    assert len(rates) == 2 and all(r > 0 for r in rates)


def test_the_identity_check_names_a_difference():
    def trace(v):
        return Trace(batch=1, steps=1, outputs={"o": np.zeros(1)}, spike_counts={"l": np.zeros(2)},
                     input_events={}, stats={"l": LayerStats()}, spikes={}, v={"l": np.array([[[v, 0]]])}, u={})  # fmt: skip

    assert gpu.identical(trace(3), trace(3)) is None
    assert "'v'" in gpu.identical(trace(3), trace(4))
