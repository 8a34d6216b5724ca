"""deploy(): a model file (or an imported graph) -> the integer network placed on the target's cores.

Import the model with the data it is verified on, then the deployment passes (snncc.pipeline):
canonicalize, calibrate, quantize and map; all that `snncc check` runs."""

from __future__ import annotations

import dataclasses
import sys
import time
from pathlib import Path

from snncc.analyses import Approximated, QuantizedFrom
from snncc.binding import output_classes
from snncc.data import Dataset, calibration_split, check_labels
from snncc.errors import Diagnostic, StrictModeError
from snncc.ir import Graph, Input, IntInput, Stage
from snncc.limits import check_graph
from snncc.mapping.placement import Placement
from snncc.model_import import import_model, located
from snncc.netx_model import as_given, check_target
from snncc.options import CompileOptions
from snncc.passes.quantize import QuantizationReport
from snncc.pipeline import (
    Context,
    MapToCores,
    Progress,
    SplitFanIn,
    deployment_passes,
    dump_to,
    input_encoding,
    run_pipeline,
)
from snncc.result import Deployment
from snncc.target import load_target


def deploy(
    model_path: Path,
    options: CompileOptions,
    say: Progress = lambda _msg: None,
    timer: Timer | None = None,
    *,
    calibrate_v: bool = True,
    imported: tuple[Dataset, Graph] | None = None,
    calibration: Dataset | None = None,
) -> Deployment:
    """Import, canonicalize, quantize and map; ``calibrate_v=False`` skips the float simulation.

    ``imported``: a (dataset, FLOAT graph) made elsewhere (e.g. by ANN-to-SNN conversion); then
    ``model_path`` only names the source in reports and errors.  ``calibration``: the samples to
    calibrate on (default: ``options.data.calib``, else a part of the data that is then not scored).
    """
    timer = timer or Timer()
    ctx = Context(target=load_target(options.target), options=options, progress=say, dump=dump_to(sys.stderr))

    def located_warning(d: Diagnostic) -> Diagnostic:  # importer warnings name the model file
        return d if d.source else dataclasses.replace(d, source=str(model_path))

    if imported is None:
        say(f"loading {model_path}")
        with timer("import"), located(model_path):
            dataset, graph = import_model(
                model_path, options, warn=lambda d: ctx.diagnostics.append(located_warning(d)), say=say
            )
    else:
        dataset, graph = imported
    check_graph(graph, str(model_path))  # steps, weights, neurons: before anything simulates the model
    if graph.meta.stage is Stage.INTEGER:
        return _deploy_integer(model_path, options, ctx, dataset, graph)
    (input_name, input_op), *_ = graph.of_type(Input)
    check_labels(dataset, output_classes(graph))
    d = options.data
    split = calibration_split(
        dataset,
        input_shape=input_op.shape,
        steps=graph.meta.steps,
        given=calibration,
        calib=d.calib,
        data=d.file,
        most=d.calibration_samples,
    )

    input_encoding(ctx.the_target(), options)  # MAP020 before the float model is simulated
    samples = {input_name: split.calibration.x[: d.calibration_samples]}
    passes = deployment_passes(options, graph, samples, split.how, simulate=calibrate_v)
    with located(model_path):
        int_graph = run_pipeline(graph, passes, ctx, options.output.dump_after)
    timer.seconds.update(ctx.timings)
    if options.output.strict:
        warnings = [d for d in ctx.diagnostics if d.severity == "warning"]
        if warnings:
            raise StrictModeError(
                diagnostics=[Diagnostic("error", "STR001", "--strict: warnings are errors"), *warnings]
            )
    return Deployment(
        model_path=model_path,
        target=ctx.the_target(),
        dataset=split.scored,
        calibration=split,
        input_name=input_name,
        model_graph=graph,
        float_graph=ctx.get(QuantizedFrom).graph,
        int_graph=int_graph,
        quantization=ctx.get(QuantizationReport),
        placement=ctx.get(Placement),
        diagnostics=tuple(ctx.diagnostics),
        approximations=ctx.get(Approximated).changed,
    )


def _deploy_integer(
    model_path: Path, options: CompileOptions, ctx: Context, dataset: Dataset, graph: Graph
) -> Deployment:
    """A network that arrives integer (a netx file): placed on the target's cores as it is; the
    network as read is the reference the deployment is verified against (snncc/netx_model.py)."""
    check_target(graph, ctx.the_target())
    check_labels(dataset, output_classes(graph))
    (input_name, _), *_ = graph.of_type(IntInput)
    with located(model_path):
        int_graph = run_pipeline(graph, [SplitFanIn(), MapToCores(graph)], ctx, options.output.dump_after)
    return Deployment(
        model_path=model_path,
        target=ctx.the_target(),
        dataset=dataset,
        calibration=None,
        input_name=input_name,
        model_graph=graph,
        float_graph=None,
        int_graph=int_graph,
        quantization=as_given(graph),
        placement=ctx.get(Placement),
        diagnostics=tuple(ctx.diagnostics),
        approximations={},
    )


class Timer:
    """Seconds per named phase: ``with timer("import"): ...``."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> Timer:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self._name] = round(time.perf_counter() - self._start, 3)
