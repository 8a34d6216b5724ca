"""The stateless float ops' reference steps, by op class (each defined in its op module, ir/ops/).

What the compiler evaluates (folding linear chains, the ANN front end) and floatsim runs: one
function ``(op, x) -> y`` on a batch (B, *shape) in float64.  The neurons' steps carry state and
are looked up by each simulator's own lowering table.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .op import Op
from .ops import AvgPool2d, BatchNorm, Conv2d, Dense, Flatten, MaxPool2d, SumPool2d
from .ops.batchnorm import batchnorm, batchnorm_step
from .ops.conv2d import conv2d, conv2d_step
from .ops.dense import dense, dense_step
from .ops.flatten import flatten, flatten_step
from .ops.pool import avgpool2d, avgpool2d_step, maxpool2d, maxpool2d_step, sumpool2d, sumpool2d_step

FloatStep = Callable[[Op, np.ndarray], np.ndarray]

FLOAT_STEPS: dict[type[Op], FloatStep] = {
    Dense: dense_step,
    Conv2d: conv2d_step,
    AvgPool2d: avgpool2d_step,
    SumPool2d: sumpool2d_step,
    MaxPool2d: maxpool2d_step,
    Flatten: flatten_step,
    BatchNorm: batchnorm_step,
}


def apply(op: Op, x: np.ndarray) -> np.ndarray:
    """The output of one stateless float op on a batch x."""
    for cls in type(op).__mro__:
        if cls in FLOAT_STEPS:
            return FLOAT_STEPS[cls](op, x)
    raise TypeError(f"not a stateless float op: {op.OP}")


__all__ = [
    "FLOAT_STEPS",
    "apply",
    "avgpool2d",
    "batchnorm",
    "conv2d",
    "dense",
    "flatten",
    "maxpool2d",
    "sumpool2d",
]
