"""The "conversion" section of report.json and report.md: ANN vs SNN float vs deployed, and how."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from snncc.importers.onnx import APPROXIMATIONS
from snncc.report import ReportSection
from snncc.result import CompileResult

from .convert import Conversion
from .oracle import version

if TYPE_CHECKING:
    from .run import ConvertRequest


def conversion_section(
    conversion: Conversion,
    request: ConvertRequest,
    result: CompileResult,
    ann_outputs: np.ndarray,
    *,
    test_is_calib: bool,
) -> ReportSection:
    v = result.comparison.verification
    labels = result.dataset.y
    ann_pred = ann_outputs.argmax(axis=1)
    data = {
        "source": str(request.model),
        "steps": conversion.options.steps,
        "calibration": {"path": str(request.calib), "samples": conversion.calibration_samples},
        "accuracy": {
            "data": str(result.dataset.path),
            "samples": len(result.dataset),
            "data_is_calibration_data": test_is_calib,
            "ann": None if labels is None else float(np.mean(ann_pred == labels)),
            "ann_computed_by": version(),
            "snn_float": v.float_accuracy,
            "deployed": v.deployed_accuracy,
            "snn_float_same_prediction_as_ann": float(np.mean(v.float_predictions == ann_pred)),
            "deployed_same_prediction_as_ann": float(np.mean(v.deployed_predictions == ann_pred)),
        },
        "methods": conversion.methods(),
        "approximations": {
            name: {"description": APPROXIMATIONS[name], "layers": [n for a, n in conversion.approximated if a == name]}
            for name in request.approximations
        },
        "layers": [layer.to_dict() for layer in conversion.layers],
        "notes": list(conversion.notes),
    }
    return ReportSection("conversion", data, _markdown(data), *_summary(data["accuracy"]))


def _summary(a: dict[str, Any]) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The ANN comparison for report.json's summary and a row of report.md's summary table."""
    row = (
        f"| accuracy: ANN / SNN float / SNN deployed | {_pct(a['ann'])} / {_pct(a['snn_float'])} / "
        f"{_pct(a['deployed'])} (deployed makes the ANN's decision on {_pct(a['deployed_same_prediction_as_ann'])}) |"
    )
    summary = {"ann_accuracy": a["ann"], "deployed_same_prediction_as_ann": a["deployed_same_prediction_as_ann"]}
    return summary, (row,)


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.2f}%"


def _approximations(approximations: dict[str, Any]) -> list[str]:
    if not approximations:
        return []
    lines = [
        "Approximations you asked for (the ANN row above is the real model, so its accuracy shows their cost):",
        "",
    ]
    for name, a in approximations.items():
        lines.append(f"- `{name}`: {a['description']}; layers: {', '.join(a['layers']) or 'none matched'}")
    return [*lines, ""]


def _markdown(d: dict[str, Any]) -> str:
    a = d["accuracy"]
    where = " (the calibration data: no --data given)" if a["data_is_calibration_data"] else ""
    lines = [
        "## ANN-to-SNN conversion",
        "",
        f"Converted from `{d['source']}` for T = {d['steps']} steps; thresholds and corrections from "
        f"{d['calibration']['samples']} samples of `{d['calibration']['path']}`. Accuracy on "
        f"{a['samples']} samples of `{a['data']}`{where}:",
        "",
        "| network | accuracy | same prediction as the ANN |",
        "|---|---:|---:|",
        f"| ANN ({a['ann_computed_by']}) | {_pct(a['ann'])} | — |",
        f"| SNN, float | {_pct(a['snn_float'])} | {_pct(a['snn_float_same_prediction_as_ann'])} |",
        f"| SNN, deployed | {_pct(a['deployed'])} | {_pct(a['deployed_same_prediction_as_ann'])} |",
        "",
        "Methods:",
        "",
        *[f"- {key.replace('_', ' ')}: {text}" for key, text in d["methods"].items()],
        "",
        *_approximations(d["approximations"]),
        "Rate error = SNN rate·θ − ANN activation, in units of θ, on the calibration data "
        "(RMS over samples and neurons; mean = the systematic part), before → after the corrections.",
        "",
        "| layer | fed by | threshold θ | max activation | firing rate | RMS error | mean error |",
        "|---|---|---:|---:|---:|---|---|",
    ]
    for layer in d["layers"]:
        lines.append(
            f"| {layer['layer']} | {layer['synapse'] or '—'} | {layer['threshold']:.4g} | "
            f"{layer['max_activation']:.4g} | {layer['firing_rate']:.4f} | "
            f"{layer['error_uncorrected']:.4f} → {layer['error']:.4f} | "
            f"{layer['mean_error_uncorrected']:+.4f} → {layer['mean_error']:+.4f} |"
        )
    if d["notes"]:
        lines += ["", "Import: " + "; ".join(d["notes"]) + "."]
    return "\n".join(lines) + "\n"
