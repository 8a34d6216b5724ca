"""RefSim: the integer reference simulator, the executable form of ir/SPEC.md §1 and §3.

Aligned time (SPEC.md §1.1): at step t every layer processes step t of the sample, so a
synapse op reads its source's output of the same step, except a recurrent synapse, which reads
its layer's spikes of step t − 1 (none at t = 1).  All samples of a batch run at once, on the shared
interpreter (backends/interpreter.py): this module supplies the Loihi dialect, xylo.py the Xylo one.

``RefSim(device=...)`` runs the same code on torch tensors (a GPU where torch sees one, or
"cpu"); the default runs on numpy arrays.  Both are bit-identical (tests/property).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, ClassVar

import numpy as np

from snncc.backends.base import Record, Trace
from snncc.backends.int_inputs import check_int_inputs, input_events, is_per_step
from snncc.backends.interpreter import EVENT_COUNTERS, Dialect, Layer, NeuronStep, interpret
from snncc.errors import Diagnostic, InvalidGraph
from snncc.ir import Graph, IntConv2d, IntDense, IntInput, IntLIF, IntPartialSum, Numerics, Op, Stage, verify
from snncc.ir.arith import accumulate, shift, wrap_int32
from snncc.ir.ops.lif import IntLIFState, effective_bias

from . import fused, kernels
from .lowering import LOIHI, RELAY
from .partial_sum import partial_sum_step, prepare_partial_sum
from .weights import effective_weights
from .xylo import XyloDialect


class RefSim:
    name: ClassVar[str] = "refsim"

    def __init__(self, device: str | None = None) -> None:
        self.device = device  # None: numpy; else a torch device name ("cuda", "cuda:1", "cpu")

    def check(self, graph: Graph) -> list[Diagnostic]:
        try:
            verify(graph, Stage.INTEGER)
        except InvalidGraph as err:
            return list(err.diagnostics)
        return []

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        verify(graph, Stage.INTEGER)
        start = time.perf_counter()
        steps = graph.meta.steps
        values = check_int_inputs(graph, inputs, narrow=True)
        batch = len(next(iter(values.values())))
        constant = {k for k, v in values.items() if not is_per_step(graph[k], v)}
        dialect = DIALECTS[graph.meta.numerics.family](graph, self.device)
        time_major = {k: _time_major(graph[k], v) for k, v in values.items()}
        trace = interpret(graph, dialect, time_major, constant, batch, record)
        return replace(
            trace,
            input_events={k: input_events(graph[k], v, steps) for k, v in values.items()},
            wall_seconds=time.perf_counter() - start,
        )


# the arithmetic of each numerics family (ir/families.py): a new family adds its dialect here
DIALECTS: dict[str, Callable[[Graph, str | None], Dialect]] = {
    "loihi": lambda graph, device: LoihiDialect(graph, _device(device)),
    "xylo": lambda graph, _device: XyloDialect(graph),  # numpy only
}


def _time_major(op: IntInput, x: np.ndarray) -> np.ndarray:
    """Per-step inputs as contiguous (steps, batch, ...) so that each step reads one block."""
    return np.ascontiguousarray(np.moveaxis(x, 1, 0)) if is_per_step(op, x) else x


def _device(name: str | None):
    if name is None:
        return None
    import torch

    from snncc.errors import BackendError

    try:
        device = torch.device(name)
    except RuntimeError as exc:
        raise BackendError(f"unknown torch device {name!r}", code="BKD030", hint="e.g. cuda, cuda:0, cpu") from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise BackendError(
            f"torch sees no GPU for device {name!r}", code="BKD031", hint="leave --device out to run on the CPU"
        )
    return device


def _kernel(graph: Graph, name: str, op: IntDense | IntConv2d, numerics: Numerics, device=None):
    """The synapse op's kernel, prepared once per run for the largest input its source can send."""
    src = graph[graph.source_of(name)]
    max_input = 1  # spikes and bit planes
    if src.IS_INPUT and src.encoding == "graded":
        max_input = 1 << src.bits  # covers signed and unsigned values of that width
    if LOIHI[src] is RELAY:
        max_input = 1 << src.payload_bits
    weight = effective_weights(op.weight.array, numerics)
    if device is not None:
        return LOIHI[op].torch_kernel(weight, max_input, op, device)
    return LOIHI[op].kernel(weight, max_input, op)


class LoihiDialect:
    """refsim's arithmetic for the shared interpreter (Loihi numerics): int64 arrays holding Lava's int32
    values, on numpy or, with a torch device, on torch tensors.  Prepared once per run and graph."""

    value_dtype: ClassVar[type] = np.int64
    message_dtype: ClassVar[type] = np.bool_  # a layer sends its spikes

    def __init__(self, graph: Graph, device=None) -> None:
        problems = LOIHI.diagnostics(graph)
        if problems:
            raise InvalidGraph(diagnostics=problems)
        self.graph, self.device = graph, device
        self.numerics: Numerics = graph.meta.numerics  # type: ignore[assignment]
        self.bias = {n: self.put(effective_bias(op)) for n, op in graph.of_type(IntLIF)}
        self.kernels = {n: _kernel(graph, n, op, self.numerics, device) for n, op in graph.of_type(IntDense, IntConv2d)}
        self.kernels |= {
            n: prepare_partial_sum(op, graph[graph.predecessors(n)[0]], self.numerics, device)
            for n, op in graph.of_type(IntPartialSum)
        }
        self.fused = {  # this run's compiled LIF steps (numpy only)
            n: fused.FusedLIF(op, effective_bias(op), self.numerics)
            for n, op in graph.of_type(IntLIF)
            if device is None and fused.supports(op)
        }
        self.fused_by_op = {id(graph[n]): step for n, step in self.fused.items()}

    def put(self, x: np.ndarray):
        if self.device is None:
            return x
        import torch

        return torch.as_tensor(np.ascontiguousarray(x), device=self.device)

    def get(self, x) -> np.ndarray:
        if self.device is None:  # int32 state (fused.FusedLIF.narrow) leaves as int64, as all values do
            return np.array(x, dtype=np.int64) if x.dtype == np.int32 else np.array(x)
        return x.detach().cpu().numpy().copy()

    def initial_state(self, op: IntLIF | IntPartialSum, batch: int) -> IntLIFState | None:
        if LOIHI[op] is RELAY:  # no state
            return None
        state = IntLIFState(*(None if a is None else self.put(a) for a in LOIHI[op].initial_state(op, batch)))
        step = self.fused_by_op.get(id(op))
        return state if step is None else step.narrow(state)

    def stateless(self, name: str, op: IntDense | IntConv2d, x: np.ndarray) -> np.ndarray:
        """This step's int32 output of one synapse op (what Lava's port carries)."""
        kernel = self.kernels[name]
        src = self.graph[self.graph.source_of(name)]
        if src.IS_INPUT and src.encoding == "bitplane":
            # one binary copy of the synapse per bit plane, exponent + b; the LIF sums the ports.
            # Planes without a set bit contribute nothing and are skipped.
            int8 = getattr(kernel, "int8", None)
            if int8 is not None and int8.fits_graded():
                return int8.bitplanes(x.reshape(x.shape[0], -1), src.bits, op.weight_exp)
            if src.bits == 1:  # one plane: binary spikes
                return kernels.binary_port(kernel, x, op.weight_exp)
            total = self.put(np.zeros((x.shape[0], *op.shape), dtype=np.int64))
            for b in range(src.bits):
                plane = (x >> b) & 1
                if plane.any():
                    total += wrap_int32(shift(kernel(plane, binary=True), op.weight_exp + b))
            return wrap_int32(total)
        if src.IS_INPUT or src.IS_RELAY:  # graded messages: Lava's int32 dot product, int32 shift
            return wrap_int32(shift(wrap_int32(kernel(x)), op.weight_exp))
        # binary path: sum of the weights of the active inputs
        return kernels.binary_port(kernel, x, op.weight_exp)

    def stateful(self, name: str, op: Op, state: Any, x: np.ndarray) -> tuple[np.ndarray, Any]:
        """A delay line (SPEC.md §int_delay): the op's own step."""
        return LOIHI[op](op, state, x)

    def neuron(self, name: str, op: IntLIF | IntPartialSum, inputs: list[np.ndarray], layer: Layer) -> NeuronStep:
        if op.IS_RELAY:
            return self._partial_sum(name, op, inputs[0], layer)
        # Lava's a_in: the unwrapped sum of the ports (int32 ports summed in int64, so wraps are counted)
        total = kernels.unwrapped_port_sum([p.reshape(layer.batch, *op.shape) for p in inputs])
        counters = layer.events
        if name in self.fused:  # one compiled pass, same arithmetic
            spikes, events = self.fused[name].step(total, layer.state, layer.counts, layer.v_sum)
            for key, count in zip(EVENT_COUNTERS, events, strict=True):
                counters[key] += count
        else:
            a, acc_overflowed = accumulate(total, self.numerics)  # the dendritic accumulator's bound
            spikes, layer.state, ev = LOIHI[op].step(a, layer.state, op, self.bias[name], self.numerics)
            counters["u_wraps"] += int(ev.u_wrapped.sum())
            counters["v_saturations"] += int(ev.v_saturated.sum())
            counters["int32_wraps"] += int((ev.int32_wrapped | (wrap_int32(total) != total)).sum())
            counters["acc_overflows"] += int(acc_overflowed.sum())
            counters["active_updates"] += int(ev.active.sum())
            layer.tally(spikes, layer.state.v)
        return NeuronStep(spikes, layer.state.v, layer.state.u, spikes)

    def _partial_sum(self, name: str, op: IntPartialSum, x: np.ndarray, layer: Layer) -> NeuronStep:
        """SPEC.md §int_partial_sum: the part's payload p, sent as a graded spike when nonzero (a zero
        sum sends nothing on the chip); recorded as the part's v, with no spikes or u of its own."""
        p = partial_sum_step(self.kernels[name], op, self.graph[self.graph.predecessors(name)[0]], x)
        sent = p != 0
        layer.counts += sent
        layer.events["active_updates"] += int(sent.sum())
        return NeuronStep(spikes=None, v=p, u=None, message=p)
