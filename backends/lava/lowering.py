"""Lower an integer graph to Lava processes (RingBuffer, Dense/Sparse, LIFReset or SnnccLIF, Monitors).

A recurrent synapse is a Dense/Sparse from the layer's s_out back to its own a_in: Lava's one step
of latency per connection is the IR's "previous step"; ``recurrent_clears`` says when its buffer
must be emptied so that no spike crosses from one sample into the next.

All processes use flat (C-order) shapes.  Weights are passed unmodified: Lava applies its own
weight pipeline, which is exactly what the bit-exact comparison with refsim checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from snncc.ir import Graph, IntCLIF, IntConv2d, IntDense, IntInput, IntLIF, IntPartialSum
from snncc.ir.op import conv_out_hw


def layer_depths(graph: Graph) -> dict[str, tuple[int, int]]:
    """Per neuron layer: (shortest, longest) number of connections from any input (recurrent ones aside)."""
    depth: dict[str, tuple[int, int]] = {}
    for name in graph.topo_order():
        op = graph[name]
        if isinstance(op, IntInput):
            depth[name] = (0, 0)
        elif isinstance(op, IntPartialSum):  # one connection from its source, like a layer
            short, long = depth[graph.predecessors(name)[0]]
            depth[name] = (short + 1, long + 1)
        elif isinstance(op, IntLIF):
            feeds = [syn for syn in graph.predecessors(name) if not _recurrent(graph, syn)]
            sources = [depth[graph.predecessors(syn)[0]] for syn in feeds]
            depth[name] = (1 + min(s for s, _ in sources), 1 + max(longest for _, longest in sources))
    return {name: d for name, d in depth.items() if isinstance(graph[name], (IntLIF, IntPartialSum))}


def _recurrent(graph: Graph, synapse: str) -> bool:
    return graph.is_recurrent(graph.predecessors(synapse)[0], synapse)


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


def stream_length(graph: Graph, batch: int) -> int:
    """Lava steps for ``batch`` samples: every sample's T steps plus the pipeline depth."""
    return batch * graph.meta.steps + max(longest for _, longest in layer_depths(graph).values())


def conv_matrix(op: IntConv2d, in_shape: tuple[int, ...]) -> sp.csr_matrix:
    """The (out, in) matrix of a torch-convention conv2d over C-order flattened maps."""
    c_in, h, w = in_shape
    c_out, c_in_g, kh, kw = op.weight.shape
    oh, ow = conv_out_hw((h, w), (kh, kw), op.stride, op.padding, op.dilation)
    o, y, x, c, i, j = np.meshgrid(
        np.arange(c_out), np.arange(oh), np.arange(ow), np.arange(c_in_g), np.arange(kh), np.arange(kw), indexing="ij"
    )
    yy = y * op.stride[0] - op.padding[0] + i * op.dilation[0]
    xx = x * op.stride[1] - op.padding[1] + j * op.dilation[1]
    cin = (o // (c_out // op.groups)) * c_in_g + c
    weights = op.weight.array[o, c, i, j]
    keep = (yy >= 0) & (yy < h) & (xx >= 0) & (xx < w) & (weights != 0)
    rows = ((o * oh + y) * ow + x)[keep]
    cols = ((cin * h + yy) * w + xx)[keep]
    return sp.csr_matrix((weights[keep].astype(np.int32), (rows, cols)), shape=(c_out * oh * ow, c_in * h * w))


@dataclass
class Network:
    """The built Lava processes and the monitors to read back."""

    neurons: dict[str, Any] = field(default_factory=dict)
    recurrent: dict[str, Any] = field(default_factory=dict)  # recurrent synapse -> its Dense/Sparse process
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
    from lava.proc.dense.process import Dense
    from lava.proc.graded.process import GradedVec
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIFReset
    from lava.proc.monitor.process import Monitor
    from lava.proc.sparse.process import Sparse

    from .models.lif import SnnccCLIF, SnnccLIF

    batch = len(next(iter(values.values())))
    steps = graph.meta.steps
    total = stream_length(graph, batch)
    depths = {name: d for name, (d, _) in layer_depths(graph).items()}
    numerics = graph.meta.numerics
    sources: dict[str, list[tuple[Any, int]]] = {}  # node -> [(process with s_out, extra exponent)]
    net = Network()
    for name in graph.topo_order():
        op = graph[name]
        if isinstance(op, IntInput):
            stream = _input_stream(op, values[name], steps, total)
            if op.encoding == "bitplane":
                sources[name] = [(RingBuffer(data=((stream >> b) & 1).astype(np.int32)), b) for b in range(op.bits)]
            else:
                sources[name] = [(RingBuffer(data=stream.astype(np.int32)), 0)]
        elif isinstance(op, IntPartialSum):
            relay = _partial_sum(name, op, graph, sources, numerics, GradedVec, Sparse)
            sources[name] = [(relay, 0)]
            if monitors:  # the payload p, recorded as the part's "v" (SPEC.md §int_partial_sum)
                monitor = Monitor()
                monitor.probe(relay.s_out, total)
                net.monitors[("v", name)] = (monitor, relay, "s_out")
        elif isinstance(op, IntLIF):
            neuron = _neuron(
                op, name, steps, depths[name], LIFReset, SnnccCLIF if isinstance(op, IntCLIF) else SnnccLIF
            )
            sources[name] = [(neuron, 0)]  # before its synapses: a recurrent one reads the layer itself
            for syn_name in graph.predecessors(name):
                syn = graph[syn_name]
                src_name = graph.predecessors(syn_name)[0]
                src = graph[src_name]
                for proc, extra_exp in sources[src_name]:
                    conn = _connection(syn, src, numerics, extra_exp, Dense, Sparse)
                    proc.s_out.connect(conn.s_in)
                    conn.a_out.connect(neuron.a_in)
                    if _recurrent(graph, syn_name):
                        net.recurrent[syn_name] = conn
            net.neurons[name] = neuron
            if not monitors:
                continue
            for var, port in (("spikes", neuron.s_out), ("v", neuron.v), *((("u", neuron.u),) if want_u else ())):
                monitor = Monitor()
                monitor.probe(port, total)
                net.monitors[(var, name)] = (monitor, neuron, "s_out" if var == "spikes" else var)
    return net


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
    if isinstance(src, IntInput) and src.encoding == "graded":
        return src.bits
    return src.payload_bits if isinstance(src, IntPartialSum) else 0


def _connection(syn, src, numerics, extra_exp: int, dense_cls, sparse_cls):
    kwargs = {
        "weight_exp": syn.weight_exp + extra_exp,
        "num_weight_bits": numerics.weight_bits,
        "num_message_bits": _message_bits(src),
    }
    # a split layer's identity join; a split conv's join is a 1x1 depthwise conv, which conv_matrix below
    # turns into the same sparse identity
    if isinstance(syn, IntDense) and isinstance(src, IntPartialSum):
        return sparse_cls(weights=sp.csr_matrix(syn.weight.array.astype(np.int32)), **kwargs)
    if isinstance(syn, IntDense):
        return dense_cls(weights=syn.weight.array.astype(np.int32), **kwargs)
    return sparse_cls(weights=conv_matrix(syn, tuple(src.shape)), **kwargs)


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


def _neuron(op: IntLIF, name: str, steps: int, depth: int, stock_cls, own_cls):
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
    if stock and not isinstance(op, IntCLIF):  # Intel's own model: the independent reference
        return stock_cls(**common)
    extra = {"clif": op} if isinstance(op, IntCLIF) else {}
    return own_cls(
        **common,
        **extra,
        v_init=op.v_init.array.reshape(-1),
        u_init=None if op.u_init is None else op.u_init.array.reshape(-1),
        subtract_reset=op.reset == "subtract",
        v_floor=op.v_floor,
        spiking=op.spiking,
    )
