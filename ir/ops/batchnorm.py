"""Inference-mode batch norm of the float dialect (SPEC.md §batchnorm)."""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..const import Const
from ..op import Op, Shape, expect_inputs, shape_mismatch


@dataclass(frozen=True, kw_only=True)
class BatchNorm(Op):
    """Inference-mode batch norm over axis 0 of a sample: (x - mean)/sqrt(var + eps)*weight + bias."""

    OP = "batchnorm"
    mean: Const
    var: Const
    weight: Const
    bias: Const
    eps: float = 1e-5

    def with_gain(self, gain: np.ndarray) -> BatchNorm:
        return replace(self, weight=Const(self.weight.array * gain), bias=Const(self.bias.array * gain))

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        scale = self.weight.array / np.sqrt(self.var.array + self.eps)
        return scale, self.bias.array - self.mean.array * scale

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        if not inputs[0] or inputs[0][0] != self.mean.shape[0]:
            raise shape_mismatch(name, self, (self.mean.shape[0],), inputs[0])
        return inputs[0]


# numerics


def batchnorm(
    x: np.ndarray, mean: np.ndarray, var: np.ndarray, weight: np.ndarray, bias: np.ndarray, eps: float
) -> np.ndarray:
    """(x - mean)/√(var + eps)·weight + bias, per channel (axis 0 of a sample)."""
    per_channel = (-1,) + (1,) * (x.ndim - 2)

    def channel(a: np.ndarray) -> np.ndarray:
        return a.reshape(per_channel)

    return (x - channel(mean)) / np.sqrt(channel(var) + eps) * channel(weight) + channel(bias)


def batchnorm_step(op: BatchNorm, x: np.ndarray) -> np.ndarray:
    return batchnorm(x, op.mean.array, op.var.array, op.weight.array, op.bias.array, op.eps)
