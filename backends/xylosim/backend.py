"""Run a xylo-family integer graph in rockpool's XyloSim, configured as snncc.xylo_layout lays it out.

A layer at depth d processes sample step t at hardware step t + d − 1 (snncc/xylo_layout.py), so
the run is padded with zero input and re-indexed to aligned time (ir/SPEC.md §1.1).  Each sample
runs from XyloSim's reset state.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import ClassVar

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace, readout_from_traces
from snncc.backends.int_inputs import check_int_inputs, input_events, is_per_step
from snncc.errors import Diagnostic, InvalidGraph, MappingError
from snncc.ir import (
    FLOAT_OPS,
    Graph,
    IntCLIF,
    IntConv2d,
    IntDense,
    IntInput,
    IntLIF,
    IntPartialSum,
    IntXyloLIF,
    Output,
    Stage,
    verify,
)
from snncc.ir.lowering import FED, READ, LoweringTable, Refusal, refuse
from snncc.xylo_layout import XyloLayout, xylo_layout

from .rockpool_import import xylo_audio2_sim

MATRIX = "matrix"  # a synapse op: its weights go into one of the core's three matrices (xylo_layout)
NEURON = "neuron"  # a neuron layer: hidden or output neurons of the core

# op class -> how XyloSim runs it
TABLE: LoweringTable[str] = LoweringTable(
    "xylosim",
    {
        **refuse(FLOAT_OPS, Refusal("GRF012", "XyloSim runs integer graphs only", "compile the model first")),
        IntInput: FED,
        Output: READ,
        IntDense: MATRIX,
        IntXyloLIF: NEURON,
        **refuse(
            (IntLIF, IntCLIF, IntConv2d, IntPartialSum),
            Refusal("BKD042", "XyloSim runs the xylo family's int_dense and int_xylo_lif only", "use --backend lava"),
        ),
    },
    default=Refusal("BKD042", "XyloSim runs the xylo family's int_dense and int_xylo_lif only", "use --backend lava"),
)


class XyloSimBackend:
    name: ClassVar[str] = "xylosim"

    def check(self, graph: Graph) -> list[Diagnostic]:
        try:
            verify(graph, Stage.INTEGER)
        except InvalidGraph as err:
            return list(err.diagnostics)
        refused = TABLE.diagnostics(graph)
        if refused:
            return refused
        try:
            xylo_layout(graph)
        except (InvalidGraph, MappingError) as err:
            return list(err.diagnostics)
        return []

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        layout = xylo_layout(graph)
        start = time.perf_counter()
        steps = graph.meta.steps
        values = check_int_inputs(graph, inputs)
        ((in_name, x),) = values.items()
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
        full = {
            var: {n: np.stack(a).reshape(batch, steps, *layers[n].shape) for n, a in d.items()}
            for var, d in raw.items()
        }
        outputs = {}
        for name, op in graph.of_type(Output):
            layer = graph.predecessors(name)[0]
            outputs[name] = readout_from_traces(op.readout, full["spikes"][layer], full["v"][layer])
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
