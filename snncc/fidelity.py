"""How far "verified" reaches toward the chip: what each oracle checked, and the known silicon differences.

Each oracle models the chip in its own way, so a bit-exact comparison means "equal under that oracle's
semantics".  Lava's fixed_pt models compute the synaptic sum in int32 and never apply the chip's
dendritic accumulator; nengo-loihi's emulator (written to match Loihi 1 silicon) wraps it at 21 bits +
sign on q0 = a·2^6, applies a negative weight exponent per synapse, and holds u in [−2^23, 2^23).
``reference_for`` gives the graph refsim runs against each oracle; ``known_difference`` names which
difference a mismatch is; ``fidelity_report`` and ``fidelity_lines`` are report.json's "fidelity" and
report.md's section.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from snncc.families import family_of
from snncc.ir import Graph, IntConv2d, IntDense, IntLIF
from snncc.ir.families import numerics_family
from snncc.text import markdown_cell as md

LAVA_SEMANTICS = "the reference backend with Lava's int32 accumulator (Lava never applies the chip's bound)"
TARGET_SEMANTICS = "the reference backend with the target's accumulator ({bits} bits, {overflow})"
U_HALF = 1 << 23


def reference_for(backend: str, graph: Graph) -> tuple[Graph, str]:
    """The graph refsim runs to be compared with ``backend``, and the semantics that comparison checks."""
    n = graph.meta.numerics
    if backend == "lava" and n is not None and n.lava_semantics() != n:
        return graph.with_meta(numerics=n.lava_semantics()), LAVA_SEMANTICS
    if n is None or not numerics_family(n.family).accumulator:
        return graph, "the reference backend"
    return graph, TARGET_SEMANTICS.format(bits=n.accumulator_bits, overflow=n.accumulator_overflow)


def negative_exponent_synapses(graph: Graph) -> dict[str, int]:
    """Synapse op -> its smallest exponent, where below 0 (bit plane b shifts by e + b): there a chip that
    shifts each weight (nengo-loihi's Loihi 1 model) floors differently from Lava, which shifts the sum."""
    return {name: op.weight_exp for name, op in graph.of_type(IntDense, IntConv2d) if op.weight_exp < 0}


def known_difference(graph: Graph, mismatch: tuple, ref_u: dict[str, np.ndarray]) -> str:
    """Which known silicon-vs-Lava difference explains the first mismatch with nengo-loihi's emulator."""
    _var, sample, _step, neuron, _expected, _got, layer = mismatch
    n = graph.meta.numerics
    exps = negative_exponent_synapses(graph)
    if any(graph.successors(s)[0] == layer for s in exps):
        return "weight exponent < 0: the emulator shifts each weight (rounded), Lava and snncc the step's sum (floored)"
    if n is not None and (n.accumulator_bits, n.accumulator_overflow) != (16, "wrap"):
        return (
            "dendritic accumulator: the emulator wraps q0 = a·2^6 at 21 bits + sign; this artifact's numerics "
            f"({n.accumulator_bits} bits, {n.accumulator_overflow}) do not (compile it for --target loihi)"
        )
    u = ref_u.get(layer)
    op = graph[layer]
    if u is None or sample < 0 or not isinstance(op, IntLIF):
        return "no known difference: one of the two models has a bug"
    trace = u[(sample, slice(None), *neuron)]
    if np.abs(trace).max(initial=0) >= U_HALF - 1:
        return "u at the edge of its 24-bit range: the emulator keeps u in [-2^23, 2^23), Lava in (-2^23, 2^23]"
    bias = int(op.bias_mant.array[neuron]) << int(op.bias_exp.array[neuron]) if op.bias_mant.array.ndim else 0
    if np.abs(trace + bias).max(initial=0) >= U_HALF:
        return "u + bias beyond 24 bits: the emulator adds the bias to u (wrapped), Lava to v"
    return "no known difference: one of the two models has a bug"


def fidelity_report(target_name: str, graph: Graph, backends: tuple[str, ...], lava: dict | None, stats: dict):
    """report.json's "fidelity": per oracle what this run checked, per known difference its count here."""
    n = graph.meta.numerics
    plugin = family_of(n) if n is not None else None
    loihi1 = plugin is not None and plugin.models_loihi1(n)
    oracles: dict[str, dict[str, Any]] = {}

    def ran(name: str) -> dict[str, Any] | None:
        return lava if lava is not None and lava.get("backend", "lava") == name else None

    if "lava" in backends:
        oracles["Lava fixed_pt"] = _oracle_row(ran("lava"), "lava")
    if loihi1:
        oracles["nengo-loihi 1.1.0 emulator (Loihi 1 model)"] = _oracle_row(None, "nengo-loihi", simulate=True)
        oracles["NIR paper's Loihi 1 hardware trace"] = {
            "checked": "one LIF neuron, 999 steps, in the test suite (tests/unit/test_nengo_loihi_oracle.py): "
            "every spike and every v but the chip's read-out of v at the 4 spike steps",
            "on_this_run": False,
        }
    if "xylosim" in backends:
        oracles["XyloSim (rockpool 3.1.0)"] = _oracle_row(ran("xylosim"), "xylosim")
    differences: dict[str, dict[str, Any]] = {}
    if plugin is not None and plugin.lava_differences:
        overflows = sum(s.acc_overflows for s in stats.values())
        differences["dendritic accumulator overflow"] = {
            "count": overflows,
            "unit": "neuron-steps",
            "note": f"a outside {n.accumulator_bits} bits; {n.accumulator_overflow} on the chip"
            + ("; Lava computes it in int32, unbounded" if n.lava_semantics() != n else ""),
        }
        exps = negative_exponent_synapses(graph)
        differences["negative weight exponent"] = {
            "count": len(exps),
            "unit": "synapse ops",
            "note": "per-synapse (chip model) vs per-sum (Lava) flooring"
            + (f": {', '.join(f'{k} e={e}' for k, e in exps.items())}" if exps else ""),
        }
        differences["u at the edge of 24 bits"] = {
            "count": sum(s.u_wraps for s in stats.values()),
            "unit": "u wraps",
            "note": "the emulator's range [-2^23, 2^23) vs Lava's (-2^23, 2^23]",
        }
    return {"target": target_name, "oracles": oracles, "differences": differences}


def _oracle_row(run: dict | None, backend: str, simulate: bool = False) -> dict[str, Any]:
    if run is None:
        how = f"snncc simulate DIR --backend {backend}" if simulate else f"pass --backend {backend}"
        return {"checked": f"not run: {how}", "on_this_run": False}
    what = "bit-exact" if run["bit_exact"] else f"differs: first at {run.get('first_mismatch')}"
    semantics = run.get("semantics", "the reference backend")
    return {
        "checked": f"{run['samples']} samples, {', '.join(run['compared'])} at every step: {what} with {semantics}",
        "on_this_run": True,
        "samples": run["samples"],
        "bit_exact": run["bit_exact"],
    }


def fidelity_lines(fidelity: dict[str, Any] | None) -> list[str]:
    """report.md's "Fidelity to the chip" section."""
    if not fidelity:
        return []
    lines = ["", "## Fidelity to the chip", "", "| oracle | what it checked |", "|---|---|"]
    lines += [f"| {md(name)} | {md(row['checked'])} |" for name, row in fidelity["oracles"].items()]
    if fidelity["differences"]:
        lines += ["", "| known silicon-vs-model difference | on this run | note |", "|---|---:|---|"]
        for name, d in fidelity["differences"].items():
            lines.append(f"| {md(name)} | {d['count']:,} {d['unit']} | {md(d['note'])} |")
    return lines
