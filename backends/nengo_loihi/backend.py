"""NengoLoihiBackend: run a Loihi 1 integer graph on nengo-loihi 1.1.0's chip emulator.

nengo-loihi's emulator (nengo_loihi/emulator/interface.py) was written by the nengo-loihi team to
match Loihi 1 silicon, independently of Lava: it is a second oracle for snncc's `loihi` networks.
The graph is lowered at block level (no nengo model is built): one LoihiBlock per neuron layer
with the layer's integer decays, threshold and bias, and one Synapse per synapse op (per bit plane
for bit-plane input), whose weights nengo-loihi's own ``discretize_weights`` turns into the chip's
stored form (mantissa, per-synapse two-part shift by the weight exponent, ×2^6).

Where the emulator and Lava (hence refsim) compute differently (loihi-lava-semantics.md §11):
- the weight exponent: Lava shifts the *sum* of a step's weights (floor), the emulator each
  *weight* (rounded): equal only when every weight is a multiple of 2^-weight_exp;
- the synaptic input wraps at 21 bits plus sign and u at 24 bits (Lava: int32, one ±2^24 fold);
- the bias enters u before v (wrapped with u), not v directly.
In range and with weight_exp ≥ 0 the two agree bit for bit (tests/unit/test_nengo_loihi_oracle.py).

Each sample runs in a fresh emulator for T + depth steps: every connection costs one step, as in
Lava; each layer's state is cleared just before its first input arrives (what Lava's LIFReset does),
and the recordings are re-indexed to aligned time (ir/SPEC.md §1.1).
"""

from __future__ import annotations

import time
import types
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from snncc.backends.base import LayerStats, Record, Trace, readout_from_traces
from snncc.backends.int_inputs import at_step, check_int_inputs, input_events
from snncc.errors import BackendError, Diagnostic, InvalidGraph
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
from snncc.ir.depths import layer_depths
from snncc.ir.lowering import READ, LoweringTable, Refusal, refuse
from snncc.ir.ops.conv2d import conv_matrix

V_LIMIT = (1 << 23) - 1  # vmin = -(2^23) + 1, vmax = 2^(9 + 2·7) - 1: the widest range Loihi 1 configures
NEVER = 1 << 30  # threshold of a non-spiking readout: above any v


class NengoLoihiBackend:
    name: ClassVar[str] = "nengo-loihi"

    def check(self, graph: Graph) -> list[Diagnostic]:
        try:
            verify(graph, Stage.INTEGER)
        except InvalidGraph as err:
            return list(err.diagnostics)
        diags = []

        def refuse(node: str, what: str, hint: str) -> None:
            diags.append(Diagnostic("error", "BKD040", what, node=node, hint=hint))

        diags += TABLE.diagnostics(graph)
        for name, op in graph:
            entry = TABLE.lookup(op)
            if isinstance(entry, Checked):  # settings of an op Loihi 1 has that it lacks
                for what, hint in entry.problems(op):
                    refuse(name, what, hint)
        for name, (shortest, longest) in layer_depths(graph).items():
            if shortest != longest:
                refuse(name, f"paths from the input arrive after {shortest} and {longest} steps", "compile with snncc")
        return diags

    def run(self, graph: Graph, inputs: dict[str, np.ndarray], *, record: Record = Record()) -> Trace:
        problems = self.check(graph)
        if problems:
            raise BackendError(diagnostics=problems)
        values = check_int_inputs(graph, inputs)
        batch = len(next(iter(values.values())))
        steps = graph.meta.steps
        lifs = [name for name, _ in graph.of_type(IntLIF)]
        depths = {name: d for name, (d, _) in layer_depths(graph).items()}
        rec: dict[str, dict[str, list]] = {var: {n: [] for n in lifs} for var in ("spikes", "v", "u")}
        start = time.perf_counter()
        for k in range(batch):
            sample = {name: x[k : k + 1] for name, x in values.items()}
            for var, per_layer in run_sample(graph, sample, depths).items():
                for name, arr in per_layer.items():
                    rec[var][name].append(arr)
        seconds = time.perf_counter() - start
        arrays = {var: {n: np.stack(a) for n, a in per_layer.items()} for var, per_layer in rec.items()}
        spikes, v = arrays["spikes"], arrays["v"]
        outputs = {}
        for name, op in graph.of_type(Output):
            src = graph.predecessors(name)[0]
            outputs[name] = readout_from_traces(op.readout, spikes[src], v[src])
        wanted = {n for n in lifs if record.wants(n)}
        keep = {var: {n: a for n, a in arrays[var].items() if n in wanted} for var in arrays}
        return Trace(
            batch=batch,
            steps=steps,
            outputs=outputs,
            spike_counts={n: s.sum(axis=(0, 1)) for n, s in spikes.items()},
            input_events={n: input_events(graph[n], x, steps) for n, x in values.items()},
            stats={n: LayerStats(spikes=int(spikes[n].sum())) for n in lifs},
            spikes={n: s.astype(np.uint8) for n, s in keep["spikes"].items()} if record.spikes else {},
            v=keep["v"] if record.v else {},
            u=keep["u"] if record.u else {},
            wall_seconds=seconds,
        )


def run_sample(graph: Graph, sample: dict[str, np.ndarray], depths: dict[str, int]) -> dict[str, dict[str, np.ndarray]]:
    """One sample (batch 1) through a fresh emulator: layer -> (steps, *shape) spikes, v and u, aligned."""
    from nengo_loihi.emulator.interface import EmulatorInterface

    steps = graph.meta.steps
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Lost N extra bits in weight rounding": the comparison shows it
        blocks, spike_inputs = lower(graph, sample)
    model = types.SimpleNamespace(blocks=list(blocks.values()), inputs=spike_inputs, probes=[], dt=0.001)
    total = steps + max(depths.values())
    raw: dict[str, dict[str, list]] = {var: {n: [] for n in blocks} for var in ("spikes", "v", "u")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # overflow and "lost bits" warnings: the comparison shows their effect
        emulator = EmulatorInterface(model, seed=0)
        slices = emulator.block_info.slices
        state = emulator.compartment
        for i in range(total):
            # a layer's sample starts at emulator step depth + 1 (its first input arrives then): like
            # Lava's LIFReset, clear what its bias did during the warm-up, spikes included
            for name, block in blocks.items():
                if depths[name] == i:
                    for var in (state.current, state.voltage, state.spiked):
                        var[slices[block]] = 0
            emulator.step()
            for name, block in blocks.items():
                sl = slices[block]
                raw["spikes"][name].append(state.spiked[sl].astype(np.uint8))
                raw["v"][name].append(state.voltage[sl].astype(np.int64))
                raw["u"][name].append(state.current[sl].astype(np.int64))
        emulator.close()
    return {
        var: {
            n: np.stack(rows[depths[n] : depths[n] + steps]).reshape(steps, *graph[n].shape)
            for n, rows in per_layer.items()
        }
        for var, per_layer in raw.items()
    }


def lower(graph: Graph, sample: dict[str, np.ndarray]):
    """LoihiBlocks (one per neuron layer) and SpikeInputs (one per input bit plane) for one sample."""
    from nengo_loihi.block import Axon, LoihiBlock, Synapse
    from nengo_loihi.builder.discretize import array_to_int, discretize_weights
    from nengo_loihi.inputs import SpikeInput

    blocks = {name: _block(LoihiBlock, name, op) for name, op in graph.of_type(IntLIF)}
    spike_inputs = []
    for syn_name, op in graph.of_type(IntDense, IntConv2d):
        (src,) = graph.predecessors(syn_name)
        (dst,) = graph.successors(syn_name)
        src_op = graph[src]
        matrix = TABLE[op].matrix(op, src_op.shape)
        weights = np.asarray(matrix, dtype=np.int64)  # the quantizer's mantissas, as the chip stores them
        planes = range(src_op.bits) if src_op.IS_INPUT and src_op.encoding == "bitplane" else [0]
        for b in planes:
            synapse = Synapse(weights.shape[1], label=f"{syn_name}.bit{b}")
            synapse.set_weights(weights.T.astype(np.float32))  # nengo-loihi: one row per input axon
            mixed = weights.min() < 0 < weights.max()
            synapse.format(weight_exp=op.weight_exp + b, fanout_type=1 if mixed else 0)
            for w in synapse.weights:
                array_to_int(w, discretize_weights(synapse.synapse_cfg, w))
            blocks[dst].add_synapse(synapse)
            axon = Axon(weights.shape[1], label=synapse.label)
            axon.target = synapse
            if src_op.IS_INPUT:
                spike_inputs.append(_spike_input(SpikeInput, sample[src], src_op, b, graph.meta.steps, axon))
            else:
                blocks[src].add_axon(axon)
    return blocks, spike_inputs


def _block(LoihiBlock, name: str, op: IntLIF):
    n = int(np.prod(op.shape))
    block = LoihiBlock(n, label=name)
    comp = block.compartment
    comp.decay_u = np.full(n, op.du, dtype=np.int32)  # the chip adds 1 to du (decay_int offset=1), as Lava
    comp.decay_v = np.full(n, op.dv, dtype=np.int32)
    comp.scale_u = comp.scale_v = False
    threshold = op.vth << 6 if op.spiking else NEVER
    comp.vth = np.full(n, threshold, dtype=np.int32)
    comp.bias = (op.bias_mant.array.astype(np.int64) << op.bias_exp.array).reshape(-1).astype(np.int32)
    comp.refract_delay = np.ones(n, dtype=np.int32)  # the chip's minimum: no refractory step
    comp.vmin, comp.vmax = -V_LIMIT, V_LIMIT
    return block


def _spike_input(SpikeInput, x: np.ndarray, op: IntInput, bit: int, steps: int, axon):
    """Bit ``bit`` of the input as spikes; step t (0-based) is emulator step t + 1, which arrives at t + 2."""
    n = int(np.prod(op.shape))
    spike_input = SpikeInput(n, label=f"bit{bit}")
    axon.set_compartment_axon_map(np.arange(n))
    spike_input.add_axon(axon)
    for t in range(steps):
        plane = (at_step(op, x, t)[0].reshape(-1) >> bit) & 1
        spike_input.add_spikes(t + 1, np.flatnonzero(plane), permanent=True)
    return spike_input


@dataclass(frozen=True)
class Checked:
    """An op Loihi 1 runs unless some of its settings need what it lacks: problems(op) -> [(what, hint)]."""

    problems: Callable[[Any], list[tuple[str, str]]]


@dataclass(frozen=True)
class Synapse:
    """A synapse op as the (out, in) integer matrix of one nengo-loihi Synapse: matrix(op, source shape)."""

    matrix: Callable[[Any, tuple[int, ...]], np.ndarray]


def _input_problems(op: IntInput) -> list[tuple[str, str]]:
    if op.encoding != "bitplane" and op.bits > 1:
        return [("graded input messages have no Loihi 1 form", "compile for --target loihi (bit planes)")]
    return []


def _lif_problems(op: IntLIF) -> list[tuple[str, str]]:
    found = []
    if op.reset != "zero":
        found.append(("soft reset has no Loihi 1 form", "compile for --target loihi"))
    if op.du < 0:
        found.append(("du = -1 (no current decay) has no Loihi 1 form: the chip adds 1 to du", "use du >= 0"))
    if np.any(op.bias_exp.array < 0):
        found.append(("a negative bias exponent has no Loihi 1 form (0..7)", "compile for --target loihi"))
    if op.v_floor is not None or op.u_init is not None or np.any(op.v_init.array != 0):
        found.append(("a floor or an initial state has no form in nengo-loihi", "compile for --target loihi"))
    return found


# op class -> how the nengo-loihi emulator runs it (a LoihiBlock per neuron layer, a Synapse per synapse op)
TABLE: LoweringTable[Checked | Synapse | str] = LoweringTable(
    "nengo-loihi",
    {
        **refuse(FLOAT_OPS, Refusal("GRF012", "nengo-loihi runs integer graphs only", "compile the model first")),
        IntInput: Checked(_input_problems),
        Output: READ,
        IntDense: Synapse(lambda op, shape: op.weight.array),
        IntConv2d: Synapse(lambda op, shape: conv_matrix(op, shape).toarray()),
        IntLIF: Checked(_lif_problems),
        IntCLIF: Refusal("BKD040", "CLIF has no Loihi 1 form", "compile with --approximate clif-as-hard-reset"),
        IntPartialSum: Refusal(
            "BKD040", "a split layer's partial sums are graded spikes, which Loihi 1 lacks", "use --backend lava"
        ),
        IntXyloLIF: Refusal("BKD042", "nengo-loihi models Loihi 1, not Xylo", "use --backend xylosim or refsim"),
    },
    # e.g. int_delay: Loihi 1 has synaptic delays, but snncc does not lower them to nengo-loihi
    default=Refusal("BKD040", "snncc does not lower this op to nengo-loihi", "use --backend lava or refsim"),
)
