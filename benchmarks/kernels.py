"""Where the event-driven product beats BLAS: time both dense-kernel paths over spike densities.

Run: .venv/bin/python benchmarks/kernels.py
Prints, for a 500x500 layer and a batch of 256, the time of the BLAS product and of the
event-driven one at each input density, and their ratio; kernels.EVENT_DRIVEN_DENSITY is set
from the crossover measured on the development machine.
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
    kernel = DenseKernel.prepare(rng.integers(-256, 256, size=(500, 500)), 1)
    print(f"current EVENT_DRIVEN_DENSITY = {EVENT_DRIVEN_DENSITY}")
    print(f"{'density':>8} {'blas ms':>9} {'events ms':>10} {'blas/events':>12}")
    for density in (0.001, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2):
        x = (rng.random((256, 500)) < density).astype(np.int64)
        blas = best_of(lambda x=x: (x.astype(kernel.dtype) @ kernel.weight_t).astype(np.int64))
        events = best_of(lambda x=x: kernel.events(x))
        assert np.array_equal(kernel.events(x), (x.astype(kernel.dtype) @ kernel.weight_t).astype(np.int64))
        print(f"{density:>8} {blas * 1e3:>9.3f} {events * 1e3:>10.3f} {blas / events:>12.2f}")


if __name__ == "__main__":
    main()
