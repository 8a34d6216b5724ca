"""Cross-check snncc's energy and time per step with SANA-FE 2.2.9, event type by event type.

`snncc compile --energy-check sanafe` runs the placed network in SANA-FE (snncc/sanafe_export.py) and
puts SANA-FE's energy per event type and time per step beside snncc's, on the same samples, in report.json
("sanafe") and report.md; each ratio is split into a count ratio and a per-event ratio.
"""

from __future__ import annotations

from importlib import resources
from typing import Any

import numpy as np

from snncc.ir import Graph, IntConv2d, IntDense, IntInput, IntLIF
from snncc.ir.depths import layer_depths
from snncc.sanafe_export import TABLE, run, run_layerwise


def sanafe_coefficients() -> dict[str, float]:
    """pJ per event in SANA-FE's loihi.yaml (the units snncc's export uses)."""
    import yaml

    arch = yaml.safe_load(resources.files("sanafe.examples").joinpath("loihi.yaml").read_text())["architecture"]
    tile = arch["tile"][0]
    core = tile["core"][0]
    soma = next(s for s in core["soma"] if s["name"] == "loihi_lif")["attributes"]
    synapse = next(s for s in core["synapse"] if s["name"] == "loihi_dense_synapse")["attributes"]
    pj = 1e12
    return {
        "synop_pj": synapse["energy_process_spike"] * pj,
        "neuron_update_pj": (soma["energy_access_neuron"] + soma["energy_update_neuron"]) * pj,
        "spike_out_pj": soma["energy_spike_out"] * pj,
        "message_out_pj": core["axon_out"][0]["attributes"]["energy_message_out"] * pj,
        "hop_pj": (tile["attributes"]["energy_east_hop"] + tile["attributes"]["energy_north_hop"]) / 2 * pj,
    }


WHOLE_NETWORK_SYNAPSES = 2_000_000  # beyond this SANA-FE runs layer by layer (about 0.6 GB per million synapses)


def synapse_count(graph: Graph) -> int:
    """Nonzero synapses as SANA-FE stores them (one edge per synapse and bit plane)."""
    total = 0
    for name, op in graph.of_type(IntDense, IntConv2d):
        src = graph[graph.predecessors(name)[0]]
        nnz = int(TABLE[op].matrix(op, src.shape).nnz)
        total += nnz * (src.bits if src.IS_INPUT else 1)
    return total


def compare(result, samples: int, mode: str | None = None) -> dict[str, Any]:
    """snncc's energy and time per sample beside SANA-FE's, event type by event type (report.json's "sanafe").

    ``mode``: "network" (SANA-FE computes the whole network's activity) or "layer by layer" (each layer driven
    by snncc's spikes, for networks too large for SANA-FE's memory); default by synapse count."""
    from snncc.passes.quantize import quantize_inputs

    graph = result.int_graph
    (input_name, _), *_ = graph.of_type(IntInput)
    n = min(samples, len(result.dataset))
    inputs = quantize_inputs(graph, {input_name: result.dataset.x[:n]})
    if mode is None:
        mode = "network" if synapse_count(graph) <= WHOLE_NETWORK_SYNAPSES else "layer by layer"
    run_ = (run if mode == "network" else run_layerwise)(graph, result.placement, inputs, n)
    # snncc's counts on the same samples (the report's energy covers every verified sample)
    from snncc.backends.refsim import RefSim
    from snncc.energy import estimate as estimate_energy

    energy = estimate_energy(graph, result.placement, RefSim().run(graph, inputs), result.target)
    ours = energy.to_dict()
    coef = ours["coefficients"]
    theirs = sanafe_coefficients()
    n_inputs = sum(op.bits * int(np.prod(op.shape)) for _, op in graph.of_type(IntInput))
    lif_neurons = sum(int(np.prod(op.shape)) for _, op in graph.of_type(IntLIF))
    input_spikes = run_.counts.get("fired", 0.0) - sum(run_.spikes.values())
    updates = run_.counts.get("updated", 0.0) - input_spikes  # SANA-FE updates an input neuron when it fires
    fired = sum(run_.spikes.values())
    # spikes that leave a neuron with synapses: SANA-FE charges each one message (host input included)
    messages = fired + input_spikes if run_.mode == "network" else input_spikes + run_.counts.get("messages", 0.0)
    msgs = ours["spike_messages"]
    rows = [
        {
            "event": "synaptic op",
            "snncc_count": ours["synops"],
            "snncc_pj_each": coef["synop_pj"]["value"],
            "snncc_pj": ours["synops"] * coef["synop_pj"]["value"],
            "sanafe_count": run_.counts.get("spikes", 0.0),
            "sanafe_pj_each": theirs["synop_pj"],
            "sanafe_pj": run_.energy_pj.get("synapse", 0.0),
        },
        {
            "event": "neuron update (+ spike out in SANA-FE)",
            "snncc_count": ours["neuron_updates"],
            "snncc_pj_each": None,
            "snncc_pj": ours["active_neuron_updates"] * coef["neuron_update_active_pj"]["value"]
            + (ours["neuron_updates"] - ours["active_neuron_updates"]) * coef["neuron_update_idle_pj"]["value"],
            "sanafe_count": updates,
            "sanafe_pj_each": theirs["neuron_update_pj"],
            "sanafe_pj": run_.energy_pj.get("soma", 0.0),
        },
        {
            "event": "spike message (+ mesh hops)",
            "snncc_count": msgs["within_core"] + msgs["between_cores"] + msgs["between_chips"],
            "snncc_pj_each": coef["spike_in_core_pj"]["value"],
            "snncc_pj": msgs["within_core"] * coef["spike_in_core_pj"]["value"]
            + msgs["mesh_hops"] * coef["hop_pj"]["value"]
            + msgs["between_chips"] * coef["chip_hop_pj"]["value"],
            "sanafe_count": messages,
            "sanafe_pj_each": theirs["message_out_pj"],
            "sanafe_pj": run_.energy_pj.get("network", 0.0),
        },
    ]
    from snncc.latency import estimate as estimate_latency

    depth = max(longest for _, longest in layer_depths(graph).values())
    latency = estimate_latency(graph, result.placement, energy, result.target, depth)
    return {
        "mode": run_.mode,
        "samples": n,
        "sanafe_version": _version(),
        "architecture": "sanafe/examples/loihi.yaml's tiles, re-tiled (snncc's cores, then input cores)",
        "events": rows,
        "total_pj": {"snncc": ours["total_pj"], "sanafe": run_.energy_pj.get("total", 0.0)},
        "spikes": {"snncc": ours["spikes"], "sanafe": fired, "per_layer_sanafe": run_.spikes},
        "input_spikes": input_spikes,
        "neurons": lif_neurons,
        "input_neurons": n_inputs,
        "steps": {"snncc": graph.meta.steps, "sanafe": run_.steps_per_sample},
        "time_per_step_us": {
            "sanafe": run_.time_s / run_.steps_per_sample * 1e6,
            "snncc": None if latency is None else latency.step_ns / 1e3,
        },
        "sanafe_coefficients_pj": theirs,
        "snncc_coefficients_pj": {name: c["value"] for name, c in coef.items()},
        "wall_seconds": run_.wall_seconds,
    }


def _version() -> str:
    from importlib.metadata import version

    return version("sanafe")


def markdown(c: dict[str, Any]) -> str:
    """report.md's section for the comparison."""

    def num(x: float | None, fmt: str = "{:,.0f}") -> str:
        return "—" if x is None else fmt.format(x)

    lines = [
        "## Energy cross-check: SANA-FE",
        "",
        f"SANA-FE {c['sanafe_version']} ran the placed integer network on {c['architecture']} "
        f"({c['samples']} samples, {c['steps']['sanafe']} steps each: the sample's {c['steps']['snncc']} plus the "
        "pipeline depth) with its own LIF arithmetic (float), "
        + (
            "computing the whole network's activity."
            if c["mode"] == "network"
            else "layer by layer: each layer driven by the spikes snncc's reference simulator gave its sources "
            "(replayed from input cores), as the whole network does not fit SANA-FE's memory here."
        )
        + " Per sample:",
        "",
        "| event | snncc count | snncc pJ each | snncc µJ | SANA-FE count | SANA-FE pJ each | SANA-FE µJ | "
        "SANA-FE / snncc = counts × pJ per event |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in c["events"]:
        ratio = r["sanafe_pj"] / r["snncc_pj"] if r["snncc_pj"] else None
        counts = r["sanafe_count"] / r["snncc_count"] if r["snncc_count"] else None
        per_event = ratio / counts if ratio is not None and counts else None
        lines.append(
            f"| {r['event']} | {num(r['snncc_count'])} | {num(r['snncc_pj_each'], '{:.1f}')} | {r['snncc_pj'] / 1e6:.3f} | "
            f"{num(r['sanafe_count'])} | {num(r['sanafe_pj_each'], '{:.1f}')} | {r['sanafe_pj'] / 1e6:.3f} | "
            f"{num(ratio, '{:.2f}')} = {num(counts, '{:.2f}')} × {num(per_event, '{:.2f}')} |"
        )
    t, s = c["total_pj"], c["spikes"]
    ours, theirs = c["snncc_coefficients_pj"], c["sanafe_coefficients_pj"]
    step = c["time_per_step_us"]
    lines += [
        f"| **total** | | | **{t['snncc'] / 1e6:.3f}** | | | **{t['sanafe'] / 1e6:.3f}** |",
        "",
        f"Neuron spikes per sample: snncc {s['snncc']:,.0f}, SANA-FE {s['sanafe']:,.0f}; input spikes "
        f"{c['input_spikes']:,.0f}. Time per step: SANA-FE {step['sanafe']:.2f} µs"
        + (
            " (the layers' runs added: an upper bound, the chip runs them in parallel)"
            if c["mode"] != "network"
            else ""
        )
        + f", snncc's estimate {num(step['snncc'], '{:.2f}')} µs.",
        "",
        f"Why they differ: a synaptic op costs {ours['synop_pj']} pJ in snncc (Davies 2018 Table 2) and "
        f"{theirs['synop_pj']} pJ in SANA-FE's dense synapse (fitted to Loihi measurements); SANA-FE updates every neuron "
        f"on every step of its longer run at {theirs['neuron_update_pj']} pJ (access + update) whether or not it is "
        f"active, plus {theirs['spike_out_pj']} pJ per spike out, where snncc charges {ours['neuron_update_active_pj']} pJ "
        f"active / {ours['neuron_update_idle_pj']} pJ idle over the sample's steps; SANA-FE charges "
        f"{theirs['message_out_pj']} pJ per spike leaving a core, input spikes from the host included, where snncc "
        f"charges {ours['spike_in_core_pj']} pJ within a core, {ours['hop_pj']} pJ per mesh hop, {ours['chip_hop_pj']} pJ "
        "between chips and nothing for host input; and SANA-FE's float LIF and step timing change the activity "
        "itself (the count ratios).",
        "",
    ]
    return "\n".join(lines)
