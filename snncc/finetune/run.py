"""`snncc finetune`: a trained model the target cannot run exactly -> its deployable form, fine-tuned
through the target's integer grid on the user's training data, written as a model `snncc compile` reads.

The model is written as NIR (``model.nir``): compile already reads snncc's NIR export with no flags
and exactly (what NIR lacks rides in 'snncc' metadata), it loads without running code (no pickle, no
--arch), and other NIR tools can open it.  Every accuracy in the report is measured on samples the
fine-tuning never trained on: ``--test``, else the last fifth of ``--data``.  "deployed" is a real
compile of the written file (quantize, map, run the integer network on refsim).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snncc.data import Dataset, verification_data
from snncc.errors import FinetuneError
from snncc.ir import LIF, Const, Conv2d, Edge, Flatten, Graph, Input, Output, Stage, SumPool2d
from snncc.options import CompileOptions, DataOptions, ModelOptions
from snncc.output_dir import atomic_output_dir
from snncc.passes.approximate import describe
from snncc.passes.quantize import Quantize
from snncc.pipeline import input_encoding, target_numerics
from snncc.target import load_target

from .executor import structural
from .form import deployable, trainable_for
from .train import Schedule, finetune_graph

HOLD_OUT = 0.2  # of --data scored (without --test)
VALIDATION = 0.15  # of the training part, to pick the best epoch


@dataclass(frozen=True)
class FinetuneRequest:
    model: Path
    target: str
    data: Path
    out: Path
    test: Path | None = None
    arch: str | None = None
    allow_pickle: bool = False
    steps: int | None = None
    readout: str | None = None
    dt: float | None = None
    nir_from: str | None = None
    force: bool = False
    schedule: Schedule = field(default_factory=Schedule)


def run_finetune(request: FinetuneRequest, say: Callable[[str], None] = lambda _m: None) -> dict[str, Any]:
    from snncc.binding import output_classes, shaped_for
    from snncc.compile import compile_model
    from snncc.model_import import import_model

    options = CompileOptions(
        target=request.target,
        data=DataOptions(file=request.data),
        model=ModelOptions(
            arch=request.arch,
            allow_pickle=request.allow_pickle,
            steps=request.steps,
            readout=request.readout,
            dt=request.dt,
            nir_from=request.nir_from,
        ),
    )
    target = load_target(request.target)
    trainable_for(target)  # before any work
    say(f"loading {request.model}")
    data, graph = import_model(request.model, options, say=say)
    if data.y is None:
        raise FinetuneError(
            "finetune trains on labelled samples: the data file has no labels y",
            code="FTN001",
            source=str(request.data),
            hint="give --data an .npz with x (N, *input_shape) and integer labels y (N,)",
        )
    train, test, test_how = _split(data, request.test, graph, output_classes(graph), shaped_for)
    n_val = max(1, int(len(train) * VALIDATION))
    fit, validation = train.rows(0, len(train) - n_val), train.rows(len(train) - n_val)

    say("rewriting into the target's deployable form")
    form, approximations = deployable(graph, target)
    settings = Quantize(numerics=target_numerics(target, options), input_encoding=input_encoding(target, options))
    cpu = time.process_time()
    trained = finetune_graph(
        form,
        settings,
        (1 << target.numerics.input_bits) - 1,
        (fit.x, fit.y),
        (validation.x, validation.y),
        request.schedule,
        say,
    )
    cpu = time.process_time() - cpu
    final = _nir_ready(trained.graph.with_meta(stage=Stage.FLOAT))

    accuracy = {"float_before": _accuracy(graph, test), "deployable_form_before": _accuracy(form, test)}
    with atomic_output_dir(request.out, request.force, _inputs(request)) as tmp:
        from snncc.exporters.nir import write_nir
        from snncc.importers.nir import import_nir, read_nir

        write_nir(final, tmp / "model.nir", warn=lambda _m: None)  # its caveats are snncc's own metadata
        # what compile will read: the written file, imported as compile imports it
        written = import_nir(read_nir(tmp / "model.nir"), dt=None, steps=None, readout=None, source="nir:model.nir")
        accuracy["float_after"] = _accuracy(written, test)
        say(f"compiling the fine-tuned model for {target.name} to measure it deployed")
        deployed = compile_model(
            request.out / "model.nir",
            CompileOptions(target=target.name),
            imported=(test, written),
            calibration=fit.head(request.schedule.calibration_samples),
        )
        accuracy["deployed"] = deployed.comparison.verification.deployed_accuracy
        report = {
            "model": str(request.model),
            "target": target.name,
            "approximations": {n: {"description": describe(n), "layers": ls} for n, ls in approximations.items()},
            "accuracy": accuracy,
            "samples": {"trained": len(fit), "validation": len(validation), "scored": len(test), "scored_on": test_how},
            "training": {
                "epochs": trained.epochs,
                "cpu_seconds": round(cpu, 1),
                "wall_seconds": round(trained.seconds, 1),
                "validation_accuracy": trained.validation,
            },
            "compile": f"snncc compile {request.out / 'model.nir'} --target {target.name}",
        }
        from snncc.report import to_json

        (tmp / "finetune.json").write_text(to_json(report) + "\n")
        (tmp / "finetune.md").write_text(markdown(report))
    return report


def _split(data: Dataset, test_path: Path | None, graph: Graph, classes: int, shaped) -> tuple[Dataset, Dataset, str]:
    if test_path is not None:
        test = shaped(verification_data(test_path, classes=classes), graph)
        if test.y is None:
            raise FinetuneError("--test has no labels y", code="FTN001", source=str(test_path))
        return data, test, str(test_path)
    n = max(1, int(len(data) * HOLD_OUT))
    if len(data) - n < 2:
        raise FinetuneError(f"{len(data)} samples are too few to fine-tune on", code="FTN001", source=str(data.path))
    return data.rows(0, len(data) - n), data.rows(len(data) - n), f"the last {n} samples of --data (not trained on)"


def _accuracy(graph: Graph, data: Dataset) -> float:
    from snncc.backends import get_backend
    from snncc.verify import predict

    (input_name, _), *_ = graph.of_type(Input)
    (name, op), *_ = graph.of_type(Output)
    out = get_backend("floatsim").run(graph, {input_name: data.x}).outputs[name]
    return float((predict(out, op.readout) == data.y).mean())


def _nir_ready(graph: Graph) -> Graph:
    """The graph in ops NIR holds, computing the same: pooling sums (depthwise convs of ones, which
    nir 1.0.8 mistypes) as SumPool2d; biases of neurons without leak or current moved into their one
    synapse (exact: alpha 0 adds the synapse's output as it is), as NIR's IF node has no bias."""
    changes: dict[str, Any] = {
        name: SumPool2d(shape=op.shape, kernel=op.weight.array.shape[2:], stride=op.stride, padding=op.padding)
        for name, op in graph.of_type(Conv2d)
        if structural(op)
        and op.groups == op.weight.array.shape[0] == graph[graph.predecessors(name)[0]].shape[0]
        and op.weight.array.shape[1] == 1
        and op.dilation == (1, 1)
    }
    for name, op in graph.of_type(LIF):
        preds = graph.predecessors(name)
        if op.beta != 1.0 or op.alpha != 0.0 or op.bias is None or not op.bias.array.any() or len(preds) != 1:
            continue
        syn = changes.get(preds[0], graph[preds[0]])
        if not syn.IS_SYNAPSE or syn.bias is not None:
            continue
        b = np.broadcast_to(op.bias.array, op.shape) / op.gain
        per_channel = b.reshape(b.shape[0], -1) if syn.is_conv else b.reshape(-1, 1)
        if not np.all(per_channel == per_channel[:, :1]):
            continue  # a per-neuron bias a conv's per-channel bias cannot hold
        changes[preds[0]] = dataclasses.replace(syn, bias=Const(per_channel[:, 0].copy()))
        changes[name] = dataclasses.replace(op, bias=None)
    return _flattened(graph.replace_nodes(**changes))


def _flattened(graph: Graph) -> Graph:
    """A Flatten before every Dense reading a (C, H, W) layer (canonical graphs leave it implicit; NIR types it)."""
    nodes, edges = [], list(graph.edges)
    for name, op in graph.nodes:
        src = graph.predecessors(name)
        if op.IS_SYNAPSE and not op.is_conv and len(src) == 1 and len(graph[src[0]].shape) > 1:
            flat = f"{name}.flatten"
            nodes.append((flat, Flatten(shape=(int(np.prod(graph[src[0]].shape)),))))
            edges = [Edge(e.src, flat) if e == Edge(src[0], name) else e for e in edges] + [Edge(flat, name)]
        nodes.append((name, op))
    return Graph(tuple(nodes), tuple(edges), graph.meta)


def markdown(report: dict[str, Any]) -> str:
    a, t = report["accuracy"], report["training"]
    lines = [
        f"# snncc finetune: {report['model']} for {report['target']}",
        "",
        f"Scored on {report['samples']['scored']} samples ({report['samples']['scored_on']}).",
        "",
        "| model | accuracy |",
        "|---|---:|",
        f"| trained float model | {100 * a['float_before']:.2f}% |",
        f"| deployable form, before fine-tuning | {100 * a['deployable_form_before']:.2f}% |",
        f"| fine-tuned float model (on the integer grid) | {100 * a['float_after']:.2f}% |",
        f"| fine-tuned, deployed on {report['target']} | {100 * a['deployed']:.2f}% |",
        "",
        f"Fine-tuned {t['epochs']} epochs on {report['samples']['trained']} samples in {t['cpu_seconds']} s of CPU "
        f"({t['wall_seconds']} s wall).",
        "",
        "## The deployable form",
        "",
    ]
    lines += [
        f"- `{n}`: {v['description']}; layers: {', '.join(v['layers'])}" for n, v in report["approximations"].items()
    ]
    lines += ["" if report["approximations"] else "- none needed", "", f"Deploy it: `{report['compile']}`", ""]
    return "\n".join(lines)


def _inputs(request: FinetuneRequest) -> list[Path]:
    named = [request.model, request.data, request.test]
    if request.arch and ":" in request.arch:
        named.append(Path(request.arch.rpartition(":")[0]))
    return [Path(p) for p in named if p]
