"""Where the event-driven product pays: time the dense-kernel paths over spike densities.

Run: OMP_NUM_THREADS=1 .venv/bin/python benchmarks/kernels.py
Prints, for a 500x500 layer and a batch of 256, the time of the float32 BLAS product, of the
event-driven one and of the int8 product (torch._int_mm) at each input density;
kernels.EVENT_DRIVEN_DENSITY (BLAS vs events, for weights that do not fit int8) is set from the
crossover measured on the development machine.
"""

from __future__ import annotations

import time

import numpy as np

from snncc.backends.refsim.kernels import EVENT_DRIVEN_DENSITY, DenseKernel


def best_of(fn, repeat: int = 20) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
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


if __name__ == "__main__":
    main()
