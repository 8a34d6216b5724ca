"""int_partial_sum (ir/SPEC.md §int_partial_sum): one core's share of a split fan-in, a stateless relay.

p = wrap32(Σ_i W_eff[j, i] · x[start + i]) every step, x the source's flattened output (binary spikes
of a neuron layer, or graded input values), or for a conv part p = wrap32(conv2d(x[start : start + width],
W_eff)) over its input channels of the source; consumers read p as graded input.  The shared interpreter runs it
as a layer without state (LoihiDialect._partial_sum): it counts the graded spikes each part sends
(nonzero payloads) and records the payloads as the part's "v".
"""

from __future__ import annotations

from snncc.ir import IntPartialSum, Numerics
from snncc.ir.arith import wrap_int32
from snncc.ir.ops.partial_sum import source_part

from . import kernels
from .weights import effective_weights


def prepare_partial_sum(op: IntPartialSum, source: object, numerics: Numerics, device=None):
    """The kernel of the op's weight slice, for the largest input its source can send."""
    max_input = 1 << source.bits if source.IS_INPUT else 1
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
    return wrap_int32(kernel(source_part(op, source.shape, x), binary=not source.IS_INPUT))
