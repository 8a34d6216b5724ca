"""Lower a xylo-family integer graph onto one Xylo SNN core and run it in rockpool's XyloSim.

Xylo has one input weight matrix (input channels -> hidden neurons), one hidden matrix (hidden ->
hidden: both the recurrent synapses and the feed-forward ones between hidden layers) and one
readout matrix (hidden -> output neurons), each with one weight_bit_shift.  Spikes travel through
the hidden and readout matrices with one step of latency, so a layer at depth d (the first
hidden layers are at depth 1) processes sample step t at hardware step t + d − 1; the run is
padded with zero input and re-indexed to aligned time (ir/SPEC.md §1.1).  Xylo resets no layer
at its own offset, so a layer at depth ≥ 2 must have no bias (it would integrate it while the
pipeline fills).  Each sample runs from XyloSim's reset state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace
from typing import ClassVar

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace
from snncc.backends.int_inputs import check_int_inputs, input_events, is_per_step
from snncc.errors import BackendError, Diagnostic, InvalidGraph
from snncc.ir import Graph, IntDense, IntInput, IntXyloLIF, Output, Stage, verify
from snncc.ir.ops_float import STEP_READOUTS

from .rockpool_import import xylo_audio2_sim



def _pools() -> tuple[int, ...]:
    """Core sizes and spike caps, read from targets/xylo.yaml (where their sources are)."""
    from snncc.target import load_target

    p = load_target("xylo").xylo
    return tuple(int(x) for x in (p.input_channels, p.hidden_neurons, p.output_neurons, p.max_hidden_spikes, p.max_output_spikes))


@dataclass(frozen=True)
class XyloLayout:
    """Where each layer sits on the core and the three weight matrices XyloSim is configured with."""

    hidden: dict[str, tuple[int, int]]  # layer -> [start, stop) among the hidden neurons
    output: str
    depth: dict[str, int]
    w_in: np.ndarray  # (channels, hidden) int8
    w_rec: np.ndarray  # (hidden, hidden) int8, [pre, post]
    w_out: np.ndarray  # (hidden, outputs) int8
    shifts: tuple[int, int, int]  # input, hidden, readout weight_bit_shift


class XyloSimBackend:
    name: ClassVar[str] = "xylosim"

    def check(self, graph: Graph) -> list[Diagnostic]:
        try:
            lower(graph)
        except (InvalidGraph, BackendError) as err:
            return list(err.diagnostics)
        return []

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        layout = lower(graph)
        start = time.perf_counter()
        steps = graph.meta.steps
        values = check_int_inputs(graph, inputs)
        (in_name, x), = values.items()
        batch = len(x)
        layers = dict(graph.of_type(IntXyloLIF))
        hw_steps = steps + max(layout.depth.values()) - 1
        sim = configure(layout, layers)
        raw: dict[str, dict[str, list[np.ndarray]]] = {var: {n: [] for n in layers} for var in ("spikes", "v", "u")}
        for b in range(batch):
            sample = np.zeros((hw_steps, layout.w_in.shape[0]), dtype=np.int64)
            per_step = x[b] if is_per_step(graph[in_name], x) else np.broadcast_to(x[b], (steps, *x.shape[1:]))
            sample[:steps] = per_step.reshape(steps, -1)
            sim.reset_state()
            out_spikes, _, rec = sim.evolve(sample, record=True)
            for name in layers:
                offset = layout.depth[name] - 1
                if name == layout.output:
                    cols = {"spikes": np.asarray(out_spikes), "v": rec["Vmem_out"], "u": rec["Isyn_out"]}
                else:
                    lo, hi = layout.hidden[name]
                    cols = {"spikes": rec["Spikes"][:, lo:hi], "v": rec["Vmem"][:, lo:hi], "u": rec["Isyn"][:, lo:hi]}
                for var, arr in cols.items():
                    raw[var][name].append(np.asarray(arr, dtype=np.int64)[offset : offset + steps])
        full = {var: {n: np.stack(a).reshape(batch, steps, *layers[n].shape) for n, a in d.items()} for var, d in raw.items()}
        outputs = {}
        for name, op in graph.of_type(Output):
            layer = graph.predecessors(name)[0]
            outputs[name] = _readout(op.readout, full["spikes"][layer], full["v"][layer])
        wanted = [n for n in layers if record.wants(n)]
        return Trace(
            batch=batch,
            steps=steps,
            outputs=outputs,
            spike_counts={n: s.sum(axis=(0, 1)) for n, s in full["spikes"].items()},
            input_events={in_name: input_events(graph[in_name], x, steps)},
            stats={n: LayerStats(spikes=int(full["spikes"][n].sum())) for n in layers},
            spikes={n: full["spikes"][n].astype(np.uint8) for n in wanted} if record.spikes else {},
            v={n: full["v"][n] for n in wanted} if record.v else {},
            u={n: full["u"][n] for n in wanted} if record.u else {},
            wall_seconds=time.perf_counter() - start,
        )


def _readout(readout: str, spikes: np.ndarray, v: np.ndarray) -> np.ndarray:
    return {
        "spike_count": lambda: spikes.sum(axis=1),
        "v_last": lambda: v[:, -1],
        "v_mean": lambda: v.mean(axis=1),
        "spike_steps": lambda: spikes,
        "v_steps": lambda: v,
    }[readout]()


def _refuse(message: str, node: str | None = None) -> BackendError:
    return BackendError(
        message,
        code="BKD041",
        node=node,
        hint="Xylo runs: input channels -> hidden layers in a chain (each may be recurrent) -> one output layer",
    )


def lower(graph: Graph) -> XyloLayout:
    """Place the layers on the core and build XyloSim's matrices; refuse what one Xylo core cannot run."""
    verify(graph, Stage.INTEGER)
    max_channels, max_hidden, max_outputs, hidden_spikes, output_spikes = _pools()
    if graph.meta.numerics.family != "xylo":
        raise _refuse(f"the xylosim backend runs the xylo numerics family, not {graph.meta.numerics.family!r}")
    inputs = graph.of_type(IntInput)
    if len(inputs) != 1:
        raise _refuse(f"Xylo has one bank of input channels; the graph has {len(inputs)} inputs")
    in_name, in_op = inputs[0]
    channels = int(np.prod(in_op.shape))
    if channels > max_channels:
        raise _refuse(f"{channels} input channels; Xylo has {max_channels}", in_name)
    layers = dict(graph.of_type(IntXyloLIF))
    read = {graph.predecessors(n)[0] for n, _ in graph.of_type(Output)}
    recurrent = {e.dst for e in graph.recurrent_edges()}
    order = [n for n in graph.topo_order() if n in layers]
    if len(read) != 1 or order[-1] not in read:
        raise _refuse("the outputs must read one layer, the last one: Xylo's output neurons")
    output = order[-1]
    depth: dict[str, int] = {}
    forward: dict[str, tuple[str, str]] = {}  # layer -> (synapse, source)
    for name in order:
        syns = graph.predecessors(name)
        fwd = [s for s in syns if s not in recurrent]
        if len(fwd) != 1:
            raise _refuse(f"layer has {len(fwd)} feed-forward sources; a Xylo layer reads exactly one", name)
        src = graph.predecessors(fwd[0])[0]
        forward[name] = (fwd[0], src)
        depth[name] = 1 if src == in_name else depth[src] + 1
        if depth[name] > 1 and np.any(layers[name].bias.array):
            raise _refuse("a layer behind another one has a bias, which it would integrate while Xylo's pipeline fills", name)
    out_op = layers[output]
    if depth[output] == 1 or any(s in recurrent for s in graph.predecessors(output)):
        raise _refuse("the output layer must read a hidden layer and cannot be recurrent", output)
    if int(np.prod(out_op.shape)) > max_outputs or out_op.max_spikes != output_spikes:
        raise _refuse(f"the output layer needs at most {max_outputs} neurons with max_spikes 1", output)
    hidden: dict[str, tuple[int, int]] = {}
    start = 0
    for name in order[:-1]:
        size = int(np.prod(layers[name].shape))
        if layers[name].max_spikes != hidden_spikes:
            raise _refuse(f"a hidden layer has max_spikes {hidden_spikes}", name)
        hidden[name] = (start, start + size)
        start += size
    if start > max_hidden:
        raise _refuse(f"{start} hidden neurons; Xylo has {max_hidden}")
    w_in = np.zeros((channels, start), dtype=np.int64)
    w_rec = np.zeros((start, start), dtype=np.int64)
    w_out = np.zeros((start, int(np.prod(out_op.shape))), dtype=np.int64)
    shifts: dict[str, set[int]] = {"in": set(), "rec": set(), "out": set()}
    for syn, op in graph.of_type(IntDense):
        src, dst = graph.predecessors(syn)[0], graph.successors(syn)[0]
        w = op.weight.array.astype(np.int64).T  # [pre, post]
        if src == in_name:
            lo, hi = hidden[dst]
            w_in[:, lo:hi] = w
            shifts["in"].add(op.weight_exp)
        elif dst == output:
            lo, hi = hidden[src]
            w_out[lo:hi] = w
            shifts["out"].add(op.weight_exp)
        else:
            (a, b), (c, d) = hidden[src], hidden[dst]
            w_rec[a:b, c:d] = w
            shifts["rec"].add(op.weight_exp)
    for kind, found in shifts.items():
        if len(found) > 1:
            raise _refuse(f"the {kind} synapses use weight exponents {sorted(found)}; Xylo has one shift per matrix")
    shift = tuple(next(iter(shifts[k]), 0) for k in ("in", "rec", "out"))
    return XyloLayout(hidden, output, depth, w_in, w_rec, w_out, shift)  # type: ignore[arg-type]


def configure(layout: XyloLayout, layers: dict[str, IntXyloLIF]):
    """A XyloSim configured like the chip: rockpool's from_config over the fields it reads."""
    def neuron(op: IntXyloLIF, bias: int) -> SimpleNamespace:
        return SimpleNamespace(
            alias_target=None,
            threshold=op.vth,
            v_mem_decay=op.dash_mem,
            i_syn_decay=op.dash_syn,
            i_syn2_decay=0,
            v_mem_bias=bias,
        )

    hidden_neurons = [
        neuron(layers[name], int(b)) for name in layout.hidden for b in layers[name].bias.array.reshape(-1)
    ]
    out_op = layers[layout.output]
    out_neurons = [neuron(out_op, int(b)) for b in out_op.bias.array.reshape(-1)]
    config = SimpleNamespace(
        synapse2_enable=False,
        bias_enable=True,
        input=SimpleNamespace(weights=layout.w_in.astype(np.int8), weight_bit_shift=layout.shifts[0]),
        reservoir=SimpleNamespace(
            weights=layout.w_rec.astype(np.int8), neurons=hidden_neurons, weight_bit_shift=layout.shifts[1]
        ),
        readout=SimpleNamespace(
            weights=layout.w_out.astype(np.int8), neurons=out_neurons, weight_bit_shift=layout.shifts[2]
        ),
    )
    return xylo_audio2_sim().from_config(config, output_mode="Spike")
