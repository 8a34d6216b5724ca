"""Lower an integer graph to Lava processes (RingBuffer, Dense/Sparse, LIFReset or SnnccLIF, Monitors).

A recurrent synapse is a Dense/Sparse from the layer's s_out back to its own a_in: Lava's one step
of latency per connection is the IR's "previous step"; ``recurrent_clears`` says when its buffer
must be emptied so that no spike crosses from one sample into the next.

All processes use flat (C-order) shapes.  Weights are passed unmodified: Lava applies its own
weight pipeline, which is exactly what the bit-exact comparison with refsim checks.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import scipy.sparse as sp

from snncc.ir import (
    FLOAT_OPS,
    Graph,
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
from snncc.ir.depths import layer_depths, recurrent_synapse
from snncc.ir.lowering import READ, LoweringTable, Refusal, refuse
from snncc.ir.ops.conv2d import conv_matrix
from snncc.ir.ops.delay import delays


def recurrent_clears(graph: Graph, batch: int) -> list[tuple[int, list[str]]]:
    """(Lava step, recurrent synapses) pairs: after that step the synapses' buffers must be emptied.

    A recurrent connection's one step of latency is exactly "the previous step" (SPEC.md §1.1),
    except across samples: the spikes a layer emits at the last step of a sample would reach the
    first step of the next one, which must see none.  Layer l processes the last step of sample k
    at Lava step k·T + l + T; the buffer its recurrent Dense filled then is cleared before it is sent.
    The same holds before the first sample: during the l warm-up steps a layer with a bias (or an
    initial state) may already fire, so its buffer is also cleared after step l (k = -1).
    """
    steps = graph.meta.steps
    depths = {name: d for name, (d, _) in layer_depths(graph).items()}
    at: dict[int, list[str]] = {}
    for edge in sorted(graph.recurrent_edges(), key=lambda e: (e.src, e.dst)):
        for k in range(-1, batch - 1):  # after the last sample nothing more is recorded
            at.setdefault(k * steps + depths[edge.src] + steps, []).append(edge.dst)
    return sorted(at.items())


def delay_clears(graph: Graph, batch: int) -> list[tuple[int, list[str]]]:
    """(Lava step, delayed synapses) pairs: after that step the synapses' buffers keep only their next
    message (column 0).  A delayed synapse's buffer holds, after its source's last step of a sample, the
    spikes due in the next sample's first steps, which must see none (SPEC.md §int_delay: zeros before
    the sample's start); before the first sample (k = -1), those of the warm-up steps."""
    depths = {name: d for name, (d, _) in layer_depths(graph).items()}
    steps = graph.meta.steps
    at: dict[int, list[str]] = {}
    for name, op in graph.nodes:
        if LAVA.lookup(op) is not DELAY:
            continue
        source_depth = depths.get(graph.predecessors(name)[0], 0)  # an input's: 0
        for syn in sorted(graph.successors(name)):
            for k in range(-1, batch - 1):
                if k * steps + source_depth + steps > 0:
                    at.setdefault(k * steps + source_depth + steps, []).append(syn)
    return sorted(at.items())


def stream_length(graph: Graph, batch: int) -> int:
    """Lava steps for ``batch`` samples: every sample's T steps plus the pipeline depth."""
    return batch * graph.meta.steps + max(longest for _, longest in layer_depths(graph).values())


@dataclass
class Network:
    """The built Lava processes and the monitors to read back."""

    neurons: dict[str, Any] = field(default_factory=dict)
    recurrent: dict[str, Any] = field(default_factory=dict)  # recurrent synapse -> its Dense/Sparse process
    delayed: dict[str, list[Any]] = field(default_factory=dict)  # synapse behind a delay -> its DelayDense(s)
    monitors: dict[tuple[str, str], tuple[Any, Any, str]] = field(
        default_factory=dict
    )  # (var, layer) -> (mon, proc, name)

    def read(self) -> dict[str, dict[str, np.ndarray]]:
        out: dict[str, dict[str, np.ndarray]] = {}
        for (var, layer), (monitor, proc, lava_var) in self.monitors.items():
            out.setdefault(var, {})[layer] = monitor.get_data()[proc.name][lava_var]
        return out


def build_network(graph: Graph, values: dict[str, np.ndarray], *, want_u: bool, monitors: bool = True) -> Network:
    """The Lava processes of ``graph`` fed with ``values``; without ``monitors`` nothing is recorded
    (what a Lava user runs for speed: benchmarks/stock_lava.py times it)."""
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.graded.process import GradedVec
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIFReset
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import DelaySparse, Sparse

    from .models import lif as models

    batch = len(next(iter(values.values())))
    b = _Build(
        graph=graph,
        values=values,
        total=stream_length(graph, batch),
        depths={name: d for name, (d, _) in layer_depths(graph).items()},
        procs=SimpleNamespace(
            Dense=Dense,
            DelayDense=DelayDense,
            DelaySparse=DelaySparse,
            GradedVec=GradedVec,
            RingBuffer=RingBuffer,
            LIFReset=LIFReset,
            Sparse=Sparse,
            models=models,
        ),
        net=Network(),
        monitor=Monitor if monitors else None,
        want_u=want_u,
    )
    for name in graph.topo_order():
        op = graph[name]
        entry = LAVA[op]
        if isinstance(
            entry, Node
        ):  # synapses (and their delays) are built by the layer they feed; outputs read its monitors
            entry.build(b, name, op)
    return b.net


@dataclass
class _Build:
    """What building one network needs: the graph, its data, Lava's process classes and what is built so far."""

    graph: Graph
    values: dict[str, np.ndarray]
    total: int
    depths: dict[str, int]
    procs: Any
    net: Network
    monitor: Any  # Lava's Monitor class, or None: record nothing
    want_u: bool
    sources: dict[str, list[tuple[Any, int]]] = field(default_factory=dict)  # node -> [(process, extra exponent)]

    def probe(self, var: str, layer: str, proc: Any, port: Any, lava_var: str) -> None:
        if self.monitor is not None:
            monitor = self.monitor()
            monitor.probe(port, self.total)
            self.net.monitors[(var, layer)] = (monitor, proc, lava_var)


@dataclass(frozen=True)
class Node:
    """How an input, a relay or a neuron layer becomes Lava processes: build(b, name, op)."""

    build: Callable[[_Build, str, Any], None]


@dataclass(frozen=True)
class Connection:
    """How a synapse op becomes a Dense or Sparse process: connect(b, syn, src, extra_exp, delay), where
    ``delay`` (per input, or None) is the axon delay of an int_delay in front of it: a DelayDense or
    DelaySparse whose synapses from input i wait delay[i] steps."""

    connect: Callable[[_Build, Any, Any, int, np.ndarray | None], Any]


def _build_input(b: _Build, name: str, op: IntInput) -> None:
    stream = _input_stream(op, b.values[name], b.graph.meta.steps, b.total)
    ring = b.procs.RingBuffer
    if op.encoding == "bitplane":
        b.sources[name] = [(ring(data=((stream >> k) & 1).astype(np.int32)), k) for k in range(op.bits)]
    else:
        b.sources[name] = [(ring(data=stream.astype(np.int32)), 0)]


def _build_relay(b: _Build, name: str, op: IntPartialSum) -> None:
    relay = _partial_sum(name, op, b.graph, b.sources, b.graph.meta.numerics, b.procs.GradedVec, b.procs.Sparse)
    b.sources[name] = [(relay, 0)]
    b.probe(
        "v", name, relay, relay.s_out, "s_out"
    )  # the payload p, recorded as the part's "v" (SPEC.md §int_partial_sum)


def _neuron_builder(model: str, stock: bool, op_param: str | None = None) -> Node:
    """A neuron layer as Intel's LIFReset where ``stock`` allows and the op needs nothing more, else
    as snncc's process ``model`` (models/lif.py), given the op itself as ``op_param`` if set."""

    def build(b: _Build, name: str, op: IntLIF) -> None:
        graph = b.graph
        own = getattr(b.procs.models, model)
        neuron = _neuron(op, name, graph.meta.steps, b.depths[name], b.procs.LIFReset if stock else None, own, op_param)
        b.sources[name] = [(neuron, 0)]  # before its synapses: a recurrent one reads the layer itself
        for syn_name in graph.predecessors(name):
            syn = graph[syn_name]
            read = graph.predecessors(syn_name)[0]
            delay = delays(graph[read]) if LAVA[graph[read]] is DELAY else None
            src_name = graph.carrier(read)
            for proc, extra_exp in b.sources[src_name]:
                conn = LAVA[syn].connect(b, syn, graph[src_name], extra_exp, delay)
                proc.s_out.connect(conn.s_in)
                conn.a_out.connect(neuron.a_in)
                if recurrent_synapse(graph, syn_name):
                    b.net.recurrent[syn_name] = conn
                if delay is not None:
                    b.net.delayed.setdefault(syn_name, []).append(conn)
        b.net.neurons[name] = neuron
        for var, port in (("spikes", neuron.s_out), ("v", neuron.v), *((("u", neuron.u),) if b.want_u else ())):
            b.probe(var, name, neuron, port, "s_out" if var == "spikes" else var)

    return Node(build)


def _input_stream(op: IntInput, x: np.ndarray, steps: int, total: int) -> np.ndarray:
    """(n, total) values: sample k occupies columns k·T .. k·T+T−1; zeros after the last sample."""
    batch = len(x)
    per_step = x.reshape(batch, steps if x.ndim == len(op.shape) + 2 else 1, -1)
    per_step = np.broadcast_to(per_step, (batch, steps, per_step.shape[-1]))
    stream = np.zeros((per_step.shape[-1], total), dtype=np.int64)
    stream[:, : batch * steps] = per_step.reshape(batch * steps, -1).T
    return stream


def _message_bits(src) -> int:
    """Graded messages' width (Lava's num_message_bits); 0 for binary spikes."""
    if src.IS_INPUT and src.encoding == "graded":
        return src.bits
    return src.payload_bits if LAVA[src] is RELAY else 0


def _port(b: _Build, syn, src, extra_exp: int) -> dict[str, Any]:
    return {
        "weight_exp": syn.weight_exp + extra_exp,
        "num_weight_bits": b.graph.meta.numerics.weight_bits,
        "num_message_bits": _message_bits(src),
    }


def _dense_connection(b: _Build, syn: IntDense, src, extra_exp: int, delay: np.ndarray | None):
    if delay is not None:  # Lava checks the delays' range (0..63) itself
        weights = syn.weight.array.astype(np.int32)
        each = np.broadcast_to(delay.astype(int), weights.shape).copy()
        return b.procs.DelayDense(weights=weights, delays=each, **_port(b, syn, src, extra_exp))
    # a split layer's identity join (a split conv's join is a 1x1 depthwise conv, which conv_matrix
    # turns into the same sparse identity)
    if LAVA[src] is RELAY:
        return b.procs.Sparse(weights=sp.csr_matrix(syn.weight.array.astype(np.int32)), **_port(b, syn, src, extra_exp))
    return b.procs.Dense(weights=syn.weight.array.astype(np.int32), **_port(b, syn, src, extra_exp))


def _conv_connection(b: _Build, syn: IntConv2d, src, extra_exp: int, delay: np.ndarray | None):
    weights = conv_matrix(syn, tuple(src.shape))
    if delay is not None:  # the delay of each synapse's input, on the weights' sparsity
        coo = weights.tocoo()
        each = sp.csr_matrix((delay[coo.col].astype(int), (coo.row, coo.col)), shape=weights.shape)
        return b.procs.DelaySparse(weights=weights, delays=each, **_port(b, syn, src, extra_exp))
    return b.procs.Sparse(weights=weights, **_port(b, syn, src, extra_exp))


def _partial_sum(name: str, op: IntPartialSum, graph: Graph, sources, numerics, graded_cls, sparse_cls):
    """Intel's stock GradedVec (vth 0: sends its input sum, every nonzero value) fed by the op's
    columns (or its conv over its input channels) of the source as a Sparse matrix with exponent 0
    (SPEC.md §int_partial_sum)."""
    src_name = graph.predecessors(name)[0]
    src = graph[src_name]
    weights = _partial_sum_matrix(op, tuple(src.shape))
    relay = graded_cls(shape=(weights.shape[0],), vth=0)  # takes no name
    for proc, _ in sources[src_name]:
        conn = sparse_cls(
            weights=weights,
            weight_exp=0,
            num_weight_bits=numerics.weight_bits,
            num_message_bits=_message_bits(src),
        )
        proc.s_out.connect(conn.s_in)
        conn.a_out.connect(relay.a_in)
    return relay


def _partial_sum_matrix(op: IntPartialSum, src_shape: tuple[int, ...]) -> sp.csr_matrix:
    """(part's neurons, source's C-order flattened outputs): the op's weights at the inputs they read."""
    n_src = int(np.prod(src_shape))
    if op.is_conv:  # the conv over (width, H, W) reads the flat inputs from channel ``start`` on
        window = conv_matrix(op.window(), op.window_shape(src_shape)).tocoo()
        offset = op.start * int(np.prod(src_shape[1:]))
        return sp.csr_matrix((window.data, (window.row, window.col + offset)), shape=(window.shape[0], n_src))
    rows, cols = np.nonzero(op.weight.array)
    return sp.csr_matrix(
        (op.weight.array[rows, cols].astype(np.int32), (rows, cols + op.start)), shape=(op.weight.shape[0], n_src)
    )


def _neuron(op: IntLIF, name: str, steps: int, depth: int, stock_cls, own_cls, op_param: str | None):
    n = int(np.prod(op.shape))
    common = {
        "shape": (n,),
        "du": op.du,
        "dv": op.dv,
        "vth": op.vth,
        "bias_mant": op.bias_mant.array.reshape(-1).astype(np.int16),
        "bias_exp": op.bias_exp.array.reshape(-1).astype(np.int16),
        "reset_interval": steps,
        "reset_offset": depth + 1,
        "name": f"snncc:{name}",
    }
    no_current = op.u_init is None or not op.u_init.array.any()
    stock = op.reset == "zero" and op.spiking and op.v_floor is None and not op.v_init.array.any() and no_current
    if stock and stock_cls is not None:  # Intel's own model: the independent reference
        return stock_cls(**common)
    extra = {op_param: op} if op_param else {}
    return own_cls(
        **common,
        **extra,
        v_init=op.v_init.array.reshape(-1),
        u_init=None if op.u_init is None else op.u_init.array.reshape(-1),
        subtract_reset=op.reset == "subtract",
        v_floor=op.v_floor,
        spiking=op.spiking,
    )


RELAY = Node(_build_relay)  # a split layer's partial sum: Intel's GradedVec
DELAY = "delay"  # an int_delay: the synapses that read it become DelayDense / DelaySparse

# op class -> how Lava runs it (Lava runs what refsim's Loihi dialect runs, bit for bit)
LAVA: LoweringTable[Node | Connection | str] = LoweringTable(
    "lava",
    {
        **refuse(FLOAT_OPS, Refusal("GRF012", "Lava runs integer graphs only", "compile the model first")),
        IntInput: Node(_build_input),
        Output: READ,
        IntDense: Connection(_dense_connection),
        IntConv2d: Connection(_conv_connection),
        IntLIF: _neuron_builder("SnnccLIF", stock=True),
        IntCLIF: _neuron_builder("SnnccCLIF", stock=False, op_param="clif"),
        IntPartialSum: RELAY,
        IntDelay: DELAY,
        IntXyloLIF: Refusal("BKD042", "Lava models Loihi's neurons, not Xylo's", "use --backend xylosim or refsim"),
    },
)
