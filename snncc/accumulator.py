"""The dendritic accumulator's bound per layer: a proof where the weights give one, else the calibrated margin.

a, a step's summed synaptic input in weight units, must fit the target's accumulator (Numerics.accumulator_bits;
Loihi 1 holds q0 = a·2^6 in 21 bits + sign and wraps beyond).  The worst case of a layer is the largest sum
of |effective weight|·2^e·(largest payload) over one neuron's inputs, all ports added: where it is inside
the accumulator no input can overflow it (proved); else the quantizer's calibrated peak says how close
the data came, and the deployed run counts the overflows that happened.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.ir import Graph, IntLIF, Numerics
from snncc.ir.arith import effective_weights
from snncc.ir.families import numerics_family
from snncc.text import markdown_cell as md

# how the user reads the width: Loihi 1's documents give it on q0 = a·2^act_shift
Q0_NOTE = "q0 = a·2^{shift} in {q0_bits} bits + sign"


def worst_case_input(graph: Graph, layer: str) -> int:
    """The largest |a| any input can give one neuron of ``layer`` (an int_lif), an upper bound."""
    n: Numerics = graph.meta.numerics  # type: ignore[assignment]
    total = 0
    for syn in graph.predecessors(layer):
        op = graph[syn]
        if not op.IS_SYNAPSE:
            continue
        w = np.abs(effective_weights(op.weight.array, n))
        row = int(w.reshape(w.shape[0], -1).sum(axis=1).max(initial=0))  # per output neuron / channel
        src = graph[graph.source_of(syn)]  # a delay carries its source's values
        # per port (a bit plane has one each): the largest value it sends, through the weights shifted by e
        total += sum(_shifted_up(row * largest, op.weight_exp + e) for largest, e in src.payload_ports())
    return total


def _shifted_up(x: int, exp: int) -> int:
    """|shift(s, exp)| bound for |s| <= x: a right shift floors, which adds at most 1 to a negative sum."""
    return x << exp if exp >= 0 else (x >> -exp) + 1


def accumulator_report(graph: Graph, sourced: dict[str, Any], quantized: dict[str, float], overflows: dict[str, int]):
    """report.json's "accumulator": the target's accumulator and, per int_lif layer, its worst case, whether it
    is proved inside, the calibrated peak (a fraction of the limit) and the overflows counted in the run."""
    n: Numerics = graph.meta.numerics  # type: ignore[assignment]
    if not numerics_family(n.family).accumulator:  # Xylo adds each weight into Isyn, which saturates (its state_bits)
        return None
    lo, hi = n.accumulator_range
    layers = {}
    for name, _ in graph.of_type(IntLIF):
        worst = worst_case_input(graph, name)
        layers[name] = {
            "worst_case": worst,
            "proved": worst <= hi,
            "worst_case_fraction": worst / (hi + 1),
            "calibrated_fraction": quantized.get(name),
            "overflows": overflows.get(name, 0),
        }
    return {
        "bits": n.accumulator_bits,
        "overflow": n.accumulator_overflow,
        "range": [lo, hi],
        "q0": Q0_NOTE.format(shift=n.act_shift, q0_bits=n.accumulator_bits + n.act_shift - 1),
        "source": {k: {"source": s.source, "confidence": s.confidence} for k, s in sourced.items()},
        "layers": layers,
    }


def accumulator_lines(acc: dict[str, Any] | None) -> list[str]:
    """report.md's paragraph and table on the accumulator."""
    if not acc:
        return []
    mode = {
        "wrap": "wraps (two's complement); the reference backend applies it",
        "saturate": "saturates; the reference backend applies it",
        "unknown": "is not published: the reference backend computes as Lava does (int32) and counts the overflows",
    }[acc["overflow"]]
    src = acc["source"]
    where = "; ".join(f"{k}: {v['source']} ({v['confidence']})" for k, v in src.items()) or "Lava's int32 (default)"
    lines = [
        f"Dendritic accumulator: a, a step's summed synaptic input, holds {acc['bits']} bits signed "
        f"({acc['q0']}); beyond it the chip {mode}. Source: {where}.",
        "",
        "| layer | worst case / limit | proved inside | calibrated peak / limit | overflows in the run |",
        "|---|---:|:--:|---:|---:|",
    ]
    for layer, row in acc["layers"].items():
        calibrated = row["calibrated_fraction"]
        lines.append(
            f"| {md(layer)} | {row['worst_case_fraction']:.2f} | {'yes' if row['proved'] else 'no'} | "
            f"{'—' if calibrated is None else f'{calibrated:.2f}'} | {row['overflows']} |"
        )
    return lines
