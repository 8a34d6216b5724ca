"""Which source axons reach which neurons, computed per block of neurons without unrolling convs.

A *box* is a product of half-open index ranges over a layer's shape, e.g. channels 0..8,
rows 0..4, columns 0..8 of a (C, H, W) layer, or (start, stop) of a vector layer.  Mapping
places boxes of neurons on cores; the functions here count, for one box of a neuron layer,
how many of its synapses each source axon feeds (an array shaped like the source layer).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.ir import Conv2d, Dense, Graph, IntConv2d, IntDense, IntLIF, IntPartialSum, Op
from snncc.ir.ops.delay import delays

Box = tuple[tuple[int, int], ...]


def box_size(box: Box) -> int:
    return int(np.prod([b - a for a, b in box]))


def box_slices(box: Box) -> tuple[slice, ...]:
    return tuple(slice(a, b) for a, b in box)


def full_box(shape: tuple[int, ...]) -> Box:
    return tuple((0, s) for s in shape)


def flat_indices(box: Box, shape: tuple[int, ...]) -> np.ndarray:
    """C-order flat indices of the neurons in ``box`` of a layer shaped ``shape``."""
    grids = np.meshgrid(*[np.arange(a, b) for a, b in box], indexing="ij")
    return np.ravel_multi_index(tuple(g.reshape(-1) for g in grids), shape)


@dataclass(frozen=True)
class Projection:
    """One synapse op feeding a neuron layer: where it reads from and how many bit planes it has."""

    synapse: str
    op: IntDense | IntConv2d | Dense | Conv2d | IntPartialSum  # integer graphs; float canonical graphs for op counts
    source: str
    source_shape: tuple[int, ...]
    planes: int  # > 1 for bit-plane input: one copy of the synapses per plane
    from_host: bool  # the source is a graph input, sent by the host
    from_partial_sum: bool = False  # a split layer's join: identity weights, one synapse per neuron
    # bits of each synapse's delay field where an int_delay delays the source's axons: its largest
    # delay's width (nengo-loihi's bits_per_axon counts delay bits per synapse); 0 without delays
    delay_bits: int = 0


def projections(graph: Graph, layer: str) -> list[Projection]:
    if graph[layer].IS_RELAY:  # a partial sum reads its source through its own weights
        return [_projection(graph, layer, graph.predecessors(layer)[0])]
    return [_projection(graph, syn, graph.predecessors(syn)[0]) for syn in graph.predecessors(layer)]


def _projection(graph: Graph, synapse: str, read: str) -> Projection:
    """The synapse op's projection from the layer or input whose spikes it reads (through a delay: the
    delay's source, whose axons carry the delay; a delayed spike costs one synaptic op as any other)."""
    source = graph.carrier(read)
    src_op: Op = graph[source]
    planes = len(src_op.payload_ports())
    delay_bits = int(delays(graph[read]).max(initial=0)).bit_length() if read != source else 0
    return Projection(
        synapse, graph[synapse], source, tuple(src_op.shape), planes, src_op.IS_INPUT, src_op.IS_RELAY, delay_bits
    )


def neuron_layers(graph: Graph) -> list[tuple[str, IntLIF]]:
    """Everything placed on cores, in topological order: neuron layers and partial sums (compartments)."""
    return [(n, graph[n]) for n in graph.topo_order() if graph[n].IS_NEURON]


def consumers(graph: Graph, layer: str) -> list[tuple[str, Projection]]:
    """(consumer layer, projection) pairs for every synapse op (or partial sum) reading ``layer``."""
    out = []
    for syn in graph.successors(layer):
        if graph[syn].IS_RELAY:
            out.extend((syn, p) for p in projections(graph, syn))
            continue
        for dst in graph.successors(syn):
            if graph[dst].IS_NEURON:
                out.extend((dst, p) for p in projections(graph, dst) if p.synapse == syn)
    return out


def synapses_per_axon(p: Projection, out_shape: tuple[int, ...], box: Box) -> np.ndarray:
    """Synapses each source axon (one plane) has into the neurons of ``box``; shaped like the source."""
    conv = p.op.conv_view()
    if conv is None and p.from_partial_sum:  # a dense join: only the nonzero (identity) synapses
        rows = p.op.weight.array[flat_indices(box, out_shape)]
        return np.count_nonzero(rows, axis=0).reshape(p.source_shape).astype(np.int64)
    read = p.op.read_shape(p.source_shape)
    if conv is None:  # every input read reaches every neuron
        return _in_window(p, np.full(read, box_size(box), dtype=np.int64))
    return _in_window(p, _conv_counts(conv, read, box))


def _in_window(p: Projection, counts: np.ndarray) -> np.ndarray:
    """Counts over what the op reads, placed in the source: a partial sum reads some columns (input channels)."""
    part = p.op.part_of_source()
    if part is None:
        return counts.reshape(p.source_shape)
    out = np.zeros(p.source_shape if p.op.is_conv else int(np.prod(p.source_shape)), dtype=np.int64)
    out[part[0] : part[0] + len(counts)] = counts
    return out.reshape(p.source_shape)


def used_synapse_counts(p: Projection, out_shape: tuple[int, ...], box: Box) -> np.ndarray:
    """The nonzero entries of synapses_per_axon (in no particular order): for a plain convolution the
    product of its per-axis factors over their nonzero entries only, never a source-sized array."""
    if p.op.is_conv and p.op.part_of_source() is None:
        factors = [f[f > 0] for f in _conv_factors(p.op, p.source_shape, box)]
        return np.multiply.outer(np.multiply.outer(factors[0], factors[1]), factors[2]).ravel()
    counts = synapses_per_axon(p, out_shape, box)
    return counts[counts > 0]


def _conv_counts(op: IntConv2d, src_shape: tuple[int, ...], box: Box) -> np.ndarray:
    """Separable count: channel pairs x kernel rows reaching y x kernel columns reaching x."""
    in_count, rows, cols = _conv_factors(op, src_shape, box)
    return in_count[:, None, None] * rows[None, :, None] * cols[None, None, :]


def _conv_factors(op: IntConv2d, src_shape: tuple[int, ...], box: Box) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per input channel, row and column: how many (output channel / row / column, kernel tap) pairs read it."""
    (c0, c1), (y0, y1), (x0, x1) = box
    c_out, c_in_g, kh, kw = op.weight.shape
    per_group = c_out // op.groups
    out_channels = np.arange(c0, c1)
    in_count = np.zeros(src_shape[0], dtype=np.int64)
    for g in np.unique(out_channels // per_group):
        in_count[g * c_in_g : (g + 1) * c_in_g] += int(np.sum(out_channels // per_group == g))
    rows = _reach(range(y0, y1), kh, op.stride[0], op.padding[0], op.dilation[0], src_shape[1])
    cols = _reach(range(x0, x1), kw, op.stride[1], op.padding[1], op.dilation[1], src_shape[2])
    return in_count, rows, cols


def _reach(outputs: range, k: int, stride: int, pad: int, dil: int, size: int) -> np.ndarray:
    """For each input coordinate, how many (output in ``outputs``, kernel tap) pairs read it."""
    pos = np.arange(outputs.start, outputs.stop)[:, None] * stride - pad + np.arange(k)[None, :] * dil
    pos = pos[(pos >= 0) & (pos < size)]
    return np.bincount(pos, minlength=size).astype(np.int64)


def nonzero_fan_out(p: Projection) -> np.ndarray:
    """Synapses with a nonzero weight leaving each source axon (one plane); shaped like the source."""
    conv, read = p.op.conv_view(), p.op.read_shape(p.source_shape)
    if conv is None:
        return _in_window(p, np.count_nonzero(p.op.weight.array, axis=0).reshape(read).astype(np.int64))
    return _in_window(p, _conv_fan_out(conv, read))


def _conv_fan_out(op: IntConv2d | Conv2d, src_shape: tuple[int, ...]) -> np.ndarray:
    """Synapses with a nonzero weight leaving each input of a conv over maps shaped ``src_shape``."""
    w = op.weight.array
    c_out, c_in_g, kh, kw = w.shape
    _, oh, ow = op.shape
    per_group = c_out // op.groups
    out = np.zeros(src_shape, dtype=np.int64)
    nz = w != 0
    for ky in range(kh):
        rows = np.arange(oh) * op.stride[0] - op.padding[0] + ky * op.dilation[0]
        rows = rows[(rows >= 0) & (rows < src_shape[1])]
        for kx in range(kw):
            cols = np.arange(ow) * op.stride[1] - op.padding[1] + kx * op.dilation[1]
            cols = cols[(cols >= 0) & (cols < src_shape[2])]
            for g in range(op.groups):
                taps = nz[g * per_group : (g + 1) * per_group, :, ky, kx].sum(axis=0)  # per input channel
                out[g * c_in_g : (g + 1) * c_in_g, rows[:, None], cols[None, :]] += taps[:, None, None]
    return out
