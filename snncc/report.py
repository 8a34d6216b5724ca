"""report.json for machines, report.md (+ PNG plots) for people, and the deployable artifact.

Everything but the ``timing`` section is a deterministic function of the model, data and
target, so two compiles of the same inputs give byte-identical files apart from timing.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from snncc import __version__
from snncc.accumulator import accumulator_lines, accumulator_report
from snncc.energy import EVENT_TYPES
from snncc.fidelity import fidelity_lines, fidelity_report
from snncc.ir import IntInput, IntLIF, print_graph, save
from snncc.neurobench import markdown as neurobench_section
from snncc.output_dir import atomic_output_dir
from snncc.passes.align_depths import relays_of
from snncc.passes.approximate import describe
from snncc.text import markdown_cell as md
from snncc.utilization import plot_utilization
from snncc.verify import MAX_ONE_CLASS, MAX_SILENT

if TYPE_CHECKING:  # type hints only: CompileResult's own methods may call into this module
    from snncc.result import CompileResult

BACKEND_NAMES = {"lava": ("Lava (fixed_pt)", "Lava"), "xylosim": ("SynSense XyloSim (rockpool 3.1.0)", "XyloSim")}
INPUT_FORMS = {
    "graded": "graded input spikes: every step each input element sends its integer value as one graded message",
    "bitplane": (
        "bit-plane spike encoding: every step bit b of each integer input value is sent as a binary spike on "
        "its own axon, through a copy of the first synapses with weight exponent +b (exact for binary-spike "
        "chips such as Loihi 1)"
    ),
    "events": (
        "input events (Xylo): every step each input channel delivers its integer value as that many events, "
        "each adding its weights to the synaptic currents (at most 15 per channel and step)"
    ),
}


def build_report(result: CompileResult) -> dict[str, Any]:
    v = result.comparison.verification
    trace = result.comparison.deployed_trace
    placement = result.placement.to_dict()
    (input_name, input_op), *_ = result.int_graph.of_type(IntInput)
    qin = result.quantization.inputs[0]
    report: dict[str, Any] = {
        "snncc_version": __version__,
        # a module compiled from memory (compile_module) has no file to hash
        "model": {
            "path": str(result.model_path),
            "sha256": _sha256(result.model_path) if result.model_path.is_file() else None,
        },
        "data": {
            "path": str(result.dataset.path),
            "samples": len(result.dataset),
            "calibration": _calibration(result),
            **scored_data(result),
        },
        "target": {
            "name": result.target.name,
            "title": result.target.title,
            "file": result.target.path.name,
        },
        "time_steps": result.int_graph.meta.steps,
        # layer -> the synapse ops that carry its spikes of the previous step back to it (SPEC.md §1.1)
        "recurrent": {
            layer: sorted(e.dst for e in result.int_graph.recurrent_edges() if e.src == layer)
            for layer in result.int_graph.recurrent_layers()
        },
        "input": {
            "node": input_name,
            "encoding": input_op.encoding,
            "form": INPUT_FORMS[input_op.encoding],
            "bits": input_op.bits,
            "lsb": input_op.scale,
            **_input_exactness(v, qin),
        },
        "cores": {
            "used": placement["cores_used"],
            "available": result.target.total_cores,
            "lower_bound": placement["lower_bound_cores"],
            "lower_bound_binding": placement.get("lower_bound_binding", ""),
            "layers": placement["layers"],
            "traffic": placement["traffic"],
            "per_core": placement["cores"],
        },
        "energy": result.energy.to_dict(),
        "latency": _latency(result),
        "verification": {
            **v.to_dict(),
            "passed": result.verdict[0],
            "failed_because": result.verdict[1],
            "min_output_agreement": result.min_agreement,
            "max_accuracy_drop_pp": result.max_accuracy_drop,
            "max_silent_fraction": MAX_SILENT,
            "max_one_class_fraction": MAX_ONE_CLASS,
            "approximation_costs": result.approximation_costs,
        },
        "relays": _relays(result),
        "neurobench": result.neurobench,
        "fan_in_splits": _fan_in_splits(result),
        "approximations": {
            name: {
                "description": describe(name),
                "layers": layers,
                "cost": result.approximation_costs.get(name),
            }
            for name, layers in result.approximations.items()
        },
        "quantization": result.quantization.to_dict(),
        "overflow": {
            layer: {k: s.to_dict()[k] for k in ("u_wraps", "v_saturations", "int32_wraps", "acc_overflows")}
            for layer, s in trace.stats.items()
            if not result.int_graph[layer].IS_RELAY  # a partial sum's bound is checked statically (SPEC.md)
        },
        "accumulator": accumulator_report(
            result.int_graph,
            dict(result.target.accumulator),
            {q.layer: q.accumulator_used for q in result.quantization.layers if q.accumulator_used},
            {layer: s.acc_overflows for layer, s in trace.stats.items()},
        ),
        "backends": {"reference": "refsim", "lava": result.lava},
        "fidelity": fidelity_report(
            result.target.name, result.int_graph, result.target.backends, result.lava, trace.stats
        ),
        "diagnostics": [d.render() for d in result.diagnostics],
        "timing": result.timings,
    }
    report["summary"] = summary_of(report)
    return report


def summary_of(report: dict[str, Any]) -> dict[str, Any]:
    """report.json's "summary": the verdict and headline numbers (what `snncc compile --json` prints)."""
    v, c, e, lava, latency = (
        report["verification"],
        report["cores"],
        report["energy"],
        report["backends"]["lava"],
        report.get("latency"),
    )
    return {
        "passed": v["passed"],
        "failed_because": v["failed_because"],
        "model": report["model"]["path"],
        "target": report["target"]["name"],
        "samples": v["samples"],
        "time_steps": report["time_steps"],
        "float_accuracy": v["float_accuracy"],
        "deployed_accuracy": v["deployed_accuracy"],
        "accuracy_delta_pp": v["accuracy_delta_pp"],
        "output_agreement": v["output_agreement"],
        "approximations": {name: a["cost"] for name, a in report["approximations"].items()},
        "cores_used": c["used"],
        "cores_available": c["available"],
        "energy_pj_per_sample": e["total_pj"],
        "ann_equivalent_pj_per_sample": e["ann_equivalent"]["total_pj"],
        "time_per_sample_us": None if latency is None else latency["sample_us"],
        "bit_exact": None if lava is None else {"backend": lava.get("backend", "lava"), "exact": lava["bit_exact"]},
        "warnings": report["diagnostics"],
    }


def scored_data(result: CompileResult) -> dict[str, Any]:
    """Which data file was scored, its sha256 and which of its rows: what `snncc simulate` reruns by default.
    A data set from memory (compile_module) has no file: simulate then needs --data."""
    path = result.dataset.path
    start = result.calibration.scored_start if result.calibration is not None else 0
    is_file = path.is_file() or (path.is_dir() and (path / "x.npy").is_file())
    return {
        "file": str(path.resolve()) if is_file else None,
        "sha256": data_sha256(path) if is_file else None,
        "scored_rows": [start, start + len(result.dataset)],
    }


def data_sha256(path: Path) -> str:
    """sha256 of a data file, or of a data directory's x.npy then y.npy."""
    if path.is_file():
        return _sha256(path)
    digest = hashlib.sha256()
    for name in ("x.npy", "y.npy"):
        if (path / name).is_file():
            with (path / name).open("rb") as f:
                for chunk in iter(lambda: f.read(1 << 20), b""):
                    digest.update(chunk)
    return digest.hexdigest()


def _input_exactness(v: Any, qin: Any) -> dict[str, Any]:
    """report.json's input exactness, measured on the scored samples (the calibration samples' figure beside)."""
    r = next((r for r in v.input_ranges if r.node == qin.node), None)
    if r is None:
        return {"exact": qin.exact, "max_abs_error": qin.max_abs_error, "measured_on": "calibration samples"}
    return {
        "exact": r.exact,
        "max_abs_error": r.max_abs_error,
        "measured_on": "scored samples",
        "exact_on_calibration_samples": qin.exact,
        "scored_max": r.scored_max,
        "calibrated_max": r.calibrated_max,
        "representable_max": r.representable_max,
        "clipped_fraction": r.clipped_fraction,
    }


def _latency(result: CompileResult) -> dict[str, Any] | None:
    """Time per step and per sample on the target (snncc/latency.py); None if the target has no timing."""
    from snncc.latency import for_result

    latency = for_result(result)
    return None if latency is None else latency.to_dict()


@dataclass(frozen=True)
class ReportSection:
    """A section a front end adds to both reports (e.g. `snncc convert`'s "conversion")."""

    key: str  # its key in report.json
    data: dict[str, Any]
    markdown: str  # its report.md text, starting with a "## " heading
    summary: dict[str, Any] = field(default_factory=dict)  # added to report.json's "summary"
    summary_rows: tuple[str, ...] = ()  # rows added to report.md's summary table


def write_outputs(result: CompileResult, out: Path, sections: Sequence[ReportSection] = ()) -> dict[str, Any]:
    """Write the artifact and the reports into ``out`` (an empty directory)."""
    report = build_report(result)
    report.update({s.key: s.data for s in sections})
    for section in sections:
        report["summary"].update(section.summary)
    save(result.int_graph, out, stem="graph")
    save(result.float_graph, out, stem="float_graph")
    (out / "graph.txt").write_text(print_graph(result.int_graph) + "\n")
    _write_json(out / "placement.json", result.placement.to_dict())
    _write_json(out / "report.json", report)
    plots = _plots(result, out)
    rows = [row for s in sections for row in s.summary_rows]
    (out / "report.md").write_text(render_markdown(report, plots, [s.markdown for s in sections], rows))
    return report


def _write_json(path: Path, data: Any) -> None:
    path.write_text(to_json(data) + "\n")


def to_json(data: Any) -> str:
    """report.json's form (also what --json prints)."""
    # allow_nan=False: NaN and Infinity are not JSON; a value that overflowed is a bug to report, not to write
    return json.dumps(data, indent=1, sort_keys=True, default=_json_default, allow_nan=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (tuple, set, frozenset)):
        return list(value)
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _calibration(result: CompileResult) -> dict[str, Any] | None:
    """Where the quantization scales came from, and whether the scored samples were among them."""
    split = result.calibration
    if split is None:
        return None
    return {
        "path": str(split.calibration.path),
        "samples": len(split.calibration),
        "source": split.how,
        "overlaps_scored": split.overlaps,
    }


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- markdown -----------------------------------------------------------------------------------


def _recurrent(layers: dict[str, list[str]]) -> str:
    return md(", ".join(f"{layer} (through {', '.join(synapses)})" for layer, synapses in layers.items()))


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def render_markdown(
    report: dict[str, Any], plots: list[str], extra: Sequence[str] = (), summary_rows: Sequence[str] = ()
) -> str:
    v, c, e, i = report["verification"], report["cores"], report["energy"], report["input"]
    lines = [
        f"# snncc deployment report: {md(Path(report['model']['path']).name)} on {md(report['target']['title'])}",
        "",
        f"Verdict: **{'PASS' if v['passed'] else 'FAIL'}** — {verdict_details(report)}",
        "",
        *_criterion(v),
        *_range_note(i),
        "",
        *summary_table(report, summary_rows),
        "",
        f"Input form: {i['form']}.",
        "",
        *[line for text in extra for line in (text.rstrip("\n"), "")],
        *_relay_section(report["relays"]),
        *latency_section(report.get("latency")),
        *neurobench_section(report.get("neurobench")),
        "## Float vs deployed, layer by layer",
        "",
        f"Spike agreement = fraction of (sample, step, neuron) with the same spike. This table is a diagnostic "
        f"(it does not decide the verdict): it shows where quantization error enters. Layers below the "
        f"{_pct(v['tolerance'])} line: {_below(v)}.",
        "",
        "| layer | neurons | spike agreement | float rate | deployed rate | first mismatch (sample, step, neuron) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for layer in v["layers"]:
        lines.append(
            f"| {_layer_name(layer)} | {layer['neurons']} | {_pct(layer['spike_agreement'])}"
            f"{' (below line)' if layer['spike_agreement'] < v['tolerance'] else ''} | {layer['float_rate']:.4f} | "
            f"{layer['deployed_rate']:.4f} | {layer['first_mismatch'] or '—'} |"
        )
    lines += [
        "",
        "## Quantization",
        "",
        "Each layer's scale (integer units per float unit of v) is the largest every format allows (the limiting "
        "format is named), lowered by less than 2x so that the layer's largest weight fills the 8-bit mantissa; "
        '"v range used" is the threshold or the largest |u| or |v| seen on the calibration samples (before '
        "resets), whichever is larger, as a fraction of the 24-bit range at that scale.",
        "",
        "| layer | scale limited by | weight exp | weight bits | weight rel. RMSE | threshold rel. err | v range used |",
        "|---|---|---|---|---|---|---:|",
    ]
    for q in report["quantization"]["layers"]:
        lines.append(
            f"| {md(q['layer'])} | {q['limited_by']} | {_kv(q['weight_exponents'])} | {_kv(q['weight_bits_used'])} | "
            f"{_kv(q['weight_rel_rmse'], '{:.2e}')} | {q['threshold_rel_error']:.1e} | {q['v_range_used']:.2f} |"
        )
    lines += [
        "",
        "## Overflow (deployed run)",
        "",
        *accumulator_lines(report.get("accumulator")),
        "",
        "| layer | u wraps | v saturations | int32 wraps | accumulator overflows |",
        "|---|---:|---:|---:|---:|",
    ]
    for layer, o in report["overflow"].items():
        lines.append(
            f"| {md(layer)} | {o['u_wraps']} | {o['v_saturations']} | {o['int32_wraps']} | {o['acc_overflows']} |"
        )
    lines += [
        "",
        "## Mapping",
        "",
        f"{c['used']} cores used; no placement can use fewer than {c['lower_bound']} (each resource's "
        f"unavoidable total over its per-core limit: neurons, synapse memory at the cheapest bits per synapse, "
        f"input and output axons; snncc/mapping/bound.py; here {c['lower_bound_binding'] or 'neurons'} gives it): "
        f"{c['used'] / c['lower_bound']:.2f}x the bound. "
        "Each layer is cut into pieces that fit one core; the pieces are then packed onto cores.",
        *_split_lines(report["fan_in_splits"]),
        "",
        "| layer | pieces | neurons per piece | binding limit | use of it |",
        "|---|---:|---:|---|---:|",
    ]
    for split in c.get("layers", []):
        lines.append(
            f"| {md(split['layer'])} | {split['pieces']} | {split['neurons_per_piece']} | {split['binding']} | "
            f"{split['binding_use']:.0%} |"
        )
    traffic = c.get("traffic", {})
    if traffic:
        lines.append(
            f"\nCore order: {traffic['ordering']} (spike traffic weighted by {traffic['rates']} firing rates; cost "
            f"{traffic['cost']} vs {traffic['cost_topological_order']} for the plain order); expected spike messages "
            f"per step between cores {traffic['messages_between_cores_per_step']}, between chips "
            f"{traffic['messages_between_chips_per_step']}."
        )
    lines += [
        "",
        "## Cores",
        "",
        "| core | chip | layers | neurons | synapse bits | fan-in axons | fan-out axons |",
        "|---:|---:|---|---:|---:|---:|---:|",
    ]
    for core in c["per_core"]:
        lines.append(
            f"| {core.get('core')} | {core.get('chip')} | {md(', '.join(core.get('layers', [])))} | {core.get('neurons')} | "
            f"{core.get('synapse_bits')} | {core.get('fan_in_axons')} | {core.get('fan_out_axons')} |"
        )
    ann = e["ann_equivalent"]
    lines += [
        "",
        *energy_by_event(e),
        "## Energy per sample, by layer",
        "",
        "| layer | synaptic ops | spikes | neuron updates (active) | spike messages (core / between cores / chips) | µJ |",
        "|---|---:|---:|---:|---|---:|",
    ]
    for layer, le in e["per_layer"].items():
        lines.append(
            f"| {md(layer)} | {le['synops']:,.0f} | {le['spikes']:,.1f} | {le['neuron_updates']:,.0f} "
            f"({le['active_updates']:,.0f}) | {le['messages_in_core']:,.0f} / {le['messages_between_cores']:,.0f} / "
            f"{le['messages_between_chips']:,.0f} | {le['total_pj'] / 1e6:.4f} |"
        )
    lines += [
        "",
        f"Total {e['total_pj'] / 1e6:.4f} µJ per sample. The equivalent ANN (one MAC per weight per inference, "
        f"{ann['macs']:,.0f} MACs x {ann['mac_pj']['value']} pJ, {ann['mac_pj']['source']}) would take "
        f"{ann['total_pj'] / 1e6:.4f} µJ.",
    ]
    lines += ["", "## Energy coefficients", "", "| event | pJ | source | confidence |", "|---|---:|---|---|"]
    for name, coef in e.get("coefficients", {}).items():
        lines.append(f"| {md(name)} | {coef['value']} | {md(coef['source'])} | {md(coef['confidence'])} |")
    lava = report["backends"]["lava"]
    lines += ["", "## Backends", ""]
    if lava:
        label, short = BACKEND_NAMES[lava.get("backend", "lava")]
        lines.append(
            f"{label} on {lava['samples']} samples: {'bit-exact' if lava['bit_exact'] else 'MISMATCH'} with "
            f"the reference backend ({', '.join(lava['compared'])} at every step), {lava['wall_seconds']} s; "
            f"{short}'s own outputs: accuracy {_pct(lava['deployed_accuracy'])}, same prediction as the float model "
            f"on {_pct(lava['output_agreement'])}."
        )
        if "semantics" in lava:
            lines.append(f"Compared with {lava['semantics']}.")
        if not lava["bit_exact"]:
            lines.append(f"First mismatch: {lava['first_mismatch']}.")
    else:
        lines.append(
            "Reference backend only (pass --backend lava, or xylosim for xylo, to also run that simulator and "
            "compare bit for bit)."
        )
    lines += fidelity_lines(report.get("fidelity"))
    if report["approximations"]:
        lines += ["", "## Approximations you asked for", ""]
        for name, a in report["approximations"].items():
            lines.append(f"- `{name}`: {a['description']}; layers: {md(', '.join(a['layers']) or 'none matched')}")
        lines.append(f"\nWhat they cost: {approximations_in_use(report)}.")
    if report["diagnostics"]:
        lines += ["", "## Warnings", "", *[f"- {md(d)}" for d in report["diagnostics"]]]
    if plots:
        lines += ["", "## Plots", "", *[f"![{p}]({p})" for p in plots]]
    return "\n".join(lines) + "\n"


def summary_table(report: dict[str, Any], extra_rows: Sequence[str] = ()) -> list[str]:
    """report.md's "Summary" heading and table (``extra_rows``: a front end's own rows, after the first)."""
    v, c, e, i = report["verification"], report["cores"], report["energy"], report["input"]
    return [
        "## Summary",
        "",
        "| | |",
        "|---|---|",
        f"| target | {md(report['target']['title'])} (`{report['target']['name']}`) |",  # name: [a-z0-9_-]
        *extra_rows,
        f"| cores used | {c['used']} of {c['available']} (lower bound {c['lower_bound']}) |",
        f"| energy per sample | {e['total_pj'] / 1e6:.3f} µJ; {_ann_energy(e)} |",
        f"| synaptic ops per sample | {e['synops']:,.0f} |",
        f"| neuron updates per sample | {e['neuron_updates']:,.0f} |",
        *_latency_summary(report.get("latency")),
        f"| input | {i['encoding']}, {i['bits']} bits, LSB {i['lsb']:.6g} ({'exact' if i['exact'] else 'rounded'}) |",
        f"| scored samples | {v['samples']} of {Path(report['data']['path']).name} |",
        *_calibration_row(report["data"].get("calibration")),
        f"| undecided (tied top outputs; the first tied class is the decision) | float {v['float_ties']}, "
        f"deployed {v['deployed_ties']} of {v['samples']}{_tolerated(v)} |",
        f"| silent (watched layer never spikes) | float {v['float_silent']}, deployed {v['deployed_silent']} "
        f"of {v['samples']}"
        f"{_watched(v)} |",
        *(
            [f"| identical output spike counts | {_pct(v['same_readout'])} of samples |"]
            if v.get("same_readout") is not None
            else []
        ),
        f"| output relative error | {v['output_rel_error']:.3g} (‖deployed − float‖ / ‖float‖ of the readouts) |",
        *_relay_summary(report["relays"]),
        *([f"| recurrent layers | {_recurrent(report['recurrent'])} |"] if report.get("recurrent") else []),
    ]


def _ann_energy(e: dict[str, Any]) -> str:
    ann = e["ann_equivalent"]["total_pj"]
    ratio = f" (SNN / ANN = {e['total_pj'] / ann:.3g})" if ann else ""
    return f"the equivalent ANN {ann / 1e6:.3f} µJ{ratio}"


def energy_by_event(e: dict[str, Any]) -> list[str]:
    """report.md's energy split by event type: count x pJ each, rows that add up to the total."""
    lines = [
        "## Energy per sample, by event type",
        "",
        "| event | count | pJ each | µJ | share |",
        "|---|---:|---:|---:|---:|",
    ]
    total = e["total_pj"]
    for event, row in e["by_event"].items():
        lines.append(
            f"| {EVENT_TYPES[event][0]} | {row['count']:,.1f} | {row['pj_each']:g} | {row['pj'] / 1e6:.6f} | "
            f"{row['pj'] / total if total else 0:.1%} |"
        )
    return [*lines, f"| **total** | | | **{total / 1e6:.6f}** | 100.0% |", ""]


def verdict_details(report: dict[str, Any]) -> str:
    """The verdict line after PASS/FAIL: accuracies and their delta, the agreement, the approximations
    with what each costs in this run; the same words in report.md, summary() and the notebook view."""
    v = report["verification"]
    delta = v.get("accuracy_delta_pp")
    accuracy = (
        f"float accuracy {_pct(v['float_accuracy'])}, deployed {_pct(v['deployed_accuracy'])}"
        + ("" if delta is None else f" ({delta:+.2f} pp)")
        if v["float_accuracy"] is not None
        else "no labels (accuracy not scored)"
    )
    return (
        f"{accuracy}; same decision on {_pct(v['output_agreement'])} of {v['samples']} samples "
        f"({report['time_steps']} steps each); {approximations_in_use(report)}."
    )


def approximations_in_use(report: dict[str, Any]) -> str:
    """'approximations: none', or each --approximate with what it alone costs the float model in this run."""
    from snncc.approximation_cost import describe

    names = list(report["approximations"])
    if not names:
        return "approximations: none"
    costs = report["verification"].get("approximation_costs") or {}
    measured = f" (measured in the float model on these samples: {describe(costs)})" if costs else ""
    return f"approximations: {', '.join(f'`{n}`' for n in names)}{measured}"


def _criterion(v: dict[str, Any]) -> list[str]:
    lines = [
        f"Pass criterion: the deployed network makes the same decision as the float model on at least "
        f"{_pct(v['min_output_agreement'])} of the scored samples (a decision is what the host reads: the argmax "
        f"of the readout, the first class on a tie, as accuracy is scored; a silent sample never counts as "
        f"agreeing), its accuracy is at most {v.get('max_accuracy_drop_pp', 1.0):g} pp below float's "
        f"(`--max-accuracy-drop`, where labels exist), neither model decides one class on more than "
        f"{v.get('max_one_class_fraction', 0.9):.0%} of samples that vary, neither model's output is silent "
        f"on more than {v['max_silent_fraction']:.0%} of them, and Lava, when it ran, matches the reference "
        "backend bit for bit."
    ]
    if v["failed_because"]:
        lines += ["", "Failed because:", *[f"- {md(reason)}" for reason in v["failed_because"]]]
    return lines


def _range_note(i: dict[str, Any]) -> list[str]:
    """A warning under the verdict when the scored inputs reach outside the calibrated range (QNT023)."""
    if not i.get("clipped_fraction"):
        return []
    calibrated = "" if i.get("calibrated_max") is None else f"calibration max {i['calibrated_max']:g}, "
    return [
        "",
        f"**Warning:** the scored samples reach {i['scored_max']:g}, outside the calibrated input range "
        f"({calibrated}largest integer input {i['representable_max']:g}): {_pct(i['clipped_fraction'])} of the "
        "scored input values are clipped on the chip (QNT023).",
    ]


def _calibration_row(calibration: dict[str, Any] | None) -> list[str]:
    if calibration is None:
        return []
    note = " — **the scored samples include them**" if calibration["overlaps_scored"] else ""
    return [f"| calibrated on | {md(calibration['source'])}{note} |"]


def _tolerated(v: dict[str, Any]) -> str:
    tolerated = v.get("agreement_if_ties_tolerated")
    if tolerated is None:
        return ""
    return f"; agreement if a tie holding the other's class counted (not the verdict's): {_pct(tolerated)}"


def _watched(v: dict[str, Any]) -> str:
    layers = v.get("silence_layers") or []
    return f" (watching {', '.join(map(md, layers))})" if layers else ""


def _below(v: dict[str, Any]) -> str:
    below = [md(layer["layer"]) for layer in v["layers"] if layer["spike_agreement"] < v["tolerance"]]
    worst = next((layer for layer in v["layers"] if layer["layer"] == v.get("worst_layer")), None)
    worst_text = (
        ""
        if worst is None
        else f"; the worst: **{md(worst['layer'])}** at {_pct(worst['spike_agreement'])}, first divergence "
        f"(sample, step, neuron) {worst['first_mismatch'] or '—'}"
    )
    if not below:
        return f"none{worst_text}"
    return f"{', '.join(below)} (the first in network order: **{md(v['first_divergent_layer'])}**){worst_text}"


def _layer_name(layer: dict[str, Any]) -> str:
    return md(layer["layer"] + (f" (relay of {layer['relay_of']})" if layer.get("relay_of") else ""))


def _fan_in_splits(result: CompileResult) -> dict[str, Any]:
    """Layers whose fan-in was split into partial sums (snncc/mapping/split.py): parts and inputs read."""
    from snncc.mapping.split import splits_of

    graph, axons = result.int_graph, int(result.target.per_core.fan_in_axons.value)
    return {
        layer: {
            "parts": parts,
            "inputs_per_neuron": sum(graph[p].inputs_per_neuron for p in parts),
            "core_input_axons": axons,
        }
        for layer, parts in splits_of(graph).items()
    }


def _split_lines(splits: dict[str, Any]) -> list[str]:
    if not splits:
        return []
    return [
        "",
        *(
            f"Split fan-in: each neuron of {md(layer)} reads {s['inputs_per_neuron']} inputs, more than a core's "
            f"{s['core_input_axons']} input axons; "
            f"{len(s['parts'])} partial sums ({', '.join(md(p) for p in s['parts'])}) on other cores add their "
            "columns (a convolution's: input channels) and send the sums as graded spikes, which the layer adds "
            "(ir/SPEC.md §int_partial_sum); "
            "on the chip this layer and the ones after it run one step later."
            for layer, s in splits.items()
        ),
    ]


def _relays(result: CompileResult) -> dict[str, Any]:
    """What the relay layers (passes/align_depths.py) cost: neurons, cores, synaptic ops, energy."""
    relays = relays_of(result.int_graph)
    if not relays:
        return {}
    graph = result.int_graph
    energy = result.energy.to_dict()
    pieces = {split["layer"]: split["pieces"] for split in result.placement.to_dict()["layers"]}
    neurons = {name: int(np.prod(op.shape)) for name, op in graph.of_type(IntLIF)}
    layers = {}
    for relay, source in relays.items():
        e = energy["per_layer"][relay]
        feeds = sorted({n for syn in graph.successors(relay) for n in graph.successors(syn)})
        layers[relay] = {
            "copies": source,
            "feeds": feeds,
            "neurons": neurons[relay],
            "pieces": pieces.get(relay),
            "synops": e["synops"],
            "energy_pj": e["total_pj"],
        }
    relay_neurons = sum(r["neurons"] for r in layers.values())
    relay_pj = sum(r["energy_pj"] for r in layers.values())
    return {
        "why": "branches of unequal depth meet in a neuron layer: each relay copies its source's spikes one "
        "connection later, so that on the chip every input of that layer carries the same sample step "
        "(ir/SPEC.md §1.1); in the float model's time a relay's spikes are its source's",
        "layers": layers,
        "neurons": relay_neurons,
        "neurons_fraction": relay_neurons / sum(neurons.values()),
        "energy_pj": relay_pj,
        "energy_fraction": relay_pj / energy["total_pj"] if energy["total_pj"] else 0.0,
    }


def _relay_summary(relays: dict[str, Any]) -> list[str]:
    if not relays:
        return []
    return [
        f"| relay layers | {len(relays['layers'])}: {relays['neurons']:,} neurons "
        f"({_pct(relays['neurons_fraction'])}), {relays['energy_pj'] / 1e6:.3f} µJ ({_pct(relays['energy_fraction'])}) |"
    ]


def _relay_section(relays: dict[str, Any]) -> list[str]:
    if not relays:
        return []
    lines = [
        "## Relay layers",
        "",
        f"{relays['why'][0].upper()}{relays['why'][1:]}. They are counted in every table of this report (neurons, "
        "cores, synaptic ops, energy; none in the equivalent ANN's MACs); in the layer-by-layer comparison each is "
        "compared with the float spikes of the layer it copies.",
        "",
        "| relay | copies | feeds | neurons | pieces | synaptic ops | µJ |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for name, r in relays["layers"].items():
        lines.append(
            f"| {md(name)} | {md(r['copies'])} | {md(', '.join(r['feeds']))} | {r['neurons']} | {r['pieces']} | "
            f"{r['synops']:,.0f} | {r['energy_pj'] / 1e6:.4f} |"
        )
    return [*lines, ""]


def _latency_summary(lat: dict[str, Any] | None) -> list[str]:
    if not lat:
        return []
    flag = " — **chip-to-chip traffic bounds the step**" if lat["chip_to_chip_bound"] else ""
    return [
        f"| time per step (estimate) | {lat['step_us']:.3f} µs, bound by {lat['bound']}{flag} |",
        f"| time per sample (estimate) | {lat['sample_us']:.2f} µs streamed ({lat['samples_per_s']:,.0f} samples/s), "
        f"{lat['sample_latency_us']:.2f} µs latency |",
    ]


def latency_section(lat: dict[str, Any] | None) -> list[str]:
    """report.md's "Time per step" section: the terms of the estimate and the coefficients' sources."""
    if not lat:
        return []
    p = lat["per_step_ns"]
    lines = [
        "## Time per step (estimate)",
        "",
        "step = max(busiest core, busiest chip-to-chip link) + longest mesh route + barrier (snncc/latency.py); "
        "a core works through its synaptic ops and neuron updates serially.",
        "",
        "| term | ns per step |",
        "|---|---:|",
        f"| busiest core (core {p['busiest_core_index']}) | {p['busiest_core']:,.1f} |",
        f"| busiest chip-to-chip link | {p['busiest_chip_link']:,.1f} |",
        f"| longest mesh route | {p['mesh_route']:,.1f} |",
        f"| barrier | {p['barrier']:,.1f} |",
        "",
        "| coefficient | ns | source | confidence |",
        "|---|---:|---|---|",
    ]
    for name, c in lat["coefficients"].items():
        lines.append(f"| {name} | {c['value']} | {c['source']} | {c['confidence']} |")
    return [*lines, ""]


def _kv(d: dict[str, Any], fmt: str = "{}") -> str:
    return ", ".join(fmt.format(v) for v in d.values())


# --- plots --------------------------------------------------------------------------------------


def _plots(result: CompileResult, out: Path) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    names = []
    meta = {"Software": None}
    plot_utilization(result.placement, result.target, out / "utilization.png")  # bars, or a heatmap per chip
    names.append("utilization.png")

    v = result.comparison.verification
    fig, ax = plt.subplots(figsize=(8, 3.2))
    values = [a.spike_agreement for a in v.layers]
    below = [value < v.tolerance for value in values]
    bars = ax.bar(
        [a.layer for a in v.layers], values, color=["tab:red" if b else "tab:green" for b in below], width=0.6
    )
    for bar, value in zip(bars, values, strict=True):  # the axis starts at 0, so the numbers carry the detail
        many = len(values) > 12
        ax.annotate(
            f"{value:.2%}",
            (bar.get_x() + bar.get_width() / 2, value / 2),
            ha="center",
            va="center",
            color="white",
            fontsize=6 if many else 8,
            fontweight="bold",
            rotation=90 if many else 0,
        )
    line = ax.axhline(v.tolerance, color="k", lw=0.8, ls="--")
    ax.set_ylim(0, 1)
    ax.set_yticks(np.linspace(0, 1, 6))
    ax.set_ylabel("spike agreement")
    ax.set_title("Float vs deployed spikes per layer (a diagnostic; the verdict is in report.md)", fontsize=10)
    legend = [
        Patch(color="tab:green", label=f"at or above {v.tolerance:.0%}"),
        Patch(color="tab:red", label=f"below {v.tolerance:.0%}"),
        Line2D([], [], color=line.get_color(), lw=0.8, ls="--", label=f"{v.tolerance:.0%} line"),
    ]
    below_axis = -0.14 if len(values) <= 6 else -0.3
    ax.legend(handles=legend, fontsize=8, ncol=3, loc="upper center", bbox_to_anchor=(0.5, below_axis))
    if len(v.layers) > 6:
        ax.tick_params(axis="x", labelrotation=45, labelsize=7)
    fig.tight_layout()
    fig.savefig(out / "agreement.png", dpi=100, metadata=meta)
    plt.close(fig)
    names.append("agreement.png")

    per_layer = result.energy.to_dict().get("per_layer", {})
    if per_layer:
        fig, ax = plt.subplots(figsize=(8, 3))
        layers = list(per_layer)
        ax.bar(layers, [per_layer[layer].get("total_pj", 0.0) / 1e6 for layer in layers], color="tab:orange")
        ax.set_ylabel("µJ per sample")
        ax.set_title("Energy per layer")
        fig.tight_layout()
        fig.savefig(out / "energy.png", dpi=100, metadata=meta)
        plt.close(fig)
        names.append("energy.png")
    return names


# --- for the Python API and notebooks (CompileResult.summary, CompileResult._repr_markdown_) ---------------------


def summary_text(result: CompileResult) -> str:
    """A few lines on a compile: verdict, accuracy, energy, cores (CompileResult.summary())."""
    report = build_report(result)
    s = summary_of(report)
    lines = [
        f"{Path(s['model']).name} on {s['target']}: {'PASS' if s['passed'] else 'FAIL'}",
        f"  {verdict_details(report)}",
        f"  energy: {s['energy_pj_per_sample'] / 1e6:.3f} µJ per sample "
        f"(the equivalent ANN {s['ann_equivalent_pj_per_sample'] / 1e6:.3f} µJ)",
        f"  cores: {s['cores_used']} of {s['cores_available']}",
    ]
    if s["bit_exact"] is not None:
        exact = s["bit_exact"]
        lines.append(f"  {exact['backend']}: {'bit-exact' if exact['exact'] else 'MISMATCH'} with the reference")
    lines += [f"  failed because: {reason}" for reason in s["failed_because"]]
    lines += [f"  {len(s['warnings'])} warning(s): see result.diagnostics"] if s["warnings"] else []
    return "\n".join(lines)


def summary_markdown(result: CompileResult) -> str:
    """The verdict and report.md's summary table, for a notebook (CompileResult._repr_markdown_)."""
    report = build_report(result)
    v = report["verification"]
    verdict = f"**{'PASS' if v['passed'] else 'FAIL'}**: {verdict_details(report)}"
    return "\n".join([verdict, "", *summary_table(report)[2:]]) + "\n"  # [2:]: no "## Summary" heading


def write_report(
    result: CompileResult,
    out: str | Path,
    force: bool = False,
    inputs: Sequence[str | Path] = (),
    sections: Sequence[ReportSection] = (),
) -> dict[str, Any]:
    """What `snncc compile --out` writes (artifact, report.json, report.md and plots), all or nothing;
    never into a folder that holds the model, the data or ``inputs`` (snncc.output_dir);
    ``sections``: extra report sections."""
    read = [result.model_path, result.dataset.path, *inputs]
    with atomic_output_dir(Path(out), force=force, inputs=read) as tmp:
        return write_outputs(result, tmp, sections)
