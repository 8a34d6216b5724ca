"""Split neuron layers into core-sized blocks and pack the blocks onto cores.

1. Each layer is cut into equal blocks, each fitting one core alone: vector layers into
   index ranges, (C, H, W) layers into spatial tiles with as many channels as fit (a tile's
   receptive field, and so its input axons, grows with its area, not with its channels).
   The block shape chosen is the one that needs the fewest cores.
2. Blocks are packed first-fit, in topological order, onto cores whose neurons, input axons
   and synapse memory are all still within limits (summed conservatively); a memory-bound conv
   block that fits no open core is cut so that its first part fills the latest core.
3. Output axons are counted once the destinations are known (estimated per neuron while
   slicing, raised where cores overflow, then re-estimated from the packing to save cores).
4. The cores are arranged on the chips' meshes by spike traffic (arrange.py).
Deterministic: the same graph and target always give the same placement.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np

from snncc.errors import Diagnostic, MappingError
from snncc.families import family_of
from snncc.ir import Graph, IntLIF
from snncc.target import Target

from .arrange import arrange, mesh_position
from .bound import lower_bound, lower_bound_detail
from .connectivity import Box, box_size, consumers, neuron_layers
from .drc import check_design_rules
from .placement import Core, CoreUsage, LayerSplit, Piece, Placement
from .reach import reach_counts
from .resources import memory_bits, piece_inputs, translation_key


def partition(graph: Graph, target: Target, *, firing_rates: dict[str, np.ndarray] | None = None) -> Placement:
    """Place every neuron of ``graph`` on ``target``'s cores or raise MappingError naming what does not fit.

    ``firing_rates`` (spikes per neuron per step, per layer, e.g. measured on calibration data)
    weight the spike traffic the core arrangement minimises; without them every neuron counts alike.
    """
    try:
        return _partition(graph, target, firing_rates)
    finally:
        _INPUTS.clear()  # keyed by the graph's id: valid during one call only


def _partition(graph: Graph, target: Target, firing_rates: dict[str, np.ndarray] | None) -> Placement:
    errors = [d for d in check_design_rules(graph, target) if d.severity == "error"]
    if errors:
        raise MappingError(diagnostics=errors)
    return family_of(target.numerics).place(graph, target, firing_rates)


def place_on_mesh(graph: Graph, target: Target, firing_rates: dict[str, np.ndarray] | None) -> Placement:
    """The Loihi family's placer: layers cut into blocks, packed onto a mesh of cores (the module's steps)."""
    # output axons depend on where the next layer lands, so they are estimated per neuron (one per
    # destination core) and the estimate raised for layers whose cores end up over the limit
    destinations = {layer: 1 if consumers(graph, layer) else 0 for layer, _ in neuron_layers(graph)}
    for _ in range(MAX_FAN_OUT_ROUNDS):
        bins, splits, reached = _pack_layers(graph, target, destinations)
        # output axons over their limit, or (where the memory holds the axon map) over the memory
        over = [usage for _, usage in bins if not _fits(usage, target)]
        if not over:
            break
        raised = dict(destinations)  # once per round: each over core raising it by one more would overshoot
        for members, usage in bins:
            if _fits(usage, target):
                continue
            per_neuron = math.ceil(usage.fan_out_axons / usage.neurons)
            for layer in dict.fromkeys(p.layer for p in members):
                raised[layer] = max(raised[layer], destinations[layer] + 1, per_neuron)
        destinations = raised
    bins, splits, reached = _refine(graph, target, destinations, (bins, splits, reached))
    # the cores onto the chips' meshes, once the packing is final
    arrangement = arrange(graph, target, [members for members, _ in bins], firing_rates, reached)
    cores = [_core(i, members, usage, target) for i, (members, usage) in enumerate(bins[b] for b in arrangement.order)]
    _check_totals(cores, target)
    bound = lower_bound_detail(graph, target)
    return Placement(
        target=target.name,
        cores=tuple(cores),
        lower_bound_cores=bound.cores,
        lower_bound_binding=bound.binding,
        traffic=arrangement.summary,
        layers=tuple(splits),
    )


MAX_FAN_OUT_ROUNDS = 8
_INPUTS: dict[tuple[int, str], dict[tuple, tuple[int, int]]] = {}  # piece_inputs by translation_key


def _core(index: int, members: list[Piece], usage: CoreUsage, target: Target) -> Core:
    return Core(index, index // int(target.cores_per_chip), mesh_position(index, target), tuple(members), usage)


REFINE_MARGIN = 1.05  # output axons per neuron re-estimated from a packing, with this margin
REFINE_ROUNDS = 4


def _refine(graph: Graph, target: Target, destinations: dict[str, float], packed: tuple) -> tuple:
    """Pack again with each layer's output axons per neuron as the packing measured them (a conv tile's
    neurons mostly reach one core, only its border more, where the estimate counted every neuron alike),
    raising layers on over-full cores by 10 % a round; kept only when every core fits and fewer cores are used."""
    best = packed
    estimate = {layer: min(d, REFINE_MARGIN * per) for layer, (d, per) in _measured(packed, destinations).items()}
    for _ in range(REFINE_ROUNDS):
        if estimate == destinations:
            break
        again = _pack_layers(graph, target, estimate)
        over = {p.layer for members, usage in again[0] if not _fits(usage, target) for p in members}
        if not over:
            return again if len(again[0]) < len(best[0]) else best
        estimate = {layer: min(destinations[layer], d * 1.1) if layer in over else d for layer, d in estimate.items()}
    return best


def _measured(packed: tuple, destinations: dict[str, float]) -> dict[str, tuple[float, float]]:
    """Per layer: (its current estimate, the output axons per neuron its pieces have in ``packed``)."""
    bins, _, reached = packed
    core_pieces = [piece for members, _ in bins for piece in members]
    neurons: dict[str, int] = dict.fromkeys(destinations, 0)
    outs: dict[str, int] = dict.fromkeys(destinations, 0)
    for piece in core_pieces:
        neurons[piece.layer] += piece.neurons
    for (_, i), reached_from in reached.items():
        outs[core_pieces[i].layer] += sum(reached_from.values())
    return {layer: (d, outs[layer] / max(neurons[layer], 1)) for layer, d in destinations.items()}


def _pack_layers(
    graph: Graph, target: Target, destinations: dict[str, float]
) -> tuple[list[tuple[list[Piece], CoreUsage]], list[LayerSplit], dict[tuple[int, int], dict[int, int]]]:
    """Slice and pack every layer; each packed core's usage with its exact output axons, and which
    neurons of each piece reach which core (the spike traffic the arrangement weighs)."""
    pieces: list[tuple[Piece, CoreUsage]] = []
    splits = []
    for layer, op in neuron_layers(graph):
        layer_pieces = _slice_layer(graph, target, layer, op, destinations[layer])
        splits.append(_split_summary(layer, layer_pieces, target))
        pieces += layer_pieces
    # cut to fill cores only conv layers bound by synapse memory: a cut tile adds input axons (its halo) and
    # a cut dense layer adds output axons to its sources, so otherwise the cut costs more than the fill
    # gains (measured: benchmarks/mapping.py)
    cuttable = {s.layer for s in splits if s.binding == "synapse memory" and len(graph[s.layer].shape) == 3}

    def usage_of(p: Piece) -> CoreUsage:
        return _usage(graph, target, p, destinations[p.layer])

    bins = _pack(pieces, target, usage_of, cuttable)
    if cuttable and len(pieces) <= ANY_AXIS_MAX_PIECES:
        finer = _pack(pieces, target, usage_of, cuttable, any_axis=True)
        bins = finer if len(finer) < len(bins) else bins
    counts: dict[str, int] = {}
    for members, _ in bins:
        for p in members:
            counts[p.layer] = counts.get(p.layer, 0) + 1
    splits = [dataclasses.replace(s, pieces=counts[s.layer]) for s in splits]  # after cuts that fill cores
    reached = reach_counts(graph, [(i, piece) for i, (members, _) in enumerate(bins) for piece in members])
    outs = dict.fromkeys(range(len(bins)), 0)
    for (b, _), to in reached.items():
        outs[b] += sum(to.values())
    exact = [
        (members, CoreUsage(u.neurons, u.synapse_bits, u.fan_in_axons, outs[i])) for i, (members, u) in enumerate(bins)
    ]
    return exact, splits, reached


def _split_summary(layer: str, pieces: list[tuple[Piece, CoreUsage]], target: Target) -> LayerSplit:
    pc = target.per_core
    largest = max(pieces, key=lambda item: item[0].neurons)[1]
    use = {
        "neurons": largest.neurons / pc.neurons.value,
        "input axons": largest.fan_in_axons / pc.fan_in_axons.value,
        "synapse memory": memory_bits(largest, target) / pc.synapse_memory_bits.value,
        # estimated as neurons x destination cores while slicing (the exact count comes after packing)
        "output axons": largest.fan_out_axons / pc.fan_out_axons.value,
    }
    binding = max(use, key=use.__getitem__)
    return LayerSplit(layer, len(pieces), largest.neurons, binding, round(use[binding], 4))


def _fits(usage: CoreUsage, target: Target) -> bool:
    pc = target.per_core
    return (
        usage.neurons <= pc.neurons.value
        and usage.fan_in_axons <= pc.fan_in_axons.value
        and memory_bits(usage, target) <= pc.synapse_memory_bits.value
        and usage.fan_out_axons <= pc.fan_out_axons.value
    )


def _usage(graph: Graph, target: Target, piece: Piece, destinations: float) -> CoreUsage:
    """Input axons and synapse memory exactly; output axons as the estimate neurons x destinations."""
    key = translation_key(graph, piece)  # equal for boxes that differ only by a shift away from borders
    if key is None:
        axons, bits = piece_inputs(graph, target, piece)
    else:
        cache = _INPUTS.setdefault((id(graph), target.name), {})
        if key not in cache:
            cache[key] = piece_inputs(graph, target, piece)
        axons, bits = cache[key]
    return CoreUsage(piece.neurons, bits, axons, math.ceil(piece.neurons * destinations))


def _slice_layer(
    graph: Graph, target: Target, layer: str, op: IntLIF, destinations: float
) -> list[tuple[Piece, CoreUsage]]:
    shape = op.shape
    block = _best_block(graph, target, layer, shape, destinations)
    if block is None:  # the design rules should have caught this; say what happened anyway
        raise MappingError("no block of this layer fits one core", code="MAP010", node=layer)
    ranges = [[(a, min(a + b, s)) for a in range(0, s, b)] for s, b in zip(shape, block, strict=True)]
    boxes: list[Box] = [tuple(r) for r in _product(ranges)]
    return [(p, _usage(graph, target, p, destinations)) for p in (Piece(layer, box) for box in boxes)]


def _product(ranges: list[list[tuple[int, int]]]) -> list[list[tuple[int, int]]]:
    out: list[list[tuple[int, int]]] = [[]]
    for options in ranges:
        out = [[*prefix, r] for prefix in out for r in options]
    return out


def _best_block(
    graph: Graph, target: Target, layer: str, shape: tuple[int, ...], destinations: float
) -> tuple[int, ...] | None:
    """The block shape (one extent per axis) needing the fewest cores; ties: fewer input axons."""

    def fits(block: tuple[int, ...]) -> bool:
        if int(np.prod(block)) > target.per_core.neurons.value:
            return False
        centre = tuple(((s - b) // 2, (s - b) // 2 + b) for s, b in zip(shape, block, strict=True))
        return _fits(_usage(graph, target, Piece(layer, centre), destinations), target)

    if len(shape) != 3:
        n = int(np.prod(shape))
        k = _largest(lambda k: fits((k,) if len(shape) == 1 else (k, *shape[1:])), n)
        return None if k == 0 else ((k,) if len(shape) == 1 else (k, *shape[1:]))
    c, h, w = shape
    best: tuple[tuple[int, int], tuple[int, int, int]] | None = None
    for cc in sorted({d for d in range(1, c + 1) if c % d == 0 or d == c}, reverse=True):
        # per count of row tiles r only the shortest tiles, ceil(h / r) rows, matter (they fit most)
        for th in sorted({-(-h // r) for r in range(1, h + 1)}, reverse=True):
            tw = _largest(lambda tw, cc=cc, th=th: fits((cc, th, tw)), w)
            if tw == 0:
                continue
            cores = math.ceil(c / cc) * math.ceil(h / th) * math.ceil(w / tw)
            axons = piece_inputs(graph, target, Piece(layer, ((0, cc), (0, th), (0, tw))))[0]
            key = (cores, axons * cores)
            if best is None or key < best[0]:
                best = (key, (cc, th, tw))
    return None if best is None else best[1]


def _largest(ok, upper: int) -> int:
    """Largest k in 1..upper with ok(k), assuming ok is monotone (true, then false); 0 if none."""
    if upper < 1 or not ok(1):
        return 0
    lo, hi = 1, upper
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid - 1
    return lo


PACK_WINDOW = 64  # first fit among the latest cores opened: earlier ones are full (and far in the layer order)
FILL_MIN_PART = 1 / 8  # a piece is cut to fill a core's rest only if the part moved is at least this share of it
# a second packing that cuts along any axis, channels included, is tried only up to this many pieces: it fills
# cores more closely (VGG on nahuku32: 288 cores instead of 310) but costs time, and on the 1 M-neuron net its
# fragments cost cores (2,800 instead of 2,511; benchmarks/mapping.py)
ANY_AXIS_MAX_PIECES = 1000


def _pack(
    pieces: list[tuple[Piece, CoreUsage]],
    target: Target,
    usage_of: Callable[[Piece], CoreUsage],
    cuttable: set[str] = frozenset(),  # type: ignore[assignment]
    any_axis: bool = False,
) -> list[tuple[list[Piece], CoreUsage]]:
    """First fit; a piece that fits none of the open cores is cut so that its first part fills the
    latest core's rest (core-sized pieces alone would leave every core partly empty)."""
    bins: list[tuple[list[Piece], CoreUsage]] = []
    todo = list(reversed(pieces))
    while todo:
        piece, usage = todo.pop()
        for i in range(max(0, len(bins) - PACK_WINDOW), len(bins)):
            members, used = bins[i]
            if _fits(used + usage, target):
                bins[i] = ([*members, piece], used + usage)
                break
        else:
            cut = _fill(bins[-1][1], piece, target, usage_of, any_axis) if bins and piece.layer in cuttable else None
            if cut is None:
                bins.append(([piece], usage))
                continue
            (head, head_usage), rest = cut
            members, used = bins[-1]
            bins[-1] = ([*members, head], used + head_usage)
            todo.append((rest, usage_of(rest)))
    return bins


def _fill(
    used: CoreUsage, piece: Piece, target: Target, usage_of: Callable[[Piece], CoreUsage], any_axis: bool = False
) -> tuple[tuple[Piece, CoreUsage], Piece] | None:
    """The largest first part of ``piece`` along its last axis longer than 1 (``any_axis``: along the axis
    whose part is the largest share of the piece, channels included) that still fits beside ``used``, and
    the rest; None when no part of at least FILL_MIN_PART of the piece fits."""
    axes = [a for a, (lo, hi) in enumerate(piece.box) if hi - lo > 1]
    best: tuple[float, int, int] | None = None  # (share, axis, extent)
    for axis in axes if any_axis else axes[-1:]:
        extent = piece.box[axis][1] - piece.box[axis][0]
        t = _largest(lambda t, axis=axis: _fits(used + usage_of(_part(piece, axis, 0, t)), target), extent - 1)
        if t and (best is None or t / extent > best[0]):
            best = (t / extent, axis, t)
    if best is None or best[0] < FILL_MIN_PART:
        return None
    _, axis, t = best
    head = _part(piece, axis, 0, t)
    return (head, usage_of(head)), _part(piece, axis, t, piece.box[axis][1] - piece.box[axis][0])


def _part(piece: Piece, axis: int, start: int, stop: int) -> Piece:
    """``piece`` cut to its [start, stop) along ``axis`` (offsets from the box's own start)."""
    lo = piece.box[axis][0]
    return Piece(piece.layer, tuple((lo + start, lo + stop) if a == axis else r for a, r in enumerate(piece.box)))


def _check_totals(cores: list[Core], target: Target) -> None:
    diags = []
    limit = target.per_core.fan_out_axons.value
    memory = target.per_core.synapse_memory_bits.value
    for core in cores:
        if core.usage.fan_out_axons <= limit and memory_bits(core.usage, target) > memory:  # the axon map's share
            diags.append(
                Diagnostic(
                    "error",
                    "MAP012",
                    f"core {core.index} needs {memory_bits(core.usage, target)} bits of memory with its axon map "
                    f"({core.usage.fan_out_axons} output axons); a core on {target.name} has {int(memory)}",
                    node=core.layers[0],
                    hint="reduce the number of cores the next layer is spread over (fewer, larger layers)",
                )
            )
        if core.usage.fan_out_axons > limit:
            diags.append(
                Diagnostic(
                    "error",
                    "MAP012",
                    f"core {core.index} needs {core.usage.fan_out_axons} output axons; a core on {target.name} has {int(limit)}",
                    node=core.layers[0],
                    hint="reduce the number of cores the next layer is spread over (fewer, larger layers)",
                )
            )
    if len(cores) > target.total_cores:
        per_layer: dict[str, int] = {}
        for core in cores:
            for layer in core.layers:
                per_layer[layer] = per_layer.get(layer, 0) + 1
        biggest = sorted(per_layer.items(), key=lambda item: -item[1])
        breakdown = ", ".join(f"{layer}: {n}" for layer, n in biggest[:6])
        diags.append(
            Diagnostic(
                "error",
                "MAP013",
                f"the network needs {len(cores)} cores; {target.name} has {target.total_cores} "
                f"(cores per layer, largest first: {breakdown})",
                node=biggest[0][0],
                hint="reduce the largest layers (channels, or conv maps: Loihi 1 stores every conv synapse), "
                "or choose a target with more cores or chips (e.g. nahuku32)",
            )
        )
    if diags:
        raise MappingError(diagnostics=diags)


__all__ = ["box_size", "lower_bound", "partition"]
