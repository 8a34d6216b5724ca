"""Run a compiled artifact (the integer graph and its float graph) on a backend and score it.

By default on the data the artifact was compiled with: report.json records the data file, its
sha256 and which rows were scored, so that simulate reproduces compile's figures (the same
agreement, computed by snncc.verify.compare on refsim); with neither that record nor --data it
stops with DAT040 instead of guessing.  On Lava and on nengo-loihi's Loihi 1 emulator the run is
also compared with the reference backend bit for bit (u, v and spikes of every layer at every
step), so the summary says whether that simulator computed exactly the specified network
(snncc.fidelity names the semantics each comparison checks)."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from snncc.backends import Record, get_backend
from snncc.binding import output_classes
from snncc.data import BUNDLED_DIGITS, Dataset, check_labels, load_dataset
from snncc.errors import DataError
from snncc.ir import IntInput, Output, Stage, load, verify
from snncc.limits import check_graph
from snncc.npz import declared
from snncc.passes.quantize import quantize_inputs
from snncc.verify import (
    MAX_ACCURACY_DROP_PP,
    agreement,
    compare,
    lava_check,
    predict,
    silence_layers,
    silent_samples,
    undecided,
    verdict,
)


def simulate_artifact(
    artifact: Path,
    *,
    data: Path | None = None,
    backend: str = "refsim",
    samples: int | None = None,
    device: str | None = None,
    say: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    int_graph = verify(load(artifact, stem="graph"), Stage.INTEGER)
    float_graph = load(artifact, stem="float_graph")
    check_graph(int_graph, str(artifact))
    check_graph(float_graph, str(artifact))
    (input_name, input_op), *_ = int_graph.of_type(IntInput)
    classes = output_classes(int_graph)
    record = _compiled_with(artifact)
    dataset, used = _data(artifact, data, record, input_op.shape, int_graph.meta.steps, classes)
    check_labels(dataset, classes)
    n = len(dataset) if samples is None else min(samples, len(dataset))
    x, y = dataset.x[:n], None if dataset.y is None else dataset.y[:n]
    used["rows"] = [used["rows"][0], used["rows"][0] + n]
    say(f"simulating {n} samples: rows {used['rows'][0]}-{used['rows'][1] - 1} of {used['path']} ({used['source']})")
    comparison = compare(float_graph, int_graph, {input_name: x}, y, device=device if backend == "refsim" else None)
    v = comparison.verification
    summary: dict[str, Any] = {
        "artifact": str(artifact),
        "backend": backend,
        "data": used,
        "samples": n,
        "steps": int_graph.meta.steps,
        "float_accuracy": v.float_accuracy,
    }
    if backend == "refsim":
        passed, reasons = verdict(
            v,
            record.get("min_output_agreement", 0.95),
            max_accuracy_drop=record.get("max_accuracy_drop_pp", MAX_ACCURACY_DROP_PP),
        )
        return {
            **summary,
            "deployed_accuracy": v.deployed_accuracy,
            "accuracy_delta_pp": v.accuracy_delta_pp,
            "output_agreement": v.output_agreement,
            "agreement_if_ties_tolerated": v.agreement_if_ties_tolerated,
            "float_ties": v.float_ties,
            "deployed_ties": v.deployed_ties,
            "float_silent": v.float_silent,
            "deployed_silent": v.deployed_silent,
            "passed": passed,
            "failed_because": reasons,
            "wall_seconds": round(comparison.deployed_trace.wall_seconds, 3),
            # neuron-steps whose summed input left the target's dendritic accumulator (refsim counts them)
            "accumulator_overflows": {n: s.acc_overflows for n, s in comparison.deployed_trace.stats.items()},
        }
    if backend in ("lava", "nengo-loihi"):  # also compared with the reference backend bit for bit
        lava = lava_check(
            int_graph,
            {input_name: x},
            float_predictions=v.float_predictions,
            labels=y,
            float_silent=v.float_silent_mask,
            backend=backend,
        )
        return {
            **summary,
            "deployed_accuracy": lava["deployed_accuracy"],
            "output_agreement": lava["output_agreement"],
            "wall_seconds": lava["wall_seconds"],
            "bit_exact_with_refsim": lava["bit_exact"],
            "compared_with_refsim": lava["compared"],
            "semantics": lava["semantics"],
            **({"first_mismatch": lava["first_mismatch"]} if "first_mismatch" in lava else {}),
        }
    (out_name, out_op), *_ = int_graph.of_type(Output)
    watched = silence_layers(int_graph, out_name)
    trace = get_backend(backend).run(
        int_graph, quantize_inputs(int_graph, {input_name: x}), record=Record(spikes=True, layers=watched)
    )
    predicted = predict(trace.outputs[out_name], out_op.readout)
    return {
        **summary,
        "deployed_accuracy": None if y is None else float(np.mean(predicted == y)),
        "output_agreement": agreement(
            v.float_predictions, predicted, v.float_silent_mask, silent_samples(trace, watched)
        ),
        "deployed_ties": int(undecided(trace.outputs[out_name], out_op.readout).sum()),
        "wall_seconds": round(trace.wall_seconds, 3),
        # neuron-steps whose summed input left the target's dendritic accumulator (refsim counts them)
        **(
            {"accumulator_overflows": {n: s.acc_overflows for n, s in trace.stats.items()}}
            if backend == "refsim"
            else {}
        ),
    }


def _compiled_with(artifact: Path) -> dict[str, Any]:
    """What report.json records of the compile: the data (file, sha256, scored rows) and the pass rule."""
    path = artifact / "report.json"
    if not path.is_file():
        return {}
    try:
        report = json.loads(path.read_text())
        record = dict(report.get("data") or {})
        rule = report.get("verification") or {}
    except (ValueError, AttributeError):
        return {}
    for key in ("min_output_agreement", "max_accuracy_drop_pp"):
        if isinstance(rule.get(key), (int, float)):
            record[key] = rule[key]
    return record


def _data(
    artifact: Path,
    given: Path | None,
    record: dict[str, Any],
    input_shape: tuple[int, ...],
    steps: int,
    classes: int,
) -> tuple[Dataset, dict[str, Any]]:
    """The samples to run and where they come from: --data (the compile's scored rows where it is the
    compiled file), else the recorded file, which must still be there with the same sha256."""
    file, digest, rows = record.get("file"), record.get("sha256"), record.get("scored_rows")
    rows = rows if isinstance(rows, list) and len(rows) == 2 and all(isinstance(r, int) for r in rows) else None
    if given is not None:
        dataset = _shaped(given, input_shape, steps)
        same = digest is not None and rows is not None and _sha256(Path(given)) == digest
        if same:
            dataset = dataset.rows(rows[0], rows[1])
        source = "--data, the rows the compile scored" if same else "--data"
        return dataset, _used(given, rows[0] if same else 0, source)
    if not isinstance(file, str) or not isinstance(digest, str) or rows is None:
        raise DataError(
            f"{artifact} does not record the data it was compiled with, and no --data was given",
            code="DAT040",
            source=str(artifact),
            hint="pass --data FILE.npz (x, optional y): the samples to run the artifact on",
        )
    path = Path(file)
    if not (path.is_file() or path.is_dir()):
        raise DataError(
            f"the data the artifact was compiled with, {path}, is no longer there",
            code="DAT040",
            source=str(artifact),
            hint="pass --data FILE.npz: the samples to run the artifact on",
        )
    if _sha256(path) != digest:
        raise DataError(
            f"{path} changed since the artifact was compiled with it (its sha256 differs from the recorded {digest[:12]}…)",
            code="DAT041",
            source=str(artifact),
            hint="pass --data FILE.npz to run the artifact on that file as it is now",
        )
    dataset = _shaped(path, input_shape, steps)
    if path.resolve() == BUNDLED_DIGITS.resolve() and dataset.y is not None and dataset.y.max() >= classes:
        dataset = Dataset(dataset.path, dataset.x, None)  # as compile: digits labels only for 10+ classes
    return dataset.rows(rows[0], rows[1]), _used(path, rows[0], "the data the artifact was compiled with", digest)


def _used(path: Path, start: int, source: str, digest: str | None = None) -> dict[str, Any]:
    return {"path": str(path), "sha256": digest or _sha256(Path(path)), "rows": [start, start], "source": source}


def _shaped(path: Path, input_shape: tuple[int, ...], steps: int) -> Dataset:
    """The data in the model's input shape where only its layout differs (e.g. flat rows for (1, 8, 8)),
    as compile takes it; any other shape is refused (DAT008) before the NaN scan reads all of x."""
    try:
        return load_dataset(path, input_shape, steps)
    except DataError as exc:
        if exc.diagnostics[0].code != "DAT008":
            raise
        refusal = exc
    sample = _declared_sample(Path(path))
    if sample is None or int(np.prod(sample)) != int(np.prod(input_shape)):
        raise refusal
    dataset = load_dataset(path)
    return Dataset(dataset.path, dataset.x.reshape(len(dataset), *input_shape), dataset.y)


def _sha256(path: Path) -> str:
    from snncc.report import data_sha256  # the digest compile records

    return data_sha256(path)


def _declared_sample(path: Path) -> tuple[int, ...] | None:
    """One sample's shape as x's .npy header declares it (in an .npz or a folder), its data unread."""
    try:
        if path.is_dir():
            with open(path / "x.npy", "rb") as stream:
                return declared(stream)[0][1:]
        with zipfile.ZipFile(path) as archive, archive.open("x.npy") as stream:
            return declared(stream)[0][1:]
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return None
