"""Compose a chain of float linear ops (conv, dense, pooling, flatten, batch norm) into one synapse.

Between two neuron layers a model may apply several linear ops; on a chip each neuron layer
is fed by exactly one synapse matrix.  Every rule here is exact in real arithmetic and
says which patterns it handles; anything else is refused with the layer's name.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from snncc.errors import ImportFailed
from snncc.ir import Const, Conv2d, Dense, Op
from snncc.ir import float_steps as steps
from snncc.ir.op import conv_out_hw
from snncc.ir.ops import Pool2d

Linear = Dense | Conv2d | Pool2d


@dataclass(frozen=True)
class FusedSynapse:
    """One synapse op without bias, plus the bias the chain adds (shape of its output).

    ``name`` is the chain's last conv/linear layer (the pooling layer if it has none), so
    diagnostics point at the layer the user wrote.
    """

    name: str
    op: Dense | Conv2d
    bias: np.ndarray


def fuse_chain(chain: list[tuple[str, Op]], source_shape: tuple[int, ...]) -> FusedSynapse:
    """Reduce ``chain`` (name, op) applied to inputs of ``source_shape`` to one Dense or Conv2d."""
    ops = _fold_batchnorm([(n, op) for n, op in chain if not op.IS_RESHAPE])
    bias = np.zeros(source_shape)
    shape = source_shape
    for _, op in ops:
        bias = apply_linear(op, bias[None])[0]
        shape = op.shape
    composed: tuple[str, Linear] | None = None
    for name, op in ops:
        composed = (name, op) if composed is None else (name, _compose(composed, (name, op), source_shape))
    if composed is None:
        raise ValueError("empty chain")  # internal: callers pass at least one op
    op = composed[1]
    if op.IS_POOL:
        op = _pool_as_depthwise_conv(op, source_shape)
    weighted = [n for n, o in ops if o.IS_SYNAPSE]
    name = weighted[-1] if weighted else ops[-1][0]
    return FusedSynapse(name=name, op=_without_bias(op), bias=bias.reshape(shape))


def apply_linear(op: Op, x: np.ndarray) -> np.ndarray:
    """Float64 forward of one linear op on a batch x (B, *in_shape), bias included (the op kit's step)."""
    if op.IS_NEURON or (op.IS_POOL and op.window_divisor() is None):
        raise TypeError(f"not a linear op: {op.OP}")
    return steps.apply(op, x)


def _fold_batchnorm(ops: list[tuple[str, Op]]) -> list[tuple[str, Linear]]:
    """w' = w·γ/σ per output channel, b' = (b − μ)·γ/σ + β (SPEC.md §batchnorm)."""
    out: list[tuple[str, Linear]] = []
    for name, op in ops:
        affine = op.affine()
        if affine is None:
            out.append((name, op))  # type: ignore[arg-type]
            continue
        if not out or not out[-1][1].IS_SYNAPSE:
            raise ImportFailed(
                "batch norm must directly follow a conv or linear layer to be folded",
                code="IMT010",
                node=name,
                hint="move the BatchNorm after a Conv2d/Linear, or fold it into the next layer before export",
            )
        prev_name, prev = out[-1]
        out[-1] = (prev_name, prev.fold_affine(*affine))
    return out


def _fields(op: Op) -> dict:
    return {**op.scalars(), **op.consts()}


def _without_bias(op: Dense | Conv2d) -> Dense | Conv2d:
    return type(op)(**{**_fields(op), "bias": None})


def _refuse(name: str, first: Op, second: Op, why: str) -> ImportFailed:
    return ImportFailed(
        f"cannot fuse {first.OP} followed by {second.OP} into one synapse: {why}",
        code="IMT011",
        node=name,
        hint="put a spiking neuron between the two layers, or simplify the layer sequence",
    )


def _compose(first: tuple[str, Linear], second: tuple[str, Linear], source_shape: tuple[int, ...]) -> Linear:
    (_, a), (name, b) = first, second
    a_dense, b_dense = a.IS_SYNAPSE and not a.is_conv, b.IS_SYNAPSE and not b.is_conv
    if a_dense and b_dense:
        return Dense(shape=b.shape, weight=Const(b.weight.array @ a.weight.array))
    if a.IS_POOL and b_dense:
        return Dense(shape=b.shape, weight=Const(_dense_after_pool(b.weight.array, a, source_shape)))
    if a.IS_POOL and b.is_conv:
        return _conv_after_pool(name, a, b, source_shape)
    if a.is_conv and b.IS_POOL:
        return _pool_after_conv(name, a, b)
    raise _refuse(name, a, b, "this pair has no exact single-synapse form here")


def _pool_matrix(pool: Pool2d, in_shape: tuple[int, ...]) -> sp.csr_matrix:
    """Sparse P with pooled = P @ flatten(x) for one sample (zero padding counted)."""
    c, h, w = in_shape
    oh, ow = conv_out_hw((h, w), pool.kernel, pool.stride, pool.padding)
    rows, cols = [], []
    oc, oy, ox = np.meshgrid(np.arange(c), np.arange(oh), np.arange(ow), indexing="ij")
    out_index = (oc * oh + oy) * ow + ox
    for i in range(pool.kernel[0]):
        for j in range(pool.kernel[1]):
            y = oy * pool.stride[0] - pool.padding[0] + i
            x = ox * pool.stride[1] - pool.padding[1] + j
            inside = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            rows.append(out_index[inside])
            cols.append(((oc * h + y) * w + x)[inside])
    value = 1.0 / pool.window_divisor()
    r, cidx = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_matrix((np.full(r.size, value), (r, cidx)), shape=(c * oh * ow, c * h * w))


def _dense_after_pool(weight: np.ndarray, pool: Pool2d, source_shape: tuple[int, ...]) -> np.ndarray:
    return np.asarray((_pool_matrix(pool, source_shape).T @ weight.T).T)


def _conv_after_pool(name: str, pool: Pool2d, conv: Conv2d, source_shape: tuple[int, ...]) -> Conv2d:
    """conv(pool_k(x)) = conv with kernel K'[k·a+u] = K[a]/k², stride k·s, padding k·p (non-overlapping pools)."""
    k = pool.kernel
    if pool.stride != k or pool.padding != (0, 0) or conv.dilation != (1, 1):
        raise _refuse(name, pool, conv, "only non-overlapping, unpadded pooling before an undilated conv")
    if source_shape[1] % k[0] or source_shape[2] % k[1]:
        raise _refuse(name, pool, conv, f"the pooled map {source_shape} is not a multiple of the pool size {k}")
    w = np.repeat(np.repeat(conv.weight.array, k[0], axis=2), k[1], axis=3) / pool.window_divisor()
    return Conv2d(
        shape=conv.shape,
        weight=Const(w),
        stride=(conv.stride[0] * k[0], conv.stride[1] * k[1]),
        padding=(conv.padding[0] * k[0], conv.padding[1] * k[1]),
        groups=conv.groups,
    )


def _pool_after_conv(name: str, conv: Conv2d, pool: Pool2d) -> Conv2d:
    """pool(conv(x)) for a stride-1 conv: kernel K' = K (full) ⊛ box, stride = pool stride."""
    if conv.stride != (1, 1) or conv.dilation != (1, 1) or pool.padding != (0, 0):
        raise _refuse(name, conv, pool, "only an unstrided, undilated conv before unpadded pooling")
    c_out, c_in, kh, kw = conv.weight.shape
    k = pool.kernel
    w = np.zeros((c_out, c_in, kh + k[0] - 1, kw + k[1] - 1))
    for u in range(k[0]):
        for v in range(k[1]):
            w[:, :, u : u + kh, v : v + kw] += conv.weight.array
    w /= pool.window_divisor()
    return Conv2d(shape=pool.shape, weight=Const(w), stride=pool.stride, padding=conv.padding, groups=conv.groups)


def _pool_as_depthwise_conv(pool: Pool2d, source_shape: tuple[int, ...]) -> Conv2d:
    c = source_shape[0]
    w = np.ones((c, 1, *pool.kernel)) / pool.window_divisor()
    return Conv2d(shape=pool.shape, weight=Const(w), stride=pool.stride, padding=pool.padding, groups=c)
