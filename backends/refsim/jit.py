"""Compiled loops of the reference simulator: numba settings and the thread split shared by them.

Vectorizing: a loop over several arrays vectorizes only where LLVM can check at run time that
they do not overlap; past its default budget of 8 pointer checks it leaves the loop scalar (the
fused LIF step reads and writes six arrays: ~6x slower).  Raising the budget only lets the
vectorizer emit more checks; it changes no result.

Threads: a batch's rows are independent, so a loop over them is split into one block of rows
per thread (the loops release the GIL).  The thread count is torch's (OMP_NUM_THREADS), so that
one setting governs the products and the neuron updates alike.
"""

from __future__ import annotations

import itertools
from concurrent.futures import ThreadPoolExecutor
from functools import cache

import llvmlite.binding
import numba
import torch

llvmlite.binding.set_option("snncc", "-runtime-memory-check-threshold=64")

njit = numba.njit(cache=True, nogil=True)

MIN_ROWS_PER_THREAD = 16  # below this, starting a thread costs more than its share of the work


def row_blocks(rows: int) -> list[slice]:
    """The blocks of rows the threads take (one block: run in the caller's thread)."""
    threads = max(1, min(torch.get_num_threads(), rows // MIN_ROWS_PER_THREAD))
    bounds = [rows * i // threads for i in range(threads + 1)]
    return [slice(lo, hi) for lo, hi in itertools.pairwise(bounds)]


def over_rows(fn, batched: tuple, shared: tuple) -> list:
    """fn(*(a[block] for a in batched), *shared) for each block of rows, in parallel; the results."""
    blocks = row_blocks(len(batched[0]))
    if len(blocks) == 1:
        return [fn(*batched, *shared)]
    return list(_pool(len(blocks)).map(lambda rows: fn(*(a[rows] for a in batched), *shared), blocks))


@cache
def _pool(threads: int) -> ThreadPoolExecutor:
    return ThreadPoolExecutor(threads, thread_name_prefix="refsim")
