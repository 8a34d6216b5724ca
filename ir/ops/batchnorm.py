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
