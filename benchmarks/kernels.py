"""Where the event-driven product pays: time the dense-kernel paths over spike densities.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernels.py
Prints, for a 500x500 layer and a batch of 256, the time of the float32 BLAS product, of the
event-driven one and of the int8 product (torch._int_mm) at each input density;
kernels.EVENT_DRIVEN_DENSITY (BLAS vs events, for weights that do not fit int8) is set from the
crossover measured on the development machine.  Then, for int8 weights of several layer widths,
torch._int_mm against the event-driven sum of int8 weight rows (kernels.EVENT_DRIVEN_INT8_DENSITY
and EVENT_DRIVEN_INT8_MIN_WIDTH are set from that crossover).  Last, for binary convolutions, torch's
float32 conv2d against the event-driven scatter (kernels.EVENT_DRIVEN_CONV_DENSITY), both as the
int32 port the neuron update reads.
"""

from __future__ import annotations

import time
from types import SimpleNamespace

import numpy as np

from snncc.backends.refsim.kernels import (
    EVENT_DRIVEN_CONV_DENSITY,
    EVENT_DRIVEN_DENSITY,
    EVENT_DRIVEN_INT8_DENSITY,
    EVENT_DRIVEN_INT8_MIN_WIDTH,
    Conv2dKernel,
    DenseKernel,
    _bit_words,
    _shifted_in_place,
)


def best_of(fn, repeat: int = 20) -> float:
    """CPU seconds of this thread (with OMP_NUM_THREADS=1 torch computes in it too): on a machine shared
    with other jobs, wall time measures the scheduler as much as the kernel."""
    times = []
    for _ in range(repeat):
        start = time.thread_time()
        fn()
        times.append(time.thread_time() - start)
    return min(times)


def main() -> None:
    rng = np.random.default_rng(0)
    kernel = DenseKernel.prepare(rng.integers(-128, 128, size=(500, 500)) * 2, 1)
    print(f"current EVENT_DRIVEN_DENSITY = {EVENT_DRIVEN_DENSITY}")
    print(f"{'density':>8} {'blas ms':>9} {'events ms':>10} {'int8 ms':>8} {'blas/events':>12} {'events/int8':>12}")
    for density in (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        x = (rng.random((256, 500)) < density).astype(np.int64)
        blas = best_of(lambda x=x: (x.astype(kernel.dtype) @ kernel.weight_t).astype(np.int64))
        events = best_of(lambda x=x: kernel.events(x))
        int8 = best_of(lambda x=x: kernel.int8(x))
        assert np.array_equal(kernel.events(x), (x.astype(kernel.dtype) @ kernel.weight_t).astype(np.int64))
        assert np.array_equal(kernel.int8(x), kernel.events(x))
        print(
            f"{density:>8} {blas * 1e3:>9.3f} {events * 1e3:>10.3f} {int8 * 1e3:>8.3f} "
            f"{blas / events:>12.2f} {events / int8:>12.2f}"
        )
    int8_rows(rng)
    conv_events(rng)


def int8_rows(rng: np.random.Generator) -> None:
    """int8 GEMM vs the event-driven sum of int8 weight rows, per layer width and density."""
    print(f"\nint8 weights: current EVENT_DRIVEN_INT8_DENSITY = {EVENT_DRIVEN_INT8_DENSITY}, "
          f"EVENT_DRIVEN_INT8_MIN_WIDTH = {EVENT_DRIVEN_INT8_MIN_WIDTH}")  # fmt: skip
    densities = (0.01, 0.05, 0.1, 0.15, 0.2, 0.3)
    print(f"{'in x out':>10} " + " ".join(f"{d:>7}" for d in densities) + "   (GEMM time / events time)")
    for n_in, n_out in ((500, 10), (784, 100), (500, 128), (500, 500), (784, 500), (784, 2000), (2000, 2000)):
        weights = DenseKernel.prepare(rng.integers(-64, 64, size=(n_out, n_in)) * 2, 1).int8
        ratios = []
        for density in densities:
            x = (rng.random((256, n_in)) < density).astype(np.int8)
            assert np.array_equal(weights._events(x), weights._int_mm(x))
            gemm = best_of(lambda x=x, w=weights: w._int_mm(x))
            ratios.append(gemm / best_of(lambda x=x, w=weights: w._events(x)))
        print(f"{n_in:>4} x {n_out:<4} " + " ".join(f"{r:>7.2f}" for r in ratios))


def conv_events(rng: np.random.Generator, batch: int = 256) -> None:
    """float32 conv2d vs the event-driven scatter, per geometry and input density (3x3, stride 2, pad 1)."""
    print(f"\nbinary conv: current EVENT_DRIVEN_CONV_DENSITY = {EVENT_DRIVEN_CONV_DENSITY}")
    densities = (0.01, 0.02, 0.05, 0.1, 0.2)
    print(f"{'C_in,HxW -> C_out':>18} " + " ".join(f"{d:>6}" for d in densities) + "   (conv2d time / events time)")
    geometry = SimpleNamespace(stride=(2, 2), padding=(1, 1), dilation=(1, 1), groups=1)
    for c_in, side, c_out in ((1, 28, 16), (16, 14, 32), (32, 16, 64)):
        kernel = Conv2dKernel.prepare(rng.integers(-127, 128, size=(c_out, c_in, 3, 3)) * 4, 1, geometry)
        ratios = []
        for density in densities:
            x = (rng.random((batch, c_in, side, side)) < density).astype(np.int8)
            events = kernel._events(x.shape[1:])
            flat = x.reshape(batch, -1)
            assert np.array_equal(
                events.port(_bit_words(flat), -1), _shifted_in_place(kernel._float(x).astype(np.int32), -1)
            )
            dense = best_of(lambda x=x, k=kernel: _shifted_in_place(k._float(x).astype(np.int32), -1))
            ratios.append(dense / best_of(lambda f=flat, e=events: e.port(_bit_words(f), -1)))
        print(f"{c_in:>4},{side}x{side} -> {c_out:<4} " + " ".join(f"{r:>6.2f}" for r in ratios))


if __name__ == "__main__":
    main()
