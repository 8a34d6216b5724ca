"""Compiled loops of the reference simulator: the numba settings they share.

Vectorizing: a loop over several arrays vectorizes only where LLVM can check at run time that
they do not overlap; past its default budget of 8 pointer checks it leaves the loop scalar (the
fused LIF step reads and writes six arrays: ~6x slower).  Raising the budget only lets the
vectorizer emit more checks; it changes no result.  Every array such a loop touches must be a
real, distinct one: a stand-in that malloc places next to another array fails the check at run
time and the loop runs scalar.

Threads: the loops run in the calling thread.  Splitting the batch's rows over a second thread was
measured slower on the 2-core development machine (5.3 -> 6.3-9.9 us per sample-step on
784-500-500-10): torch's own threads, which the int8 products use (OMP_NUM_THREADS), spin between
products and compete with it.
"""

from __future__ import annotations

import llvmlite.binding
import numba

llvmlite.binding.set_option("snncc", "-runtime-memory-check-threshold=64")

njit = numba.njit(cache=True, nogil=True)
