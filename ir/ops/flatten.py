"""Flatten: a reshape of one sample to a vector (SPEC.md §flatten)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..op import Op, Shape, expect_inputs


@dataclass(frozen=True, kw_only=True)
class Flatten(Op):
    """Reshape one sample to a vector in C order."""

    OP = "flatten"
    IS_RESHAPE = True

    def infer_shape(self, inputs: list[Shape], name: str) -> Shape:
        expect_inputs(name, self, inputs)
        return (int(np.prod(inputs[0])),)


# numerics


def flatten(x: np.ndarray) -> np.ndarray:
    """One vector per sample of a batch, in C order."""
    return x.reshape(x.shape[0], -1)


def flatten_step(op: Flatten, x: np.ndarray) -> np.ndarray:
    return flatten(x)
