"""How a xylo-family integer graph sits on one Xylo SNN core (ir/SPEC.md §6.3): its layers' places and
the core's three weight matrices, or a refusal naming what one core cannot hold.

Read by the mapper (snncc.mapping.xylo places the graph with it) and by the xylosim backend (which
configures rockpool's XyloSim with it) alike, so it depends on neither.

Xylo has one input weight matrix (input channels -> hidden neurons), one hidden matrix (hidden ->
hidden: both the recurrent synapses and the feed-forward ones between hidden layers) and one
readout matrix (hidden -> output neurons), each with one weight_bit_shift.  Spikes travel through
the hidden and readout matrices with one step of latency, so a layer at depth d (the first
hidden layers are at depth 1) processes sample step t at hardware step t + d − 1.  Xylo resets no
layer at its own offset, so a layer at depth ≥ 2 must have no bias (it would integrate it while
the pipeline fills).  The pools' sizes and spike caps come from the target (targets/xylo.yaml).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.errors import MappingError
from snncc.families.xylo import XyloPools, is_xylo
from snncc.ir import Graph, IntDense, IntInput, IntXyloLIF, Output, Stage, verify


@dataclass(frozen=True)
class XyloLayout:
    """Where each layer sits on the core and the three weight matrices the core is configured with."""

    hidden: dict[str, tuple[int, int]]  # layer -> [start, stop) among the hidden neurons
    output: str
    depth: dict[str, int]
    w_in: np.ndarray  # (channels, hidden) int8
    w_rec: np.ndarray  # (hidden, hidden) int8, [pre, post]
    w_out: np.ndarray  # (hidden, outputs) int8
    shifts: tuple[int, int, int]  # input, hidden, readout weight_bit_shift


XYLO_SHAPE = "Xylo runs: input channels -> hidden layers in a chain (each may be recurrent) -> one output layer"


def _refuse(message: str, node: str | None = None) -> MappingError:
    return MappingError(
        message,
        code="MAP050",
        node=node,
        hint=XYLO_SHAPE,
    )


def xylo_layout(graph: Graph, pools: XyloPools | None = None) -> XyloLayout:
    """Place the layers on the core and build its matrices; refuse what one Xylo core cannot run."""
    if pools is None:
        from snncc.target import load_target

        pools = load_target("xylo").family_part
    max_channels, max_hidden, max_outputs = (
        int(pools.input_channels),
        int(pools.hidden_neurons),
        int(pools.output_neurons),
    )
    hidden_spikes, output_spikes = int(pools.max_hidden_spikes), int(pools.max_output_spikes)
    verify(graph, Stage.INTEGER)
    if not is_xylo(graph.meta.numerics):
        raise _refuse(f"a Xylo core runs the xylo numerics family, not {graph.meta.numerics.family!r}")
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
    for name in order:
        syns = graph.predecessors(name)
        fwd = [s for s in syns if s not in recurrent]
        if len(fwd) != 1:
            raise _refuse(f"layer has {len(fwd)} feed-forward sources; a Xylo layer reads exactly one", name)
        src = graph.predecessors(fwd[0])[0]
        depth[name] = 1 if src == in_name else depth[src] + 1
        if depth[name] > 1 and np.any(layers[name].bias.array):
            raise _refuse(
                "a layer behind another one has a bias, which it would integrate while Xylo's pipeline fills", name
            )
    out_op = layers[output]
    if depth[output] == 1 or any(s in recurrent for s in graph.predecessors(output)):
        raise _refuse("the output layer must read a hidden layer and cannot be recurrent", output)
    if not out_op.spiking and out_op.vth != (1 << 15) - 1:
        raise _refuse("a non-spiking output layer runs on Xylo with threshold 2^15 - 1; set vth to it", output)
    if int(np.prod(out_op.shape)) > max_outputs or out_op.max_spikes != output_spikes:
        raise _refuse(f"the output layer needs at most {max_outputs} neurons with max_spikes 1", output)
    hidden: dict[str, tuple[int, int]] = {}
    start = 0
    for name in order[:-1]:
        size = int(np.prod(layers[name].shape))
        if not layers[name].spiking:
            raise _refuse("a hidden layer that never fires has no Xylo form", name)
        if layers[name].max_spikes != hidden_spikes:
            raise _refuse(f"a hidden layer needs max_spikes {hidden_spikes}, Xylo's hidden neurons' cap", name)
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
