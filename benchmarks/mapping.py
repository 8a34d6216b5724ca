"""Mapping benchmark (issue 27): cores against the lower bound, spike traffic against a layer-order
placement, and mapping time, for the suite of benchmarks/mapping_suite.py on loihi, loihi2, nahuku32.

Run from the repository root:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/mapping.py [--only NAME,...]

Columns:
- cores, bound, ratio: cores used; snncc.mapping.bound's lower bound (each resource's unavoidable
  total over its per-core limit) and the resource that gives it.
- floor: the cores the same pieces would need packed perfectly (each resource's use summed over the
  cores, over its per-core limit): cores - floor is packing loss, floor - bound is cutting loss (conv
  tiles' halos, partly filled synapse blocks) or slack in the bound.
- hops, xchip: expected spike messages per step (every neuron spiking once: uniform rates) times
  the mesh hops between source and destination core on one chip, and the messages crossing chips.
- vs layer order: the same cores placed in layer order (the order the layers come in, snake-filled
  on each chip's mesh), weighted as the arrangement weighs them (a chip crossing counts
  chip_hop_pj / hop_pj hops): how many fewer hop-events the chosen placement has.
- seconds: snncc.mapping.partition alone (design rules, slicing, packing, arrangement), best of 1.
Goals (issue 27): ratio <= 1.25 on every network; >= 30 % fewer hop-events than layer order on
multi-chip maps; 1 M neurons mapped in <= 10 s.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np

from benchmarks.mapping_suite import SUITE
from snncc.errors import MappingError
from snncc.mapping import partition
from snncc.mapping.arrange import cost, traffic
from snncc.mapping.bound import lower_bound_detail
from snncc.mapping.connectivity import neuron_layers
from snncc.mapping.resources import memory_bits
from snncc.target import load_target

TARGETS = ("loihi", "loihi2", "nahuku32")


def layer_order(graph, placement) -> list[int]:
    """Core indices sorted as a layer-by-layer placement would put them."""
    rank = {name: i for i, (name, _) in enumerate(neuron_layers(graph))}
    key = {c.index: (min(rank[p.layer] for p in c.pieces), c.pieces[0].box) for c in placement.cores}
    return sorted(key, key=key.__getitem__)


def packing_floor(placement, target) -> int:
    """Cores the placement's pieces need at 100 % use of their most-used resource, summed over cores."""
    pc = target.per_core
    used = {
        "neurons": (sum(c.usage.neurons for c in placement.cores), pc.neurons.value),
        "memory": (sum(memory_bits(c.usage, target) for c in placement.cores), pc.synapse_memory_bits.value),
        "input axons": (sum(c.usage.fan_in_axons for c in placement.cores), pc.fan_in_axons.value),
        "output axons": (sum(c.usage.fan_out_axons for c in placement.cores), pc.fan_out_axons.value),
    }
    return max(math.ceil(total / limit) for total, limit in used.values())


def hop_events(flows, order, target) -> tuple[float, float, float]:
    """(weighted hop-events, mesh hop-events on chips, messages between chips) with core order[k] at position k."""
    weighted, _, across = cost(order, flows, target)
    chip_hops = target.energy.chip_hop_pj.value / max(target.energy.hop_pj.value, 1e-12)
    return weighted, max(0.0, weighted - across * chip_hops), across  # no -0 from rounding


def run(name: str, target_name: str) -> str:
    target = load_target(target_name)
    graph = SUITE[name](target_name)
    neurons = sum(int(np.prod(op.shape)) for _, op in neuron_layers(graph))
    bound = lower_bound_detail(graph, target)
    start = time.perf_counter()
    try:
        placement = partition(graph, target)
    except MappingError as err:
        seconds = time.perf_counter() - start
        return (
            f"{name:<13} {target_name:<9} {neurons:>9,} does not fit: {err.diagnostics[0].code} "
            f"(bound {bound.cores} cores, {bound.binding}; {target.total_cores} available) {seconds:.2f} s"
        )
    seconds = time.perf_counter() - start
    bins = [list(c.pieces) for c in placement.cores]
    flows = traffic(graph, bins, None)
    chosen = hop_events(flows, list(range(len(bins))), target)
    plain = hop_events(flows, layer_order(graph, placement), target)
    fewer = 1 - chosen[0] / plain[0] if plain[0] else 0.0
    chips = len({c.chip for c in placement.cores})
    return (
        f"{name:<13} {target_name:<9} {neurons:>9,} {placement.cores_used:>6} {packing_floor(placement, target):>6} {bound.cores:>6} "
        f"{placement.cores_used / bound.cores:>6.2f} {bound.binding:<15} {chips:>5} "
        f"{chosen[1]:>11.0f} {chosen[2]:>9.0f} {plain[1]:>11.0f} {plain[2]:>9.0f} {fewer:>7.1%} {seconds:>8.2f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="comma-separated suite networks (default: all)")
    parser.add_argument("--targets", default=",".join(TARGETS))
    args = parser.parse_args()
    names = args.only.split(",") if args.only else list(SUITE)
    print(
        f"{'network':<13} {'target':<9} {'neurons':>9} {'cores':>6} {'floor':>6} {'bound':>6} {'ratio':>6} {'binding':<15} "
        f"{'chips':>5} {'hops':>11} {'xchip':>9} {'hops(LO)':>11} {'xchip(LO)':>9} {'fewer':>7} {'seconds':>8}"
    )
    for name in names:
        for target in args.targets.split(","):
            print(run(name, target), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
