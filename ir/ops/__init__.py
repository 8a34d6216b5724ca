"""The op kit: one module per op, holding its float and integer forms (SPEC.md has their equations).

The float dialect is what importers produce (FLOAT) and quantization consumes (CANONICAL); the
integer dialect is exactly what the reference simulator and the hardware execute (INTEGER).
"""

from __future__ import annotations

from ..op import Op
from .batchnorm import BatchNorm
from .clif import CLIF, IntCLIF
from .conv2d import Conv2d, IntConv2d
from .dense import Dense, IntDense
from .flatten import Flatten
from .input import ENCODINGS, Input, InputEncoding, IntInput
from .lif import LIF, IntLIF
from .output import READOUTS, STEP_READOUTS, Output, Readout
from .partial_sum import IntPartialSum
from .pool import AvgPool2d, MaxPool2d, Pool2d, SumPool2d
from .xylo_lif import IntXyloLIF

FLOAT_OPS: tuple[type[Op], ...] = (
    Input,
    Dense,
    Conv2d,
    AvgPool2d,
    SumPool2d,
    MaxPool2d,
    Flatten,
    BatchNorm,
    LIF,
    CLIF,
    Output,
)
INT_OPS: tuple[type[Op], ...] = (IntInput, IntDense, IntConv2d, IntLIF, IntCLIF, IntXyloLIF, IntPartialSum)
SYNAPSE_OPS_INT: tuple[type[Op], ...] = (IntDense, IntConv2d)

__all__ = [
    "CLIF",
    "ENCODINGS",
    "FLOAT_OPS",
    "INT_OPS",
    "LIF",
    "READOUTS",
    "STEP_READOUTS",
    "SYNAPSE_OPS_INT",
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Dense",
    "Flatten",
    "Input",
    "InputEncoding",
    "IntCLIF",
    "IntConv2d",
    "IntDense",
    "IntInput",
    "IntLIF",
    "IntPartialSum",
    "IntXyloLIF",
    "MaxPool2d",
    "Output",
    "Pool2d",
    "Readout",
    "SumPool2d",
]
