"""Stage verifiers: the invariants every graph must hold after each pass (SPEC.md §Stages).

``verify(graph)`` collects every violation and raises one InvalidGraph carrying them all.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np

from snncc.errors import Diagnostic, InvalidGraph

from .arith import effective_weights
from .families import FAMILIES
from .graph import Graph, Stage
from .numerics import Numerics
from .op import Op, Shape
from .ops import (
    FLOAT_OPS,
    INT_OPS,
    LIF,
    READOUTS,
    BatchNorm,
    Conv2d,
    Delay,
    Dense,
    Input,
    IntConv2d,
    IntDelay,
    IntDense,
    IntInput,
    IntLIF,
    IntPartialSum,
    IntXyloLIF,
    Output,
    Pool2d,
)

ALLOWED: dict[Stage, tuple[type[Op], ...]] = {
    Stage.FLOAT: FLOAT_OPS,
    Stage.CANONICAL: (Input, Dense, Conv2d, LIF, Delay, Output),
    Stage.INTEGER: (*INT_OPS, Output),
}


def _entry(table: dict[type[Op], Any], op: Op) -> Any:
    """The table's entry for the op's class or its nearest base class that has one (None if none has)."""
    return next((table[cls] for cls in type(op).__mro__ if cls in table), None)


_ALLOWED_TABLES = {stage: dict.fromkeys(ops, True) for stage, ops in ALLOWED.items()}


def _allowed(op: Op, stage: Stage) -> bool:
    return _entry(_ALLOWED_TABLES[stage], op) is not None


def verify(graph: Graph, stage: Stage | None = None) -> Graph:
    """Check ``graph`` against its stage (or ``stage``); returns the graph for chaining."""
    stage = stage or graph.meta.stage
    diags: list[Diagnostic] = []
    if graph.meta.stage != stage:
        diags.append(
            Diagnostic("error", "GRF010", f"graph is at stage {graph.meta.stage.value}, expected {stage.value}")
        )
    if graph.meta.steps < 1:
        diags.append(Diagnostic("error", "GRF011", f"time steps must be at least 1, got {graph.meta.steps}"))
    for name, op in graph.nodes:
        if not _allowed(op, stage):
            diags.append(
                Diagnostic("error", "GRF012", f"op {op.OP!r} is not allowed at stage {stage.value}", node=name)
            )
    if not graph.of_type(Input, IntInput):
        diags.append(Diagnostic("error", "GRF013", "the graph has no input"))
    if not graph.of_type(Output):
        diags.append(Diagnostic("error", "GRF013", "the graph has no output"))
    if diags:
        raise InvalidGraph(diagnostics=diags)
    _check_shapes(graph)  # raises on the first structural error: later checks need shapes
    if stage is Stage.INTEGER:
        diags += _check_integer(graph)
    else:
        diags += _check_float_values(graph)
    if stage is not Stage.FLOAT:
        diags += _check_canonical_structure(graph, stage)
    diags += _check_outputs(graph)
    if diags:
        raise InvalidGraph(diagnostics=diags)
    return graph


def _check_shapes(graph: Graph) -> None:
    shapes: dict[str, Shape] = {}
    for name in graph.topo_order():
        op = graph[name]
        # a recurrent edge's source comes later in the order: its declared shape, checked there
        inputs = [graph[p].shape if graph.is_recurrent(p, name) else shapes[p] for p in graph.predecessors(name)]
        inferred = op.infer_shape(inputs, name)
        if tuple(inferred) != tuple(op.shape):
            raise InvalidGraph(
                f"declared shape {op.shape} but the inputs give {tuple(inferred)}", code="GRF004", node=name
            )
        shapes[name] = op.shape


def _check_float_values(graph: Graph) -> list[Diagnostic]:
    diags = []
    for name, op in graph.nodes:
        for field, const in op.consts().items():
            arr = const.array
            if not np.issubdtype(arr.dtype, np.number):
                diags.append(Diagnostic("error", "GRF020", f"{field} is not numeric", node=name))
            elif not np.all(np.isfinite(arr)):
                bad = int(np.size(arr) - np.count_nonzero(np.isfinite(arr)))
                diags.append(
                    Diagnostic(
                        "error",
                        "GRF021",
                        f"{field} holds {bad} NaN or infinite value(s)",
                        node=name,
                        hint="retrain or fix the checkpoint; snncc cannot quantize non-finite values",
                    )
                )
        for field, value in op.scalars().items():
            if isinstance(value, float) and not math.isfinite(value):
                diags.append(Diagnostic("error", "GRF021", f"{field} is {value}", node=name))
        check = _entry(FLOAT_CHECKS, op)
        if check is not None:
            diags += check(name, op)
    return diags


def _check_batchnorm(name: str, op: BatchNorm) -> list[Diagnostic]:
    if np.any(op.var.array + op.eps <= 0):
        return [Diagnostic("error", "GRF022", "batch-norm variance + eps must be positive", node=name)]
    return []


def _check_pool(name: str, op: Pool2d) -> list[Diagnostic]:
    if min(op.kernel + op.stride) < 1:
        return [Diagnostic("error", "GRF022", "pooling kernel and stride must be positive", node=name)]
    return []


def _check_lif_float(name: str, op: LIF) -> list[Diagnostic]:
    diags = []
    if op.spiking and not op.threshold > (op.v_reset if op.reset == "zero" else 0.0):
        diags.append(
            Diagnostic(
                "error",
                "GRF023",
                f"threshold {op.threshold} must be above the reset potential {op.v_reset if op.reset == 'zero' else 0.0}",
                node=name,
                hint="a neuron whose threshold is not above its reset potential fires forever or never",
            )
        )
    if not 0.0 <= op.beta <= 1.0:
        diags.append(Diagnostic("error", "GRF024", f"voltage decay factor beta={op.beta} is outside [0, 1]", node=name))
    if not 0.0 <= op.alpha <= 1.0:
        diags.append(
            Diagnostic("error", "GRF024", f"current decay factor alpha={op.alpha} is outside [0, 1]", node=name)
        )
    if op.fire not in (">=", ">") or op.reset not in ("zero", "subtract"):
        diags.append(Diagnostic("error", "GRF025", f"unknown fire rule {op.fire!r} or reset {op.reset!r}", node=name))
    return diags


def _layer(op: Op) -> bool:
    """A neuron layer: state, spikes, readouts (a relay is a neuron of none of these)."""
    return op.IS_NEURON and not op.IS_RELAY


def _check_canonical_structure(graph: Graph, stage: Stage) -> list[Diagnostic]:
    """One synapse op between neuron layers; neurons fed by synapses only; biases folded.

    By the ops' roles (ir/op.py): a synapse reads an input, a neuron layer or a relay."""
    diags = []
    for name, op in graph.nodes:
        preds = [graph[p] for p in graph.predecessors(name)]
        if op.IS_RELAY:
            diags += _check_partial_sum_structure(graph, name, preds)
        if op.HAS_STATE:  # a delay line: the axon delay of the synapses it feeds
            diags += _check_delay_structure(graph, name, preds)
        if op.IS_SYNAPSE:
            if len(preds) != 1 or not (preds[0].IS_INPUT or preds[0].IS_NEURON or preds[0].HAS_STATE):
                diags.append(
                    Diagnostic("error", "GRF030", "a synapse op must read exactly one input or neuron layer", node=name)
                )
            if stage is Stage.CANONICAL and op.bias is not None:
                diags.append(
                    Diagnostic(
                        "error", "GRF031", "canonical synapses carry no bias (it belongs to the neuron)", node=name
                    )
                )
            if not any(_layer(graph[s]) for s in graph.successors(name)):
                diags.append(Diagnostic("error", "GRF032", "a synapse op must feed a neuron layer", node=name))
        if _layer(op) and not all(p.IS_SYNAPSE for p in preds):
            diags.append(Diagnostic("error", "GRF030", "a neuron layer must be fed by synapse ops only", node=name))
        check = _entry(CANONICAL_CHECKS, op)
        if check is not None:
            diags += check(name, op)
    return diags


def _check_canonical_lif(name: str, op: LIF) -> list[Diagnostic]:
    if op.gain != 1.0 or op.v_reset != 0.0:
        return [Diagnostic("error", "GRF031", "canonical neurons have gain 1 and reset to 0", node=name)]
    return []


def _check_delay_structure(graph: Graph, name: str, preds: list[Op]) -> list[Diagnostic]:
    """A delay is the axon delay of the synapses it feeds: it reads one input or neuron layer (SPEC.md §int_delay)."""
    diags = []
    if len(preds) != 1 or not (preds[0].IS_INPUT or preds[0].IS_NEURON):
        diags.append(Diagnostic("error", "GRF030", "a delay reads exactly one input or neuron layer", node=name))
    if not all(graph[s].IS_SYNAPSE for s in graph.successors(name)):
        diags.append(Diagnostic("error", "GRF032", "a delay feeds synapse ops only", node=name))
    if any(graph.is_recurrent(p, name) for p in graph.predecessors(name)):
        diags.append(Diagnostic("error", "GRF007", "snncc does not delay a recurrent connection (yet)", node=name))
    return diags


def _check_partial_sum_structure(graph: Graph, name: str, preds: list[Op]) -> list[Diagnostic]:
    """A partial sum reads a neuron layer or a graded input and feeds synapse ops only (SPEC.md §int_partial_sum)."""
    diags = []
    reads_ok = len(preds) == 1 and (_layer(preds[0]) or (preds[0].IS_INPUT and preds[0].encoding == "graded"))
    if not reads_ok:
        diags.append(
            Diagnostic("error", "GRF030", "a partial sum reads exactly one neuron layer or graded input", node=name)
        )
    if not all(graph[s].IS_SYNAPSE for s in graph.successors(name)):
        diags.append(Diagnostic("error", "GRF032", "a partial sum feeds synapse ops only", node=name))
    return diags


def _check_outputs(graph: Graph) -> list[Diagnostic]:
    diags = []
    for name, op in graph.of_type(Output):
        preds = [graph[p] for p in graph.predecessors(name)]
        if len(preds) != 1 or not _layer(preds[0]):
            if graph.meta.stage is not Stage.FLOAT:
                diags.append(Diagnostic("error", "GRF040", "an output must read a neuron layer", node=name))
        elif op.readout in ("spike_count", "spike_steps") and not preds[0].spiking:
            diags.append(Diagnostic("error", "GRF041", "spike_count readout of a non-spiking layer", node=name))
        if op.readout not in READOUTS:
            diags.append(Diagnostic("error", "GRF005", f"unknown readout {op.readout!r}", node=name))
    return diags


def _check_integer(graph: Graph) -> list[Diagnostic]:
    n = graph.meta.numerics
    if n is None:
        return [Diagnostic("error", "GRF050", "integer graph has no numerics in its metadata")]
    family = FAMILIES.get(n.family)
    if family is None:
        return [
            Diagnostic("error", "GRF054", f"unknown numerics family {n.family!r} (families: {', '.join(FAMILIES)})")
        ]
    diags = []
    for name, op in graph.nodes:
        for field, const in op.consts().items():
            if not np.issubdtype(const.dtype, np.integer):
                diags.append(
                    Diagnostic("error", "GRF051", f"{field} has dtype {const.dtype}, expected integers", node=name)
                )
        check = _entry(INTEGER_CHECKS, op)
        if check is not None:
            diags += check(graph, name, op, n)
        diags += family.check_op(name, op, n)
    return diags + _check_split_parts(graph)


def _check_delayed_floor(graph: Graph, name: str, op: IntDense | IntConv2d, n: Numerics) -> list[Diagnostic]:
    """Behind an int_delay with several delays a negative exponent must floor nothing: Lava's DelayDense
    floors each delay's sum apart, which equals the one floor of SPEC.md §int_dense only then."""
    src = graph[graph.predecessors(name)[0]]
    if not isinstance(src, IntDelay) or op.weight_exp >= 0 or len(np.unique(src.delay.array)) < 2:
        return []
    if not np.any(effective_weights(op.weight.array, n) % (1 << -op.weight_exp)):
        return []
    return [
        Diagnostic(
            "error",
            "GRF053",
            f"weight_exp {op.weight_exp} behind a delay: the weights must be multiples of 2^{-op.weight_exp} "
            "(Lava's DelayDense floors each delay's sum separately)",
            node=name,
            hint="recompile: quantize gives such synapses an exponent of 0 or above",
        )
    ]


def _check_split_parts(graph: Graph) -> list[Diagnostic]:
    """The parts of one split layer (partial sums of one source that reach one neuron layer) read
    disjoint columns or channels: two parts reading the same ones would count those inputs twice."""
    groups: dict[tuple[str, tuple[str, ...]], list[tuple[int, int, str]]] = {}
    for name, op in graph.of_type(IntPartialSum):
        sources = graph.predecessors(name)
        sinks = tuple(sorted({n for s in graph.successors(name) for n in graph.successors(s)}))
        if len(sources) == 1:
            groups.setdefault((sources[0], sinks), []).append((op.start, op.start + op.width, name))
    diags = []
    for parts in groups.values():
        parts.sort()
        for (_, end, first), (start, _, second) in itertools.pairwise(parts):
            if start < end:
                diags.append(
                    Diagnostic(
                        "error",
                        "GRF056",
                        f"reads inputs from {start} that {first} also reads (up to {end - 1}): the parts of a "
                        "split layer read disjoint inputs, or those inputs would count twice",
                        node=second,
                    )
                )
    return diags


def _check_synapse_ints(graph: Graph, name: str, op: IntDense | IntConv2d, n: Numerics) -> list[Diagnostic]:
    weight = _range(name, "weight", op.weight.array, -(n.weight_max + 1), n.weight_max)
    exp = _range(name, "weight_exp", np.array(op.weight_exp), n.weight_exp_min, n.weight_exp_max)
    return weight + exp + _check_delayed_floor(graph, name, op, n)


def _check_delay_ints(graph: Graph, name: str, op: IntDelay, n: Numerics) -> list[Diagnostic]:
    return _range(name, "delay", op.delay.array, 0, n.max_delay)


def _check_partial_sum_ints(graph: Graph, name: str, op: IntPartialSum, n: Numerics) -> list[Diagnostic]:
    return _range(name, "weight", op.weight.array, -(n.weight_max + 1), n.weight_max) + _check_payload(graph, name, op)


def _check_input_ints(graph: Graph, name: str, op: IntInput, n: Numerics) -> list[Diagnostic]:
    if not 1 <= op.bits <= 31:
        return [Diagnostic("error", "GRF052", f"input width {op.bits} bits is outside 1..31", node=name)]
    return []


def _check_int_lif(graph: Graph, name: str, op: IntLIF, n: Numerics) -> list[Diagnostic]:
    unity = n.decay_unity
    diags = []
    diags += _range(name, "du", np.array(op.du), -n.du_offset, unity - n.du_offset)
    diags += _range(name, "dv", np.array(op.dv), 0, unity)
    diags += _range(name, "vth", np.array(op.vth), 0, n.vth_max)
    diags += _range(name, "bias_mant", op.bias_mant.array, -n.bias_mant_max - 1, n.bias_mant_max)
    diags += _range(name, "bias_exp", op.bias_exp.array, n.bias_exp_min, n.bias_exp_max)
    diags += _range(name, "v_init", op.v_init.array, -n.v_max, n.v_max)
    if op.u_init is not None:  # u's own range, (-2^23, 2^23] (SPEC.md §int_lif)
        diags += _range(name, "u_init", op.u_init.array, -n.v_max, n.v_max + 1)
    if op.v_floor is not None:
        diags += _range(name, "v_floor", np.array(op.v_floor), -n.v_max, n.v_max)
    if op.reset not in ("zero", "subtract"):
        diags.append(Diagnostic("error", "GRF025", f"unknown reset {op.reset!r}", node=name))
    return diags


def _check_payload(graph: Graph, name: str, op: IntPartialSum) -> list[Diagnostic]:
    """No input can drive |p| to 2^(payload_bits − 1): each weight's magnitude after the weight
    pipeline is at most |w| + 1 (truncation), times the largest input magnitude (a conv part's output
    channel sums its whole kernel: padding only drops terms)."""
    src = graph[graph.predecessors(name)[0]]
    largest_input = 1 << src.bits if src.IS_INPUT else 1
    weight = op.weight.array.astype(np.int64)  # (out, width) or a conv part's (C_out, width, kH, kW)
    bound = int((np.abs(weight) + 1).reshape(len(weight), -1).sum(axis=1).max(initial=0)) * largest_input
    if not 1 <= op.payload_bits <= 32 or bound >= 1 << (op.payload_bits - 1):
        return [
            Diagnostic(
                "error",
                "GRF055",
                f"partial sums up to {bound} do not fit a {op.payload_bits}-bit graded payload",
                node=name,
                hint="split the fan-in into narrower parts",
            )
        ]
    return []


def _check_int_xylo_lif(graph: Graph, name: str, op: IntXyloLIF, n: Numerics) -> list[Diagnostic]:
    diags = []
    dash_max = (1 << n.decay_bits) - 1
    diags += _range(name, "dash_syn", np.array(op.dash_syn), 0, dash_max)
    diags += _range(name, "dash_mem", np.array(op.dash_mem), 0, dash_max)
    diags += _range(name, "vth", np.array(op.vth), 1, n.vth_max)  # vth >= 1: the spike loop ends
    diags += _range(name, "bias", op.bias.array, -n.bias_mant_max - 1, n.bias_mant_max)
    diags += _range(name, "max_spikes", np.array(op.max_spikes), 1, 31)
    return diags


def _range(name: str, field: str, values: np.ndarray, lo: int, hi: int) -> list[Diagnostic]:
    if values.size == 0 or not np.issubdtype(values.dtype, np.integer):
        return []  # a float array (NaN included) is GRF051, reported with every const's dtype
    vmin, vmax = int(values.min()), int(values.max())
    if vmin < lo or vmax > hi:
        return [
            Diagnostic(
                "error",
                "GRF053",
                f"{field} spans [{vmin}, {vmax}] outside the format's range [{lo}, {hi}]",
                node=name,
            )
        ]
    return []


# each op's own value checks, by class (found along its class hierarchy: CLIF is checked as an LIF)
FLOAT_CHECKS: dict[type[Op], Any] = {LIF: _check_lif_float, BatchNorm: _check_batchnorm, Pool2d: _check_pool}
CANONICAL_CHECKS: dict[type[Op], Any] = {LIF: _check_canonical_lif}
INTEGER_CHECKS: dict[type[Op], Any] = {
    IntDense: _check_synapse_ints,
    IntConv2d: _check_synapse_ints,
    IntLIF: _check_int_lif,
    IntXyloLIF: _check_int_xylo_lif,
    IntPartialSum: _check_partial_sum_ints,
    IntInput: _check_input_ints,
    IntDelay: _check_delay_ints,
}
