"""Arrange packed cores on chips and meshes so that busy connections are short.

The expected spike traffic between cores (firing rate x destinations, from measured rates when
given) is a weighted graph; networkx's spectral ordering lines up cores that exchange many spikes,
the order is cut into chips, and each chip's mesh is filled in snake order so consecutive cores
are neighbours.  The arrangement is kept only if it costs less than the plain topological order
(cost: spike messages x mesh hops, a message between chips counting chip_hop_pj/hop_pj hops).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from snncc.ir import Graph
from snncc.target import Target

from .connectivity import box_slices
from .placement import Piece
from .reach import reach_counts


@dataclass(frozen=True)
class Arrangement:
    order: list[int]  # core k holds the packed bin order[k]
    summary: tuple[tuple[str, Any], ...]


def mesh_position(core: int, target: Target) -> tuple[int, int]:
    """(column, row) of a core on its chip's mesh, rows filled in alternating directions."""
    local = core % int(target.cores_per_chip)
    columns = target.mesh[0]
    row, col = divmod(local, columns)
    return (col if row % 2 == 0 else columns - 1 - col, row)


def traffic(
    graph: Graph,
    bins: list[list[Piece]],
    rates: dict[str, np.ndarray] | None,
    reached: dict[tuple[int, int], dict[int, int]] | None = None,
) -> dict[tuple[int, int], float]:
    """Expected spike messages per step from bin i to bin j (i != j included only when positive): the
    neurons of each piece reaching j, times the piece's mean measured rate (1 without rates).
    ``reached``: reach_counts of these bins, where already computed."""
    core_pieces = [(i, piece) for i, members in enumerate(bins) for piece in members]
    out: dict[tuple[int, int], float] = {}
    for (src, i), reached_from in (reached or reach_counts(graph, core_pieces)).items():
        piece = core_pieces[i][1]
        rate = 1.0
        if rates is not None and piece.layer in rates:
            layer_rates = np.asarray(rates[piece.layer]).reshape(graph[piece.layer].shape)
            rate = float(layer_rates[box_slices(piece.box)].mean())
        for dst, n in reached_from.items():
            if n * rate > 0:
                out[(src, dst)] = out.get((src, dst), 0.0) + n * rate
    return out


def cost(order: list[int], flows: dict[tuple[int, int], float], target: Target) -> tuple[float, float, float]:
    """(weighted cost, messages between cores, messages between chips) of placing bin order[k] on core k."""
    where = {b: k for k, b in enumerate(order)}
    per_chip = int(target.cores_per_chip)
    chip_hops = target.energy.chip_hop_pj.value / max(target.energy.hop_pj.value, 1e-12)
    total = between = across = 0.0
    for (a, b), w in flows.items():
        ka, kb = where[a], where[b]
        if ka == kb:
            continue
        between += w
        if ka // per_chip != kb // per_chip:
            across += w
            total += w * chip_hops
        else:
            (xa, ya), (xb, yb) = mesh_position(ka, target), mesh_position(kb, target)
            total += w * (abs(xa - xb) + abs(ya - yb))
    return total, between, across


def arrange(
    graph: Graph,
    target: Target,
    bins: list[list[Piece]],
    rates: dict[str, np.ndarray] | None,
    reached: dict[tuple[int, int], dict[int, int]] | None = None,
) -> Arrangement:
    n = len(bins)
    plain = list(range(n))
    flows = traffic(graph, bins, rates, reached) if n > 1 else {}
    candidates = {"topological": plain}
    if n > 2 and flows:
        g = nx.Graph()
        g.add_nodes_from(plain)
        for (a, b), w in flows.items():
            if a != b:
                g.add_edge(a, b, weight=g.get_edge_data(a, b, {"weight": 0.0})["weight"] + w)
        if g.number_of_edges():
            with warnings.catch_warnings():  # networkx 2.8 announces its 3.0 sparse-array change
                warnings.simplefilter("ignore", FutureWarning)
                order = nx.spectral_ordering(g, weight="weight", seed=0)
            candidates["spectral"] = [int(v) for v in order]
    if n > 2:
        candidates["spatial"] = spatial_order(graph, bins)
    if n > 2 and flows:  # refine the best ordering by swaps that shorten busy connections
        start = min(candidates.values(), key=lambda order: cost(order, flows, target)[0])
        if n > int(target.cores_per_chip):  # chip crossings cost most: fewer of them first, then the meshes
            start = regroup(start, flows, target)
        candidates["swaps"] = improve(start, flows, target)
    scored = {name: cost(order, flows, target) for name, order in candidates.items()}
    best = min(scored, key=lambda name: (scored[name][0], name != "topological"))
    weighted, between, across = scored[best]
    summary = (
        ("ordering", best),
        ("rates", "measured" if rates is not None else "uniform"),
        ("cost_topological_order", round(scored["topological"][0], 3)),
        ("cost", round(weighted, 3)),
        ("messages_between_cores_per_step", round(between, 3)),
        ("messages_between_chips_per_step", round(across, 3)),
    )
    return Arrangement(order=candidates[best], summary=summary)


SPATIAL_BANDS = 8


def spatial_order(graph: Graph, bins: list[list[Piece]]) -> list[int]:
    """Cores ordered by where their neurons sit in the image (bands of rows, then columns), then by
    layer: a region of every conv layer stays together, so a chip boundary cuts only halo traffic."""
    rank = {name: i for i, name in enumerate(graph.topo_order())}

    def key(b: int) -> tuple[float, float, int]:
        ys, xs = [], []
        for p in bins[b]:
            if len(p.box) == 3:
                (_, _), (y0, y1), (x0, x1) = p.box
                _, h, w = graph[p.layer].shape
                ys.append((y0 + y1) / 2 / h)
                xs.append((x0 + x1) / 2 / w)
        y, x = (float(np.mean(ys)), float(np.mean(xs))) if ys else (1.0, 1.0)  # vector layers: at the end
        band = min(int(y * SPATIAL_BANDS), SPATIAL_BANDS - 1)
        return (band, x if band % 2 == 0 else -x, min(rank[p.layer] for p in bins[b]))

    return sorted(range(len(bins)), key=key)


REGROUP_PASSES = 8


def regroup(order: list[int], flows: dict[tuple[int, int], float], target: Target) -> list[int]:
    """Swap cores between chips while that lowers the spikes crossing chips (Kernighan-Lin style: per
    core, the chip it talks to most, and there the core whose swap gains most).  Swaps keep every chip
    as full as before; within a chip the cores keep their order, so improve() starts from a near layout."""
    n = len(order)
    per_chip = int(target.cores_per_chip)
    weights = np.zeros((n, n))
    for (a, b), w in flows.items():
        if a != b:
            weights[a, b] += w
            weights[b, a] += w
    chip = np.empty(n, dtype=np.int64)
    chip[np.asarray(order)] = np.arange(n) // per_chip
    chips = int(chip.max()) + 1
    to_chip = weights @ np.eye(chips)[chip]  # to_chip[b, c]: b's spikes to and from chip c
    rows = np.arange(n)
    for _ in range(REGROUP_PASSES):
        swapped = False
        for b in np.argsort(to_chip[rows, chip] - to_chip.sum(axis=1), kind="stable").tolist():  # most outside first
            a = int(chip[b])
            gain = to_chip[b] - to_chip[b, a]
            gain[a] = -np.inf
            dest = int(np.argmax(gain))
            if gain[dest] <= 0:
                continue
            others = np.flatnonzero(chip == dest)
            total = gain[dest] + to_chip[others, a] - to_chip[others, dest] - 2 * weights[b, others]
            best = int(np.argmax(total))
            if total[best] <= 1e-9:
                continue
            _swap(weights, chip, to_chip, b, int(others[best]))
            swapped = True
        if not swapped:
            break
    if n <= LOOKAHEAD_MAX_CORES:
        _lookahead(weights, chip, to_chip)
    rank = {b: k for k, b in enumerate(order)}
    return sorted(order, key=lambda b: (int(chip[b]), rank[b]))


LOOKAHEAD_MAX_CORES = 1000  # n x n gains per swap: cheap up to here
LOOKAHEAD_PASSES = 4


def _lookahead(weights: np.ndarray, chip: np.ndarray, to_chip: np.ndarray) -> None:
    """Fiduccia-Mattheyses passes (in place): take the best swap of two unlocked cores of different chips
    even when it gains nothing, lock both, and keep the sequence up to its best point: escapes the local
    minima single improving swaps stop in."""
    n = len(chip)
    rows = np.arange(n)
    for _ in range(LOOKAHEAD_PASSES):
        locked = np.zeros(n, dtype=bool)
        done: list[tuple[int, int]] = []
        total = best_total = 0.0
        best_len = 0
        for _ in range(n // 2):
            own = to_chip[rows, chip]
            gain = to_chip[:, chip].T - own[None, :]  # gain[c, b]: b moved to c's chip
            pair = gain + gain.T - 2 * weights
            pair[(chip[:, None] == chip[None, :]) | locked[:, None] | locked[None, :]] = -np.inf
            b, c = np.unravel_index(int(np.argmax(pair)), pair.shape)
            if not np.isfinite(pair[b, c]):
                break
            total += float(pair[b, c])
            _swap(weights, chip, to_chip, int(b), int(c))
            locked[[b, c]] = True
            done.append((int(b), int(c)))
            if total > best_total + 1e-9:
                best_total, best_len = total, len(done)
        for b, c in reversed(done[best_len:]):
            _swap(weights, chip, to_chip, b, c)
        if best_len == 0:
            break


def _swap(weights: np.ndarray, chip: np.ndarray, to_chip: np.ndarray, b: int, c: int) -> None:
    a, dest = int(chip[b]), int(chip[c])
    chip[b], chip[c] = dest, a
    shift = weights[:, b] - weights[:, c]  # b leaves a for dest, c leaves dest for a
    to_chip[:, a] -= shift
    to_chip[:, dest] += shift


def _weighted_median(values: list[int], weights: list[float]) -> int:
    order = np.argsort(values, kind="stable")
    cum = np.cumsum(np.asarray(weights)[order])
    return int(np.asarray(values)[order][int(np.searchsorted(cum, cum[-1] / 2))])


SWAP_TRIES_PER_CORE = 64
MAX_SWAP_TRIES = 20_000


def improve(order: list[int], flows: dict[tuple[int, int], float], target: Target) -> list[int]:
    """Hill climbing: move a core next to its busiest partner's position, or to the weighted median of
    all its partners' positions, by a swap kept when the weighted cost falls.  Deterministic (seeded),
    and a bounded number of tries."""
    n = len(order)
    per_chip = int(target.cores_per_chip)
    chip_hops = target.energy.chip_hop_pj.value / max(target.energy.hop_pj.value, 1e-12)
    xy = [mesh_position(k, target) for k in range(n)]
    near: list[list[int]] = [[] for _ in range(n)]  # positions one hop away on the same chip
    at = {(k // per_chip, *xy[k]): k for k in range(n)}
    for k in range(n):
        x, y = xy[k]
        near[k] = [
            at[key]
            for key in (
                (k // per_chip, x + 1, y),
                (k // per_chip, x - 1, y),
                (k // per_chip, x, y + 1),
                (k // per_chip, x, y - 1),
            )
            if key in at
        ]

    def dist(a: int, b: int) -> float:
        if a // per_chip != b // per_chip:
            return chip_hops
        return abs(xy[a][0] - xy[b][0]) + abs(xy[a][1] - xy[b][1])

    links: list[dict[int, float]] = [{} for _ in range(n)]
    for (a, b), w in flows.items():
        if a != b:
            links[a][b] = links[a].get(b, 0.0) + w
            links[b][a] = links[b].get(a, 0.0) + w
    heaviest = [max(ls, key=ls.__getitem__) if ls else -1 for ls in links]
    pos = [0] * n
    for k, b in enumerate(order):
        pos[b] = k
    bin_at = list(order)

    def moved(b: int, frm: int, to: int, other: int) -> float:
        return sum(w * (dist(to, pos[x]) - dist(frm, pos[x])) for x, w in links[b].items() if x != other)

    def median_spot(b: int) -> int | None:
        """The position on b's chip at the weighted median of its partners' mesh coordinates."""
        chip = pos[b] // per_chip
        ws = list(links[b].values())
        spot = [_weighted_median([xy[pos[x]][axis] for x in links[b]], ws) for axis in (0, 1)]
        return at.get((chip, *spot))

    rng = np.random.default_rng(0)
    tries = rng.integers(0, n, size=min(MAX_SWAP_TRIES, SWAP_TRIES_PER_CORE * n)).tolist()
    for i, b in enumerate(tries):
        partner = heaviest[b]
        if partner < 0 or not near[pos[partner]]:
            continue
        if i % 2:  # every other try: where b's own mesh hops are fewest, the others staying put
            to = median_spot(b)
            if to is None:
                continue
        else:
            to = near[pos[partner]][int(rng.integers(len(near[pos[partner]])))]
        frm, c = pos[b], bin_at[to]
        if c == b:
            continue
        if moved(b, frm, to, c) + moved(c, to, frm, b) < -1e-9:
            pos[b], pos[c], bin_at[frm], bin_at[to] = to, frm, c, b
    return bin_at
