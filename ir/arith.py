"""Integer arithmetic shared by the integer ops' steps (ir/SPEC.md §3, §6), exactly as Lava and Xylo compute it.

The numerics definition the compiler and every simulator read: refsim runs these functions (or its
compiled kernels, tested equal to them), the quantizer and the mapper use the weight pipeline.
All functions take and return int64 arrays; where Lava holds a value in an int32 (ports, u and v
storage, the int32 sums) the result is wrapped to int32 explicitly so that overflow behaves as it
does in Lava.  The arrays are numpy's or torch's (on any device): functions use operators and the
array-API namespace of their argument (array_api_compat), so one code path runs on both.
"""

from __future__ import annotations

import numpy as np
from array_api_compat import array_namespace

from snncc.errors import InvalidGraph

from .numerics import Numerics

INT32_MOD = 1 << 32
INT16_MIN, INT16_MAX = -(1 << 15), (1 << 15) - 1


def wrap_int32(x: np.ndarray) -> np.ndarray:
    """Two's complement wrap to int32, as Lava's int32 arithmetic does (returned as int64).

    numpy's int64 -> int32 cast keeps the low 32 bits; it is 30x faster than the modulo form
    ((x + 2^31) mod 2^32) - 2^31, to which tests/property compare it.
    """
    if isinstance(x, (int, np.integer)):
        x = np.asarray(x, dtype=np.int64)
    xp = array_namespace(x)
    return xp.astype(xp.astype(x, xp.int32), xp.int64)


def t12(p: np.ndarray, bits: int = 12) -> np.ndarray:
    """sign(p)·⌊|p| / 2^bits⌋: truncation toward zero (Lava's decay rounding).

    Computed as (p + (2^bits − 1 if p < 0)) >> bits, which equals it for int64 p and takes
    three passes over the array instead of five.
    """
    return (p + ((p >> 63) & ((1 << bits) - 1))) >> bits


def decayed(x: np.ndarray, keep: int, bits: int = 12) -> np.ndarray:
    """t12(x·keep): the decay step, skipping the product where keep is 0 or 2^bits."""
    if keep == 0:
        return array_namespace(x).zeros_like(x)
    if keep == 1 << bits:
        return x
    return t12(x * keep, bits)


def shift(acc: np.ndarray, exp: int) -> np.ndarray:
    """acc·2^exp for exp > 0, else the arithmetic (flooring) right shift by −exp."""
    return acc << exp if exp > 0 else acc >> -exp


ACCUMULATOR_MODES = ("wrap", "saturate", "unknown")  # the fused step's codes: their indices


def accumulator_mode(n: Numerics) -> int:
    """The code of n.accumulator_overflow (an artifact edited by hand may hold anything)."""
    if n.accumulator_overflow not in ACCUMULATOR_MODES:
        raise InvalidGraph(
            f"numerics.accumulator_overflow is {n.accumulator_overflow!r}",
            code="GRF064",
            hint=f"one of {', '.join(ACCUMULATOR_MODES)}",
        )
    return ACCUMULATOR_MODES.index(n.accumulator_overflow)


def accumulate(total: np.ndarray, n: Numerics) -> tuple[np.ndarray, np.ndarray]:
    """The dendritic accumulator's a from the unwrapped sum of a step's ports: wrapped or saturated at
    n.accumulator_bits, or (overflow unknown) kept as Lava keeps it, int32.  Returns (a, overflowed mask)."""
    xp = array_namespace(total)
    lo, hi = n.accumulator_range
    overflowed = (total < lo) | (total > hi)
    mode = ACCUMULATOR_MODES[accumulator_mode(n)]
    if mode == "saturate":
        return xp.clip(total, lo, hi), overflowed
    if mode == "wrap" and n.accumulator_bits < 32:
        return ((total - lo) & ((1 << n.accumulator_bits) - 1)) + lo, overflowed
    return wrap_int32(total), overflowed


def wrap_u(u: np.ndarray, n: Numerics) -> tuple[np.ndarray, np.ndarray]:
    """Lava's single conditional ±2^24 correction of u (range (−2^23, 2^23]); returns (u, wrapped mask)."""
    xp = array_namespace(u)
    half = 1 << (n.state_bits - 1)
    high = u > half
    low = u <= -half
    return xp.where(high, u - 2 * half, xp.where(low, u + 2 * half, u)), high | low


def saturate_v(v: np.ndarray, n: Numerics) -> tuple[np.ndarray, np.ndarray]:
    """Clip v to ±(2^23 − 1); returns (v, clipped mask)."""
    clipped = array_namespace(v).clip(v, -n.v_max, n.v_max)
    return clipped, clipped != v


def sat16(x: np.ndarray) -> np.ndarray:
    """Saturation to int16 (Xylo's state never wraps)."""
    return np.clip(x, INT16_MIN, INT16_MAX)


def wrap16(x: np.ndarray) -> np.ndarray:
    """Two's complement wrap to int16 (returned as int64)."""
    return x.astype(np.int16).astype(np.int64)


def effective_weights(w: np.ndarray, n: Numerics) -> np.ndarray:
    """Lava's weight pipeline (lava/utils/weightutils.py): sign mode, clip to 8 bits, truncate LSBs.

    Mixed-sign matrices keep even values only (3 -> 2, -3 -> -4) at 8 weight bits.  Never an alias
    of a caller's writable array; for a read-only array that owns its data (a graph's Const weights)
    the result is read-only too, so that a cache may share it (refsim's memo.py).
    """
    source = np.asarray(w, dtype=np.int64)
    out = _effective_weights(source, n)
    if isinstance(w, np.ndarray) and not w.flags.writeable and w.base is None:
        out.setflags(write=False)
    elif out is source:
        out = out.copy()
    return out


def _effective_weights(w: np.ndarray, n: Numerics) -> np.ndarray:
    if w.size == 0:
        return w
    lo, hi = int(w.min()), int(w.max())
    if lo >= 0:  # excitatory (all-zero counts as excitatory)
        mode, limits = "excitatory", (0, 255)
    elif hi <= 0:
        mode, limits = "inhibitory", (-255, 0)
    else:
        mode, limits = "mixed", (-256, 255)
    if lo < limits[0] or hi > limits[1]:  # quantized weights are in range: no clip pass
        w = np.clip(w, *limits)
    k = 8 - n.weight_bits + (1 if mode == "mixed" else 0)
    if k <= 0:
        return w
    if mode == "inhibitory":  # truncate |w| toward zero
        return -(-w & ~((1 << k) - 1))
    return w & ~((1 << k) - 1)  # (w >> k) << k: clear the low k bits
