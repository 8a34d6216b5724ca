"""RefSim: the integer reference simulator, the executable form of ir/SPEC.md §1 and §3.

Aligned time (SPEC.md §1.1): at step t every layer processes step t of the sample, so a
synapse op reads its source's output of the same step, except a recurrent synapse, which reads
its layer's spikes of step t − 1 (none at t = 1).  All samples of a batch run at once.

``RefSim(device=...)`` runs the same code on torch tensors (a GPU where torch sees one, or
"cpu"); the default runs on numpy arrays.  Both are bit-identical (tests/property).
"""

from __future__ import annotations

import time
from typing import ClassVar

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace
from snncc.backends.int_inputs import check_int_inputs, input_events, is_per_step
from snncc.errors import Diagnostic, InvalidGraph
from snncc.ir import Graph, IntConv2d, IntDense, IntInput, IntLIF, IntPartialSum, Numerics, Output, Stage, verify
from snncc.ir.ops_float import STEP_READOUTS

from . import fused, kernels
from .arith import effective_weights, shift, wrap_int32
from .lif import LIFState, effective_bias, initial_state, lif_step
from .partial_sum import PartialSums
from .xylo import run_xylo


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
        if graph.meta.numerics.family == "xylo":
            return run_xylo(graph, inputs, record)
        start = time.perf_counter()
        steps = graph.meta.steps
        values = check_int_inputs(graph, inputs)
        batch = len(next(iter(values.values())))
        constant = {k for k, v in values.items() if not is_per_step(graph[k], v)}
        run = _Run(graph, batch, record, constant_inputs=constant, device=_device(self.device))
        per_step = {k: _time_major(graph[k], v) for k, v in values.items()}
        for t in range(steps):
            run.step({k: run.arrays.put(v[t] if k not in constant else v) for k, v in per_step.items()})
        input_counts = {k: input_events(graph[k], v, steps) for k, v in values.items()}
        return run.trace(time.perf_counter() - start, input_counts)


def _time_major(op: IntInput, x: np.ndarray) -> np.ndarray:
    """Per-step inputs as contiguous (steps, batch, ...) so that each step reads one block; bit-plane
    values of up to 8 bits as uint8 (their planes are extracted every step)."""
    if op.encoding == "bitplane" and op.bits <= 8 and not op.signed:
        x = x.astype(np.uint8)
    return np.ascontiguousarray(np.moveaxis(x, 1, 0)) if is_per_step(op, x) else x


def _bitplanes_as_graded(kernel: kernels.DenseKernel, x: np.ndarray, bits: int, weight_exp: int) -> np.ndarray:
    """The bit-plane synapse sum_b wrap32(shift(W @ plane_b, e + b)), wrapped, in one graded product.

    wrap32 is reduction mod 2^32, so the sum of wrapped terms wraps like the unwrapped sum; and for
    e + b >= 0 the shift is a multiplication, so those planes add up to (W @ (x >> s)) · 2^(e+s) with
    s = max(0, -e).  Only the planes b < s (floor shifts, not linear) are summed one by one.
    """
    s = max(0, -weight_exp)
    total = np.zeros((x.shape[0], kernel.weight_t.shape[1]), dtype=np.int64)
    if bits > s:
        total += kernel.int8.graded(x >> s, bits - s) << (weight_exp + s)
    for b in range(min(s, bits)):
        plane = (x >> b) & 1
        if plane.any():
            total += shift(kernel(plane, binary=True), weight_exp + b)
    return wrap_int32(total)


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


class _Arrays:
    """Moves arrays between numpy (the Trace's type) and where the run computes."""

    def __init__(self, device) -> None:
        self.device = device

    def put(self, x: np.ndarray):
        if self.device is None:
            return x
        import torch

        return torch.as_tensor(np.ascontiguousarray(x), device=self.device)

    def get(self, x) -> np.ndarray:
        """A numpy copy (never a view of state that later steps update in place)."""
        return np.array(x) if self.device is None else x.detach().cpu().numpy().copy()

    def zeros(self, shape: tuple[int, ...]):
        return self.put(np.zeros(shape, dtype=np.int64))


def _kernel(graph: Graph, name: str, op: IntDense | IntConv2d, numerics: Numerics, device=None):
    """The synapse op's kernel, prepared once per run for the largest input its source can send."""
    src = graph[graph.predecessors(name)[0]]
    max_input = 1  # spikes and bit planes
    if isinstance(src, IntInput) and src.encoding == "graded":
        max_input = 1 << src.bits  # covers signed and unsigned values of that width
    if isinstance(src, IntPartialSum):
        max_input = 1 << src.payload_bits
    weight = effective_weights(op.weight.array, numerics)
    if device is not None:
        if isinstance(op, IntDense):
            return kernels.TorchDenseKernel.prepare(weight, max_input, device)
        return kernels.TorchConv2dKernel.prepare(weight, max_input, op, device)
    if isinstance(op, IntDense):
        return kernels.DenseKernel.prepare(weight, max_input)
    return kernels.Conv2dKernel.prepare(weight, max_input, op)


class _Run:
    """Mutable state of one batched run: neuron states, recordings and counters."""

    def __init__(
        self, graph: Graph, batch: int, record: Record, constant_inputs: set[str] = frozenset(), device=None
    ) -> None:
        self.graph, self.batch, self.record = graph, batch, record
        self.arrays = arrays = _Arrays(device)
        # a synapse fed by an input that is the same at every step (direct input) has the same
        # output at every step: computed once per run
        self.constant_synapses = {
            n for n, _ in graph.of_type(IntDense, IntConv2d) if graph.predecessors(n)[0] in constant_inputs
        }
        self.memo: dict[str, np.ndarray] = {}
        self.recurrent_synapses = {e.dst for e in graph.recurrent_edges()}
        # each recurrent layer's spikes of the step before; none before a sample's first step
        self.previous = {
            n: arrays.put(np.zeros((batch, *graph[n].shape), dtype=bool)) for n in graph.recurrent_layers()
        }
        self.numerics: Numerics = graph.meta.numerics  # type: ignore[assignment]
        self.order = graph.topo_order()
        self.lifs = {n: op for n, op in graph.of_type(IntLIF)}
        self.state: dict[str, LIFState] = {
            n: LIFState(*(None if a is None else arrays.put(a) for a in initial_state(op, batch)))
            for n, op in self.lifs.items()
        }
        self.bias = {n: arrays.put(effective_bias(op)) for n, op in self.lifs.items()}
        self.kernels = {n: _kernel(graph, n, op, self.numerics, device) for n, op in graph.of_type(IntDense, IntConv2d)}
        self.counts = {n: arrays.zeros((batch, *op.shape)) for n, op in self.lifs.items()}
        self.partials = PartialSums(graph, batch, record, self.numerics, arrays)  # SPEC.md §int_partial_sum
        # the v sums only for the layers a v_mean readout reads (one array less to stream every step)
        self.v_sum = {
            graph.predecessors(n)[0]: arrays.zeros((batch, *graph[graph.predecessors(n)[0]].shape))
            for n, op in graph.of_type(Output)
            if op.readout == "v_mean"
        }
        self.per_step: dict[tuple[str, str], list[np.ndarray]] = {
            (graph.predecessors(n)[0], op.readout): [] for n, op in graph.of_type(Output) if op.readout in STEP_READOUTS
        }
        self.events = {
            n: dict.fromkeys(("u_wraps", "v_saturations", "int32_wraps", "active_updates"), 0) for n in self.lifs
        }
        self.rec: dict[str, dict[str, list[np.ndarray]]] = {"spikes": {}, "v": {}, "u": {}}
        for name in self.lifs:
            if record.wants(name):
                for var in ("spikes", "v", "u"):
                    if getattr(record, var):
                        self.rec[var][name] = []

    def step(self, x: dict[str, np.ndarray]) -> None:
        out: dict[str, np.ndarray] = {}
        for name in self.order:
            op = self.graph[name]
            if isinstance(op, IntInput):
                out[name] = x[name]
            elif isinstance(op, (IntDense, IntConv2d)):
                if name in self.memo:
                    out[name] = self.memo[name]
                    continue
                src = self.graph.predecessors(name)[0]
                # a recurrent synapse reads its layer's spikes of the previous step (SPEC.md §1.1)
                value = self.previous[src] if name in self.recurrent_synapses else out[src]
                out[name] = self._synapse(name, op, self.graph[src], value)
                if name in self.constant_synapses:
                    self.memo[name] = out[name]
            elif isinstance(op, IntLIF):
                out[name] = self._neuron(name, op, [out[p] for p in self.graph.predecessors(name)])
            elif isinstance(op, IntPartialSum):
                out[name] = self.partials.step(name, out[self.graph.predecessors(name)[0]])
        for layer in self.previous:
            self.previous[layer] = out[layer]

    def _synapse(self, name: str, op: IntDense | IntConv2d, src: object, x: np.ndarray) -> np.ndarray:
        """This step's int32 output of one synapse op (what Lava's port carries)."""
        kernel = self.kernels[name]
        if isinstance(src, IntInput) and src.encoding == "bitplane":
            # one binary copy of the synapse per bit plane, exponent + b; the LIF sums the ports.
            # Planes without a set bit contribute nothing and are skipped.
            int8 = getattr(kernel, "int8", None)
            if int8 is not None and int8.fits_graded():
                return _bitplanes_as_graded(kernel, x.reshape(x.shape[0], -1), src.bits, op.weight_exp)
            total = self.arrays.zeros((x.shape[0], *op.shape))
            for b in range(src.bits):
                plane = (x >> b) & 1
                if plane.any():
                    total += wrap_int32(shift(kernel(plane, binary=True), op.weight_exp + b))
            return wrap_int32(total)
        if isinstance(src, (IntInput, IntPartialSum)):  # graded messages: Lava's int32 dot product, int32 shift
            return wrap_int32(shift(wrap_int32(kernel(x)), op.weight_exp))
        # binary path: sum of the weights of the active inputs
        return wrap_int32(shift(kernel(x, binary=True), op.weight_exp))

    def _neuron(self, name: str, op: IntLIF, inputs: list[np.ndarray]) -> np.ndarray:
        total = inputs[0].reshape(self.batch, *op.shape)  # the ports' unwrapped sum
        for inp in inputs[1:]:
            total = total + inp.reshape(self.batch, *op.shape)
        counters = self.events[name]
        if self.arrays.device is None and fused.supports(op):  # one compiled pass, same arithmetic
            spikes, events = fused.lif_step_in_place(
                total, self.state[name], op, self.bias[name], self.numerics, self.counts[name], self.v_sum.get(name)
            )
            for key, count in zip(("u_wraps", "v_saturations", "int32_wraps", "active_updates"), events, strict=False):
                counters[key] += count
            state = self.state[name]
        else:
            a = wrap_int32(total)  # a single synapse output is already an int32 value
            spikes, state, ev = lif_step(a, self.state[name], op, self.bias[name], self.numerics)
            self.state[name] = state
            counters["u_wraps"] += int(ev.u_wrapped.sum())
            counters["v_saturations"] += int(ev.v_saturated.sum())
            counters["int32_wraps"] += int((ev.int32_wrapped | (a != total)).sum())
            counters["active_updates"] += int(ev.active.sum())
            self.counts[name] += spikes
            if name in self.v_sum:
                self.v_sum[name] += state.v
        get = self.arrays.get
        for (layer, readout), values in self.per_step.items():
            if layer == name:
                values.append(get(spikes).astype(np.int64) if readout == "spike_steps" else get(state.v))
        rec = self.rec
        if name in rec["spikes"]:
            rec["spikes"][name].append(get(spikes).astype(np.uint8))
        if name in rec["v"]:
            rec["v"][name].append(get(state.v))
        if name in rec["u"]:
            rec["u"][name].append(get(state.u))
        return spikes

    def trace(self, seconds: float, input_counts: dict[str, np.ndarray]) -> Trace:
        steps = self.graph.meta.steps
        outputs = {}
        for name, op in self.graph.of_type(Output):
            src = self.graph.predecessors(name)[0]
            outputs[name] = self._readout(op.readout, src, steps)
        stats = {n: LayerStats(spikes=int(self.counts[n].sum()), **self.events[n]) for n in self.lifs}
        stats.update(self.partials.stats())
        recorded = {var: {k: np.stack(v, axis=1) for k, v in self.rec[var].items()} for var in ("spikes", "v", "u")}
        recorded["v"].update(self.partials.recorded())
        return Trace(
            batch=self.batch,
            steps=steps,
            outputs=outputs,
            spike_counts={n: self.arrays.get(c).sum(axis=0) for n, c in self.counts.items()}
            | self.partials.spike_counts(),
            input_events=input_counts,
            stats=stats,
            **recorded,
            wall_seconds=seconds,
        )

    def _readout(self, readout: str, layer: str, steps: int) -> np.ndarray:
        get = self.arrays.get
        if readout == "v_last":
            return get(self.state[layer].v)
        if readout == "v_mean":
            return get(self.v_sum[layer]) / steps
        if readout in STEP_READOUTS:
            return np.stack(self.per_step[(layer, readout)], axis=1)
        return get(self.counts[layer])
