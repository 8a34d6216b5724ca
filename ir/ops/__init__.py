"""The op kit: one module per op, holding its float and integer forms (SPEC.md has their equations).

The float dialect is what importers produce (FLOAT) and quantization consumes (CANONICAL); the
integer dialect is exactly what the reference simulator and the hardware execute (INTEGER).

Each module holds, for its op: the frozen dataclass(es) with OP, the role flags of ir/op.py
(IS_NEURON, IS_SYNAPSE, IS_INPUT, IS_OUTPUT, IS_RELAY: the structure rules and backends read them), the fields and ``infer_shape`` (the op's verifier);
and at its end, under ``# numerics``, the op's numerics definition as pure functions: the float
step, the integer step and their state, which the compiler and every simulator read from here
(shared integer arithmetic: ir/arith.py; refsim's kernels are optimized forms tested equal to them).

Adding an op (e.g. a delay) touches:
1. ir/ops/<op>.py: the classes and, under ``# numerics``, the step functions;
2. this file: import it, list it in FLOAT_OPS or INT_OPS (ALL_OPS, the serializer and the stage
   verifiers follow) and __all__; ir/__init__.py: export it;
3. one entry in each lowering table (ir/lowering.py: a lowering, or a Refusal with a code of
   snncc/error_codes.py): backends/floatsim/sim.py TABLE, backends/refsim/lowering.py LOIHI and XYLO,
   backends/lava/lowering.py LAVA, backends/nengo_loihi/backend.py TABLE, backends/xylosim/backend.py
   TABLE, snncc/exporters/nir.py TABLE, snncc/exporters/netx.py NETX, snncc/sanafe_export.py TABLE.
   Tables of the other dialect need nothing: integer backends and exporters refuse every float op
   by ``refuse(FLOAT_OPS, ...)``, floatsim and the NIR export every integer op by ``refuse(INT_OPS, ...)``.
   A stateless float op the compiler evaluates also goes into ir/float_steps.py FLOAT_STEPS;
4. ir/stages.py, where the op needs it: ALLOWED[Stage.CANONICAL] for a float op quantization
   consumes, and INTEGER_CHECKS for an integer op whose fields have ranges set by the numerics
   (structure rules read the roles, so they need nothing);
   An op with state that is not a neuron layer sets HAS_STATE (ir/op.py): the interpreter keeps its
   state and the simulators' tables give its step (state, x) -> (y, state) (delay.py); nengo-loihi,
   xylosim and SANA-FE refuse any op they have no entry for (their table's default).
5. ir/SPEC.md: its section (tests/unit/test_spec_sync.py compares the fields).
tests/unit/test_op_lowering.py fails until every table has an entry for it.
"""

from __future__ import annotations

from ..op import Op
from .batchnorm import BatchNorm
from .clif import CLIF, IntCLIF
from .conv2d import Conv2d, IntConv2d
from .delay import Delay, IntDelay
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
    Delay,
    LIF,
    CLIF,
    Output,
)
INT_OPS: tuple[type[Op], ...] = (IntInput, IntDense, IntConv2d, IntLIF, IntCLIF, IntXyloLIF, IntPartialSum, IntDelay)

__all__ = [
    "CLIF",
    "ENCODINGS",
    "FLOAT_OPS",
    "INT_OPS",
    "LIF",
    "READOUTS",
    "STEP_READOUTS",
    "AvgPool2d",
    "BatchNorm",
    "Conv2d",
    "Delay",
    "Dense",
    "Flatten",
    "Input",
    "InputEncoding",
    "IntCLIF",
    "IntConv2d",
    "IntDelay",
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
