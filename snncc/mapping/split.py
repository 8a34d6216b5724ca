"""Split a layer whose fan-in exceeds a core's input axons into partial sums (ir/SPEC.md §int_partial_sum).

A neuron can only read the axons of its own core.  When one neuron of a layer needs more input
axons than a core has, the layer's synapse ``src -> W -> layer`` becomes K parts, each on cores of
its own:

    src -> int_partial_sum k (columns k·w .. (k+1)·w of W) -> int_dense identity (weight 1, W's exponent) -> layer

A convolution (groups 1) is split the same way along its input channels: part k convolves channels
k·w .. (k+1)·w of the source with those channels of the kernel (same stride, padding and dilation), and
its join is a 1x1 depthwise int_conv2d of weights 1 (one synapse per neuron, C_out weights, where an
identity matrix over the C_out·OH·OW neurons would be their square).

Each part sends its integer partial sum as a graded spike (Loihi 2's graded spikes; Lava's stock
``GradedVec`` process), and the layer adds its K ports, as it adds any ports.  A part is one more
connection, so the layer and everything after it run one step later on the chip (refsim's aligned
time is unchanged).  The result equals the unsplit layer bit for bit when W's exponent is >= 0 and
no int32 sum wraps; for a negative exponent each part is floored separately (as bit planes are),
so a layer's input can be up to K − 1 units lower.

Only targets with the ``graded_relay`` neuron feature can do this: a neuron must send its input sum
(not a spike) to another core.  Loihi 1 cannot: its spikes are binary, and its multi-compartment
dendritic joins add currents only between compartments of one core, which share that core's axons.
"""

from __future__ import annotations

import json
import math

import numpy as np

from snncc.errors import MappingError
from snncc.ir import Const, Edge, Graph, IntConv2d, IntDense, IntLIF, IntPartialSum
from snncc.ir.arith import effective_weights
from snncc.target import Target

from .placement import Piece
from .resources import piece_inputs, single_neuron_box

GRADED_RELAY = "graded_relay"
# Lava's GradedVec (lava/proc/graded/models.py, PyGradedVecModelFixed) declares its graded spikes
# 24-bit; Intel's Loihi 2 brief says graded spikes carry up to 32 bits.  The smaller one is used.
PAYLOAD_BITS = 24
SPLITS_NOTE = "fan_in_splits"


def split_fan_in(graph: Graph, target: Target) -> Graph:
    """``graph`` (INTEGER) with every splittable layer that no core can feed split into partial sums.

    Layers that need a split but cannot have one are left as they are: the design rules then report
    them (MAP003), with ``why_not_split`` in the hint.
    """
    plans = {}
    for layer, _ in graph.of_type(IntLIF):
        if fan_in_axons(graph, target, layer) > target.per_core.fan_in_axons.value and not why_not_split(
            graph, target, layer
        ):
            plans[layer] = _columns(graph, target, layer)
    if not plans:
        return graph
    split = _rewrite(graph, plans)
    _check_depths_unchanged(graph, split, list(plans))
    parts = {layer: [f"{layer}.part{k + 1}" for k in range(len(cols))] for layer, cols in plans.items()}
    return Graph(split.nodes, split.edges, split.meta.with_notes(**{SPLITS_NOTE: json.dumps(parts, sort_keys=True)}))


def splits_of(graph: Graph) -> dict[str, list[str]]:
    """Split layer -> its partial sums (empty for graphs without splits)."""
    note = graph.meta.note(SPLITS_NOTE)
    return json.loads(note) if note else {}


def fan_in_axons(graph: Graph, target: Target, layer: str) -> int:
    """Input axons the most connected neuron of ``layer`` needs on its core."""
    return piece_inputs(graph, target, Piece(layer, single_neuron_box(graph[layer].shape)))[0]


def why_not_split(graph: Graph, target: Target, layer: str) -> str:
    """Why ``layer``'s fan-in cannot be split across cores ("" if it can)."""
    if GRADED_RELAY not in target.neuron_features:
        return (
            f"{target.name} cannot split one neuron's inputs across cores: that needs a neuron that sends its input "
            "sum to another core as a graded spike; loihi2 has graded spikes and snncc splits such layers there "
            "(Loihi 1's spikes are binary, and its dendritic joins add compartments of one core, which share its axons)"
        )
    synapses = graph.predecessors(layer)
    if len(synapses) != 1 or graph.is_recurrent(graph.predecessors(synapses[0])[0], synapses[0]):
        return "snncc splits only a layer fed by one forward synapse (this one has several, or a recurrent one)"
    syn = graph[synapses[0]]
    if syn.is_conv and syn.groups != 1:
        return (
            f"snncc splits a convolution along its input channels, which needs groups = 1 (this one has groups = "
            f"{syn.groups})"
        )
    src = graph[graph.predecessors(synapses[0])[0]]
    if src.HAS_STATE:
        return "snncc does not split a layer whose synapses read an axon delay (int_delay)"
    if src.IS_INPUT and src.encoding != "graded":
        return (
            "snncc splits only layers reading spikes or graded input, not bit-plane input (use --input-encoding graded)"
        )
    per_input = _axons_per_input(graph, target, layer)
    if per_input > target.per_core.fan_in_axons.value:
        return (
            f"one input channel of its kernel alone reaches {per_input} input axons of a neuron, more than a core has"
        )
    return ""


def _axons_per_input(graph: Graph, target: Target, layer: str) -> int:
    """Input axons of the most connected neuron per column (dense: 1) or input channel (conv: its kernel taps)."""
    (synapse,) = graph.predecessors(layer)
    return math.ceil(fan_in_axons(graph, target, layer) / graph[synapse].weight.shape[1])


def _columns(graph: Graph, target: Target, layer: str) -> list[tuple[int, int]]:
    """Equal ranges of columns (dense) or input channels (conv), as few as fit a core's axons and the graded payload."""
    (syn_name,) = graph.predecessors(layer)
    weight = _effective(graph, syn_name).astype(np.int64)
    src = graph[graph.predecessors(syn_name)[0]]
    largest_input = 1 << src.bits if src.IS_INPUT else 1
    n_in = weight.shape[1]
    limit = int(target.per_core.fan_in_axons.value) // _axons_per_input(graph, target, layer)
    # per output (channel) and input column (channel): Σ (|W| + 1) over the kernel, the stage verifier's bound
    magnitude = (np.abs(weight) + 1).reshape(weight.shape[0], n_in, -1).sum(axis=2)
    for parts in range(math.ceil(n_in / limit), n_in + 1):
        width = math.ceil(n_in / parts)
        cols = [(a, min(a + width, n_in)) for a in range(0, n_in, width)]
        # the stage verifier's bound (SPEC.md §int_partial_sum), checked before building the parts
        bound = max(int(magnitude[:, a:b].sum(axis=1).max(initial=0)) for a, b in cols) * largest_input
        if bound < 1 << (PAYLOAD_BITS - 1):
            return cols
    raise MappingError(
        f"no split of the layer keeps its partial sums within {PAYLOAD_BITS} bits", code="MAP006", node=layer
    )


def _effective(graph: Graph, synapse: str) -> np.ndarray:
    """The synapse's weights after Lava's weight pipeline: each part keeps exactly these."""
    return effective_weights(graph[synapse].weight.array, graph.meta.numerics)


def _rewrite(graph: Graph, plans: dict[str, list[tuple[int, int]]]) -> Graph:
    replaced = {graph.predecessors(layer)[0]: layer for layer in plans}
    nodes, edges = [], [e for e in graph.edges if e.src not in replaced and e.dst not in replaced]
    for name, op in graph.nodes:
        if name not in replaced:
            nodes.append((name, op))
            continue
        layer, src = replaced[name], graph.predecessors(name)[0]
        weight = _effective(graph, name)
        for k, (a, b) in enumerate(plans[layer]):
            part, join = f"{layer}.part{k + 1}", f"{layer}.part{k + 1}.join"
            cols = weight[:, a:b].astype(np.int32)
            if not np.array_equal(effective_weights(cols, graph.meta.numerics), cols):
                raise MappingError(  # a -256 weight alone in an inhibitory part would be clipped
                    f"part {k + 1} of '{layer}' would change its weights in the weight pipeline",
                    code="MAP006",
                    node=layer,
                )
            nodes += [(part, _part(op, cols, a)), (join, _join(op))]
            edges += [Edge(src, part), Edge(part, join), Edge(join, layer)]
    return Graph(tuple(nodes), tuple(edges), graph.meta)


def _part(synapse: IntDense | IntConv2d, weight: np.ndarray, start: int) -> IntPartialSum:
    """The partial sum of ``weight``, the synapse's columns (or input channels) from ``start``."""
    fields = synapse.window_fields()  # a conv part keeps the synapse's window
    return IntPartialSum(shape=synapse.shape, weight=Const(weight), start=start, payload_bits=PAYLOAD_BITS, **fields)


def _join(synapse: IntDense | IntConv2d) -> IntDense | IntConv2d:
    """Adds a part's payloads to the layer one to one, with the split synapse's exponent."""
    return synapse.identity_join()


def _check_depths_unchanged(before: Graph, after: Graph, split: list[str]) -> None:
    """Each part adds a connection; a layer whose inputs were equally deep must stay so (chips need it)."""
    old, new = _depths(before), _depths(after)
    for name, (short, long) in new.items():
        if short != long and old[name][0] == old[name][1]:
            raise MappingError(
                f"splitting {', '.join(repr(s) for s in split)} across cores delays it one step, but '{name}' also "
                "reads a path that is not delayed",
                code="MAP006",
                node=name,
                hint="reduce the split layer's fan-in so that it fits one core",
            )


def _depths(graph: Graph) -> dict[str, tuple[int, int]]:
    """(shortest, longest) number of connections from an input to each neuron layer or partial sum."""
    depth: dict[str, tuple[int, int]] = {}
    for name in graph.topo_order():
        op = graph[name]
        if op.IS_INPUT:
            depth[name] = (0, 0)
        elif op.IS_RELAY:  # a partial sum reads its source directly
            short, long = depth[graph.predecessors(name)[0]]
            depth[name] = (short + 1, long + 1)
        elif op.IS_NEURON:
            feeds = [s for s in graph.predecessors(name) if not graph.is_recurrent(graph.predecessors(s)[0], s)]
            sources = [depth[graph.predecessors(s)[0]] for s in feeds]
            depth[name] = (1 + min(s for s, _ in sources), 1 + max(b for _, b in sources))
    return depth
