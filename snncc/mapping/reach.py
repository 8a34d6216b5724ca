"""Which source neurons reach which cores, counted without layer-sized masks where the reach is separable.

A convolution's (or a dense layer's) inputs that reach a box of output neurons form a product of
one set per source axis (input channels x rows x columns), so the neurons of a source box reaching
it are a product of per-axis counts, read from prefix sums.  Counting every (source piece,
destination core) pair this way costs a few array operations per layer pair instead of a mask the
size of the source layer per destination core, which a 1 M-neuron network cannot afford.  Where a
core holds a few pieces reading one layer, their reach is a union, counted by inclusion-exclusion;
where it holds more, or the connection is not separable (a split layer's windows and joins), the
exact mask of resources.destination_masks is used.
"""

from __future__ import annotations

import itertools
from collections import defaultdict

import numpy as np

from snncc.ir import Graph

from .connectivity import Projection, box_slices, consumers
from .placement import Piece
from .resources import destination_masks


def axis_sets(p: Projection, box) -> list[np.ndarray] | None:
    """Per source axis, a 0/1 array of the indices reaching ``box``; None where the reach is not a product."""
    if p.from_partial_sum or p.op.part_of_source() is not None:  # a split layer's joins and windows
        return None
    if not p.op.is_conv:
        return [np.ones(s, dtype=np.int64) for s in p.source_shape]
    (c0, c1), (y0, y1), (x0, x1) = box
    op = p.op
    c_out, c_in_g, kh, kw = op.weight.shape
    per_group = c_out // op.groups
    channels = np.zeros(p.source_shape[0], dtype=np.int64)
    for g in np.unique(np.arange(c0, c1) // per_group):
        channels[g * c_in_g : (g + 1) * c_in_g] = 1
    rows = _hit(y0, y1, kh, op.stride[0], op.padding[0], op.dilation[0], p.source_shape[1])
    cols = _hit(x0, x1, kw, op.stride[1], op.padding[1], op.dilation[1], p.source_shape[2])
    return [channels, rows, cols]


def _hit(start: int, stop: int, k: int, stride: int, pad: int, dil: int, size: int) -> np.ndarray:
    pos = np.arange(start, stop)[:, None] * stride - pad + np.arange(k)[None, :] * dil
    out = np.zeros(size, dtype=np.int64)
    out[pos[(pos >= 0) & (pos < size)]] = 1
    return out


def _box_counts(sets: list[np.ndarray], boxes: np.ndarray) -> np.ndarray:
    """For (n, axes, 2) source boxes: how many of each box's neurons lie in the product of ``sets``."""
    total = np.ones(len(boxes), dtype=np.int64)
    for axis, indicator in enumerate(sets):
        prefix = np.concatenate([[0], np.cumsum(indicator)])
        total *= prefix[boxes[:, axis, 1]] - prefix[boxes[:, axis, 0]]
    return total


MAX_UNION = 4  # readers on one core counted by inclusion-exclusion (2^k - 1 products); more: the exact mask


def _union_counts(all_sets: list[list[np.ndarray]], boxes: np.ndarray) -> np.ndarray:
    """Neurons of each box in the union of several products: inclusion-exclusion, since the
    intersection of products is the product of the per-axis intersections."""
    total = np.zeros(len(boxes), dtype=np.int64)
    for k in range(1, len(all_sets) + 1):
        for subset in itertools.combinations(all_sets, k):
            common = [np.minimum.reduce([sets[axis] for sets in subset]) for axis in range(len(subset[0]))]
            total += (-1) ** (k + 1) * _box_counts(common, boxes)
    return total


def reach_counts(graph: Graph, core_pieces: list[tuple[int, Piece]]) -> dict[tuple[int, int], dict[int, int]]:
    """{(source core, index of the piece in core_pieces): {destination core: neurons of the piece reaching it}}."""
    out: dict[tuple[int, int], dict[int, int]] = defaultdict(dict)
    by_layer: dict[str, list[int]] = defaultdict(list)
    for i, (_, piece) in enumerate(core_pieces):
        by_layer[piece.layer].append(i)
    for layer, members in by_layer.items():
        readers: dict[int, list[tuple[Piece, Projection]]] = defaultdict(
            list
        )  # destination core -> what reads layer there
        for dst, proj in consumers(graph, layer):
            for i in by_layer.get(dst, []):
                readers[core_pieces[i][0]].append((core_pieces[i][1], proj))
        boxes = np.array([core_pieces[i][1].box for i in members], dtype=np.int64).reshape(len(members), -1, 2)
        exact_cores = []
        for core, reading in readers.items():
            all_sets = [axis_sets(proj, piece.box) for piece, proj in reading] if len(reading) <= MAX_UNION else [None]
            if any(sets is None for sets in all_sets):
                exact_cores.append(core)
                continue
            for i, n in zip(members, _union_counts(all_sets, boxes), strict=True):  # type: ignore[arg-type]
                if n:
                    out[(core_pieces[i][0], i)][core] = int(n)
        if exact_cores:
            wanted = set(exact_cores)
            masks = destination_masks(graph, layer, [(c, p) for c, p in core_pieces if c in wanted])
            for core, mask in masks:
                for i in members:
                    n = int(mask[box_slices(core_pieces[i][1].box)].sum())
                    if n:
                        out[(core_pieces[i][0], i)][core] = n
    return out


def fan_out(graph: Graph, core_pieces: list[tuple[int, Piece]]) -> dict[int, int]:
    """Output axons per core: each neuron needs one per distinct destination core (as resources.fan_out_exact)."""
    outs = {core: 0 for core, _ in core_pieces}
    for (core, _), reached in reach_counts(graph, core_pieces).items():
        outs[core] += sum(reached.values())
    return outs


__all__ = ["axis_sets", "fan_out", "reach_counts"]
