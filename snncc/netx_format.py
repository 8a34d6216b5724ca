"""Facts of lava-dl's netx HDF5 format (``.net``) shared by its reader and writer in snncc.

Read from lava-dl (lava/lib/dl/netx/hdf5.py, blocks/process.py, utils.py and slayer's
``export_hdf5`` methods); checked against lava-dl's golden network ``tiny.net`` and its arrays.

Layout: group ``layer`` holds blocks ``"0"``, ``"1"``, … in order; each has ``type`` (a
one-element ``S10`` array: input, conv, dense, flatten, …) and ``shape`` in (C, H, W) order
(dense: (out, 1, 1)); Lava itself uses the reverse (x, y, c).  A CUBA neuron group
(``type`` LOIHI or CUBA) becomes Lava's fixed-point LIF with vth = vThMant, du = iDecay − 1,
dv = vDecay, bias_mant = the block's ``bias`` (truncated to int) and bias_exp = 6.
Conv ``weight`` is (out, in/groups, kH, kW[, 1]) in torch's cross-correlation convention
(netx flips it for Lava's Conv, which convolves); ``stride``/``padding``/``dilation`` are
(y, x).  Conv weights reach Lava unchanged; dense weights pass netx's ``optimize_weight_bits``
and then Lava's weight pipeline, which is exact only inside the ranges checked below.
``wgtExp`` in a neuron group is ignored by netx.  Group ``simulation`` holds ``Ts`` and
``tSample`` (steps per sample).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

import numpy as np

from snncc.ir import LOIHI, Numerics
from snncc.ir.arith import effective_weights

BIAS_EXP = 6  # netx gives every CUBA block bias_exp 6: the file's bias is in units of 2^6 v LSB
NEURON_TYPES = ("LOIHI", "CUBA")
NEVER_FIRES_VTH = (1 << 18) - 1  # slayer's vThMant for a layer that must not spike (vth·2^6 > v max)
REF_DELAY = 1  # Lava's LIF has no refractory period; refDelay 1 is the only value that matches it
SUPPORTED_BLOCKS = ("input", "conv", "dense", "flatten")
# Lava's fixed-point LIF, which netx instantiates, fixes these formats
LAVA_LIF_FORMATS = ("act_shift", "vth_shift", "decay_bits", "du_offset", "state_bits")
CONV_WEIGHT_LIMIT = 1 << 23  # Lava's Conv clamps its output to 24 bits; larger weights are meaningless
PREFIX = "snncc_"  # attributes and datasets only snncc reads; netx ignores them


def lava_formats_differ(numerics: Numerics) -> list[str]:
    """The fixed-point formats in which ``numerics`` differs from Lava's LIF (which netx uses)."""
    return [f for f in LAVA_LIF_FORMATS if getattr(numerics, f) != getattr(LOIHI, f)]


@dataclass(frozen=True)
class DenseScaling:
    """How netx hands a dense matrix W to Lava: weights W << shift, weight_exp −shift, ``bits`` weight bits."""

    shift: int
    bits: int


def dense_scaling(weight: np.ndarray) -> DenseScaling:
    """netx's ``optimize_weight_bits`` for integer ``weight`` (file units); ValueError if netx cannot load it.

    It clips mixed-sign matrices to [−256, 254], scales the matrix to the widest 8-bit range
    its sign mode allows (a power of two) and counts the bits left after the matrix's common
    power of two.
    """
    w = np.asarray(weight, dtype=np.int64)
    if w.size == 0:
        raise ValueError("the matrix is empty")
    hi, lo = int(w.max()), int(w.min())
    if hi == 0 and lo == 0:
        raise ValueError("all weights are zero (netx cannot scale an all-zero matrix)")
    if (hi > 254 and lo < 0) or (lo < -256 and hi > 0):
        raise ValueError(f"mixed-sign weights span [{lo}, {hi}]; netx clips them to [-256, 254]")
    signed = lo < 0 <= hi  # netx's sign modes: inhibitory if max < 0, excitatory if min >= 0, else mixed
    if hi < 0:
        scale = -256 / lo
    elif lo >= 0:
        scale = 255 / hi
    else:
        scale = min(127 / hi if hi > 0 else math.inf, -128 / lo)
    shift = math.floor(math.log2(scale)) + int(signed)
    if shift < 0:
        raise ValueError(f"weights span [{lo}, {hi}], more than the 8 bits netx can scale")
    common = next((n for n in range(8, 0, -1) if not np.any(w % (1 << n))), 0)
    return DenseScaling(shift, 8 - shift - (common - int(signed)))


def dense_weight_problem(weight: np.ndarray) -> str | None:
    """Why netx would not apply ``weight`` (integers, file units) exactly in Lava, or None if it would.

    Exact exactly when Lava's weight pipeline leaves the scaled matrix W << shift unchanged:
    then floor(Σ (W << shift)·x / 2^shift) = Σ W·x.
    """
    try:
        scaling = dense_scaling(weight)
    except ValueError as err:
        return str(err)
    shifted = np.asarray(weight, dtype=np.int64) << scaling.shift
    applied = effective_weights(shifted, dataclasses.replace(LOIHI, weight_bits=scaling.bits))
    if not np.array_equal(applied, shifted):
        bad = int(np.argmax(applied != shifted))
        return (
            f"Lava's weight pipeline would change weight {int(np.asarray(weight).flat[bad])} "
            f"(netx scales the matrix by 2^{scaling.shift} to {scaling.bits} weight bits)"
        )
    return None


def mantissa_exponent(
    values: np.ndarray, numerics: Numerics, prefer: int | None = None
) -> tuple[np.ndarray, int] | None:
    """(M, e) with M·2^e == values, M unchanged by Lava's weight pipeline and e in the numerics' range.

    For binary spikes and graded values alike, floor(Σ M·x·2^e) then equals Σ values·x:
    e ≥ 0 scales exactly, and for e < 0 every M is a multiple of 2^−e.  ``prefer`` (a
    recorded exponent) is tried first; then 0, −1, −2, …, then 1, 2, … (the smallest
    mantissas that still fit).
    """
    v = np.asarray(values, dtype=np.int64)
    order = [0, *range(-1, numerics.weight_exp_min - 1, -1), *range(1, numerics.weight_exp_max + 1)]
    if prefer is not None:
        order.insert(0, prefer)
    for e in order:
        if not numerics.weight_exp_min <= e <= numerics.weight_exp_max:
            continue
        if e >= 0:
            if np.any(v % (1 << e)):
                continue
            m = v >> e
        else:
            m = v << -e
        if m.size and (m.min() < -(numerics.weight_max + 1) or m.max() > numerics.weight_max):
            continue
        if np.array_equal(effective_weights(m, numerics), m):
            return m.astype(np.int32), e
    return None
