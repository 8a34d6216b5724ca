"""snncc's graph IR: frozen ops in an immutable graph, per-stage verifiers, JSON+npz storage.

The written spec of every op is ir/SPEC.md.
"""

from .const import Const
from .graph import Edge, Graph, GraphBuilder, GraphMeta, Stage
from .numerics import LOIHI, XYLO, Numerics
from .op import Op, Shape
from .ops import (
    CLIF,
    FLOAT_OPS,
    INT_OPS,
    LIF,
    READOUTS,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Delay,
    Dense,
    Flatten,
    Input,
    IntCLIF,
    IntConv2d,
    IntDelay,
    IntDense,
    IntInput,
    IntLIF,
    IntPartialSum,
    IntXyloLIF,
    MaxPool2d,
    Output,
    SumPool2d,
)
from .printer import print_graph
from .serialize import from_json, load, save, to_json
from .stages import verify

ALL_OPS = (*FLOAT_OPS, *INT_OPS)

__all__ = [
    "ALL_OPS",
    "CLIF",
    "FLOAT_OPS",
    "INT_OPS",
    "LIF",
    "LOIHI",
    "READOUTS",
    "XYLO",
    "AvgPool2d",
    "BatchNorm",
    "Const",
    "Conv2d",
    "Delay",
    "Dense",
    "Edge",
    "Flatten",
    "Graph",
    "GraphBuilder",
    "GraphMeta",
    "Input",
    "IntCLIF",
    "IntConv2d",
    "IntDelay",
    "IntDense",
    "IntInput",
    "IntLIF",
    "IntPartialSum",
    "IntXyloLIF",
    "MaxPool2d",
    "Numerics",
    "Op",
    "Output",
    "Shape",
    "Stage",
    "SumPool2d",
    "from_json",
    "load",
    "print_graph",
    "save",
    "to_json",
    "verify",
]
