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
from .resources import destination_masks


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


def traffic(graph: Graph, bins: list[list[Piece]], rates: dict[str, np.ndarray] | None) -> dict[tuple[int, int], float]:
    """Expected spike messages per step from bin i to bin j (i != j included only when positive)."""
    core_pieces = [(i, piece) for i, members in enumerate(bins) for piece in members]
    out: dict[tuple[int, int], float] = {}
    for layer in dict.fromkeys(p.layer for _, p in core_pieces):
        shape = graph[layer].shape
        rate = np.ones(shape) if rates is None or layer not in rates else np.asarray(rates[layer]).reshape(shape)
        masks = destination_masks(graph, layer, core_pieces)
        for src, piece in core_pieces:
            if piece.layer != layer:
                continue
            region = box_slices(piece.box)
            for dst, mask in masks:
                sent = float(rate[region][mask[region]].sum())
                if sent > 0:
                    out[(src, dst)] = out.get((src, dst), 0.0) + sent
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


def arrange(graph: Graph, target: Target, bins: list[list[Piece]], rates: dict[str, np.ndarray] | None) -> Arrangement:
    n = len(bins)
    plain = list(range(n))
    flows = traffic(graph, bins, rates) if n > 1 else {}
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
