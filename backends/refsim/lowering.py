"""refsim's lowering tables: how each dialect runs each op (ir/lowering.py).

The Loihi dialect (simulator.py) and the Xylo dialect (xylo.py) look every op up here; the steps are
the ops' own numerics (snncc.ir.ops), run as they are or by refsim's kernels (kernels.py, fused.py),
which are optimized implementations tested equal to them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from snncc.ir import (
    FLOAT_OPS,
    IntCLIF,
    IntConv2d,
    IntDelay,
    IntDense,
    IntInput,
    IntLIF,
    IntPartialSum,
    IntXyloLIF,
    Output,
)
from snncc.ir.lowering import FED, READ, LoweringTable, Refusal, refuse
from snncc.ir.ops.clif import int_clif_initial_state, int_clif_step
from snncc.ir.ops.delay import delay_step
from snncc.ir.ops.lif import int_lif_initial_state, int_lif_step

from . import kernels


@dataclass(frozen=True)
class Synapse:
    """A synapse op's kernel, prepared once per run: (weight, max_input, op) on numpy, or with a torch device."""

    kernel: Callable[..., Any]
    torch_kernel: Callable[..., Any]


@dataclass(frozen=True)
class Neuron:
    """A neuron layer's initial state and step (its op module's numerics)."""

    initial_state: Callable[..., Any]
    step: Callable[..., Any]


RELAY = "relay"  # a stateless relay of graded payloads (int_partial_sum: partial_sum.py)
EVENTS = "events"  # a Xylo synapse: passes its source's events on; the neuron delivers them

NOT_INTEGER = Refusal("GRF012", "refsim runs integer graphs only", "compile the model first (snncc compile)")

LOIHI: LoweringTable[Synapse | Neuron | Callable[..., Any] | str] = LoweringTable(
    "refsim (loihi)",
    {
        **refuse(FLOAT_OPS, NOT_INTEGER),  # first: Output, a float op too, has its own entry
        IntInput: FED,
        Output: READ,
        IntDense: Synapse(
            lambda w, most, op: kernels.DenseKernel.prepare(w, most),
            lambda w, most, op, device: kernels.TorchDenseKernel.prepare(w, most, device),
        ),
        IntConv2d: Synapse(kernels.Conv2dKernel.prepare, kernels.TorchConv2dKernel.prepare),
        IntLIF: Neuron(int_lif_initial_state, int_lif_step),
        IntCLIF: Neuron(int_clif_initial_state, int_clif_step),
        IntPartialSum: RELAY,
        IntDelay: delay_step,  # a delay line moves values: the op's own step, on numpy or torch
        IntXyloLIF: Refusal("GRF054", "int_xylo_lif runs in the xylo numerics family only"),
    },
)

XYLO: LoweringTable[str] = LoweringTable(
    "refsim (xylo)",
    {
        **refuse(FLOAT_OPS, NOT_INTEGER),  # first: Output, a float op too, has its own entry
        IntInput: FED,
        Output: READ,
        IntDense: EVENTS,
        IntXyloLIF: "xylo_lif",
        **refuse(
            (IntConv2d, IntLIF, IntPartialSum, IntDelay),
            Refusal("GRF054", "the xylo family runs int_dense into int_xylo_lif only"),
        ),
    },
)
