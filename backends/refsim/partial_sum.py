"""int_partial_sum (ir/SPEC.md §int_partial_sum): one core's share of a split fan-in, a stateless relay.

p = wrap32(Σ_i W_eff[j, i] · x[start + i]) every step, x the source's flattened output (binary spikes
of a neuron layer, or graded input values), or for a conv part p = wrap32(conv2d(x[start : start + width],
W_eff)) over its input channels of the source; consumers read p as graded input.  The shared interpreter runs it
as a layer without state (LoihiDialect._partial_sum): it counts the graded spikes each part sends
(nonzero payloads) and records the payloads as the part's "v".
"""

from __future__ import annotations

from snncc.ir import IntInput, IntPartialSum, Numerics

from . import kernels
from .arith import effective_weights, wrap_int32


def prepare_partial_sum(op: IntPartialSum, source: object, numerics: Numerics, device=None):
    """The kernel of the op's weight slice, for the largest input its source can send."""
    max_input = 1 << source.bits if isinstance(source, IntInput) else 1
    weight = effective_weights(op.weight.array, numerics)
    if op.is_conv and device is not None:
        return kernels.TorchConv2dKernel.prepare(weight, max_input, op.window(), device)
    if op.is_conv:
        return kernels.Conv2dKernel.prepare(weight, max_input, op.window())
    if device is not None:
        return kernels.TorchDenseKernel.prepare(weight, max_input, device)
    return kernels.DenseKernel.prepare(weight, max_input)


def partial_sum_step(kernel, op: IntPartialSum, source: object, x):
    """This step's payload p, (batch, *op.shape), from the source's output ``x`` (batch, *source shape)."""
    if op.is_conv:  # its input channels of the source's (C, H, W) maps
        part = x.reshape(x.shape[0], *source.shape)[:, op.start : op.start + op.width]
    else:
        part = x.reshape(x.shape[0], -1)[:, op.start : op.start + op.width]
    return wrap_int32(kernel(part, binary=not isinstance(source, IntInput)))
