"""A dense (fully connected) synapse: float and integer forms (SPEC.md §dense, §int_dense)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..const import Const
from ..op import Op, Shape, check_bias, check_weight_dims, expect_inputs, shape_mismatch


@dataclass(frozen=True, kw_only=True)
class DenseMatrix(Op):
    """Shared fields and hooks of the dense synapses, float and integer (not an op itself, as Pool2d):
    a weight (out, in) applied to the source flattened in C order."""

    IS_SYNAPSE = True
    weight: Const

    def macs(self) -> float:
        return float(self.weight.array.size)

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        n_in = int(np.prod(inputs[0]))
        check_weight_dims(name, self, 2)
        out, w_in = self.weight.shape
        if w_in != n_in:
            raise shape_mismatch(name, self, (w_in,), inputs[0])
        return (out,)


@dataclass(frozen=True, kw_only=True)
class Dense(DenseMatrix):
    """y = W x + b, with x flattened in C order.  weight (out, in)."""

    OP = "dense"
    bias: Const | None = None

    def fold_affine(self, scale: np.ndarray, shift: np.ndarray) -> Dense:
        """This synapse followed by y = scale·x + shift per output (a batch norm folded into it)."""
        b = (self.bias.array if self.bias is not None else 0.0) * scale + shift
        return replace(self, weight=Const(self.weight.array * scale.reshape(-1, 1)), bias=Const(b))

    def to_int(self, weight: np.ndarray, weight_exp: int) -> IntDense:
        """The integer synapse with this connectivity and the given weights."""
        return IntDense(shape=self.shape, weight=Const(weight), weight_exp=weight_exp)

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        out = super().infer_shape(inputs, name)
        check_bias(name, self, out[0])
        return out


@dataclass(frozen=True, kw_only=True)
class IntDense(DenseMatrix):
    """a = floor(W_eff @ x * 2**weight_exp), x flattened in C order.  weight (out, in) int32.

    W_eff is Lava's weight pipeline applied to ``weight`` (SPEC.md §weights); the
    quantizer emits weights that the pipeline leaves unchanged.
    """

    OP = "int_dense"
    weight_exp: int = 0

    def identity_join(self) -> IntDense:
        """Passes each output of a split layer's part on to the same neuron, with this synapse's exponent."""
        (out,) = self.shape
        return IntDense(shape=(out,), weight=Const(np.eye(out, dtype=np.int32)), weight_exp=self.weight_exp)


# numerics


def dense(x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None) -> np.ndarray:
    """y = W·flatten(x) + b, in float64 on a batch (B, *shape) (SPEC.md §dense)."""
    y = x.reshape(x.shape[0], -1) @ weight.T
    return y if bias is None else y + bias


def dense_step(op: Dense, x: np.ndarray) -> np.ndarray:
    return dense(x, op.weight.array, None if op.bias is None else op.bias.array)
