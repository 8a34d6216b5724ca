"""compile_model(): trained model -> verified integer deployment.

Import the model with the data it is verified on, then two lists of passes run by
snncc.pipeline.run_pipeline: deployment_passes (to the integer network placed on the target's
cores; all that `snncc check` runs) and verification_passes (float model vs integer network,
energy, the bit-exact backend)."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from snncc.data import (
    BUNDLED_DIGIT_SHAPES,
    Dataset,
    calibration_split,
    check_labels,
    dataset_from_arrays,
    verification_data,
)
from snncc.errors import (
    EXIT_BAD_INPUT,
    BackendError,
    DataError,
    Diagnostic,
    ImportFailed,
    InvalidGraph,
    SnnccError,
    StrictModeError,
)
from snncc.ir import Graph, Input, IntInput, Output, Stage
from snncc.limits import check_graph
from snncc.netx_model import as_given, check_target, import_netx_model, is_hdf5
from snncc.options import CompileOptions
from snncc.passes.approximate import cost_warning
from snncc.pipeline import (
    Context,
    MapToCores,
    Progress,
    SplitFanIn,
    deployment_passes,
    dump_to,
    input_encoding,
    run_pipeline,
    verification_passes,
)
from snncc.report import write_report  # noqa: F401  (re-exported: snncc.compile.write_report, as before)
from snncc.result import CompileResult, Deployment  # also imported from here, as before
from snncc.target import load_target
from snncc.verify import lava_check  # noqa: F401  (re-exported: snncc.compile.lava_check, as before)


def deploy(
    model_path: Path,
    options: CompileOptions,
    say: Progress = lambda _msg: None,
    timer: _Timer | None = None,
    *,
    calibrate_v: bool = True,
    imported: tuple[Dataset, Graph] | None = None,
    calibration: Dataset | None = None,
) -> Deployment:
    """Import, canonicalize, quantize and map; ``calibrate_v=False`` skips the float simulation.

    ``imported``: a (dataset, FLOAT graph) made elsewhere (e.g. by ANN-to-SNN conversion); then
    ``model_path`` only names the source in reports and errors.  ``calibration``: the samples to
    calibrate on (default: ``options.calib``, else a part of the data that is then not scored).
    """
    timer = timer or _Timer()
    ctx = Context(target=load_target(options.target), options=options, progress=say, dump=dump_to(sys.stderr))

    def located(d: Diagnostic) -> Diagnostic:  # importer warnings name the model file
        return d if d.source else dataclasses.replace(d, source=str(model_path))

    if imported is None:
        say(f"loading {model_path}")
        with timer("import"), _located(model_path):
            dataset, graph = import_model(
                model_path, options, warn=lambda d: ctx.diagnostics.append(located(d)), say=say
            )
    else:
        dataset, graph = imported
    check_graph(graph, str(model_path))  # steps, weights, neurons: before anything simulates the model
    if graph.meta.stage is Stage.INTEGER:
        return _deploy_integer(model_path, options, ctx, dataset, graph)
    (input_name, input_op), *_ = graph.of_type(Input)
    check_labels(dataset, output_classes(graph))
    split = calibration_split(
        dataset,
        input_shape=input_op.shape,
        steps=graph.meta.steps,
        given=calibration,
        calib=options.calib,
        data=options.data,
        most=options.calibration_samples,
    )

    input_encoding(ctx.target, options)  # MAP020 before the float model is simulated
    samples = {input_name: split.calibration.x[: options.calibration_samples]}
    passes = deployment_passes(options, graph, samples, split.how, simulate=calibrate_v)
    with _located(model_path):
        int_graph = run_pipeline(graph, passes, ctx, options.dump_after)
    timer.seconds.update(ctx.timings)
    if options.strict:
        warnings = [d for d in ctx.diagnostics if d.severity == "warning"]
        if warnings:
            raise StrictModeError(
                diagnostics=[Diagnostic("error", "STR001", "--strict: warnings are errors"), *warnings]
            )
    return Deployment(
        model_path=model_path,
        target=ctx.target,
        dataset=split.scored,
        calibration=split,
        input_name=input_name,
        model_graph=graph,
        float_graph=ctx.quantized_from,
        int_graph=int_graph,
        quantization=ctx.quantization,
        placement=ctx.placement,
        diagnostics=tuple(ctx.diagnostics),
        approximations=ctx.approximations,
    )


def _deploy_integer(
    model_path: Path, options: CompileOptions, ctx: Context, dataset: Dataset, graph: Graph
) -> Deployment:
    """A network that arrives integer (a netx file): placed on the target's cores as it is; the
    network as read is the reference the deployment is verified against (snncc/netx_model.py)."""
    check_target(graph, ctx.target)
    check_labels(dataset, output_classes(graph))
    (input_name, _), *_ = graph.of_type(IntInput)
    with _located(model_path):
        int_graph = run_pipeline(graph, [SplitFanIn(), MapToCores(graph)], ctx, options.dump_after)
    return Deployment(
        model_path=model_path,
        target=ctx.target,
        dataset=dataset,
        calibration=None,
        input_name=input_name,
        model_graph=graph,
        float_graph=None,
        int_graph=int_graph,
        quantization=as_given(graph),
        placement=ctx.placement,
        diagnostics=tuple(ctx.diagnostics),
        approximations=ctx.approximations,
    )


def preflight(
    model_path: str | Path,
    options: CompileOptions,
    progress: Progress | None = None,
    *,
    imported: tuple[Dataset, Graph] | None = None,
) -> Deployment:
    """`snncc check`: everything up to and including mapping, without simulating.  A refusal whose
    hint names an approximation (--approximate NAME) would hide what later phases refuse; the check
    goes on with that approximation as a stand-in and reports those blockers too, in one run."""
    say = progress or (lambda _msg: None)
    try:
        return deploy(Path(model_path), options, say, _Timer(), calibrate_v=False, imported=imported)
    except SnnccError as err:
        if err.exit_code != EXIT_BAD_INPUT:
            raise
        first, found = err, list(err.diagnostics)
    tried = set(options.approximations)
    for _ in range(MAX_STAND_INS):
        stand_ins = sorted({n for d in found for n in STAND_IN.findall(d.hint or "")} - tried)
        if not stand_ins:
            break
        tried.update(stand_ins)
        say(f"checking what else stands in the way, with {', '.join(stand_ins)} in place")
        retry = dataclasses.replace(options, approximations=tuple(sorted(tried)))
        try:
            deploy(Path(model_path), retry, lambda _msg: None, _Timer(), calibrate_v=False, imported=imported)
            break
        except SnnccError as later:
            if later.exit_code != EXIT_BAD_INPUT:
                break
            found += [d for d in later.diagnostics if d not in found]
    if len(found) == len(first.diagnostics):
        raise first
    raise type(first)(diagnostics=found) from first


STAND_IN = re.compile(r"--approximate ([a-z][a-z-]*[a-z])")  # an approximation a hint offers
MAX_STAND_INS = 3  # rounds of stand-ins: each may uncover a refusal with another approximation


def compile_model(
    model_path: str | Path,
    options: CompileOptions,
    progress: Progress | None = None,
    *,
    imported: tuple[Dataset, Graph] | None = None,
    calibration: Dataset | None = None,
) -> CompileResult:
    check_agreement(options.min_output_agreement)
    check_accuracy_drop(options.max_accuracy_drop)
    check_parallel_options(options.workers, options.dask_scheduler)
    if options.lava_samples < 0:
        raise DataError(f"lava_samples must be 0 (no Lava run) or more, got {options.lava_samples}", code="DAT012")
    say = progress or (lambda _msg: None)
    timer = _Timer()
    target = load_target(options.target)
    if options.lava_samples > 0 and options.oracle_backend not in target.backends:
        raise BackendError(
            f"{target.name} is not modelled by the {options.oracle_backend} backend",
            code="BKD042",
            hint=f"{target.name}'s bit-exact backends: {', '.join(target.backends)}",
        )
    d = deploy(Path(model_path), options, say, timer, imported=imported, calibration=calibration)

    verify_set = d.dataset.head(options.samples)
    ctx = Context(target=d.target, options=options, progress=say, dump=dump_to(sys.stderr), placement=d.placement)
    calibrated = {iq.node: iq.calibrated_max for iq in d.quantization.inputs}
    passes = verification_passes(options, d.model_graph, {d.input_name: verify_set.x}, verify_set.y, calibrated)
    run_pipeline(d.int_graph, passes, ctx, options.dump_after)
    timer.seconds.update(ctx.timings)
    ranges = range_warnings(ctx.comparison.verification.input_ranges, str(d.dataset.path))
    v = ctx.comparison.verification
    costly = cost_warning(d.approximations, v.float_accuracy, v.deployed_accuracy)  # VER010: points at finetune
    return CompileResult(
        model_path=d.model_path,
        target=d.target,
        dataset=verify_set,
        float_graph=d.model_graph,
        int_graph=d.int_graph,
        quantization=d.quantization,
        placement=d.placement,
        comparison=ctx.comparison,
        energy=ctx.energy,
        lava=ctx.lava,
        diagnostics=(*d.diagnostics, *ranges, *costly),
        approximations=d.approximations,
        timings=timer.seconds,
        calibration=d.calibration,
        min_agreement=options.min_output_agreement,
        max_accuracy_drop=options.max_accuracy_drop,
        approximation_costs=ctx.approximation_costs,
        neurobench=ctx.neurobench,
    )


def range_warnings(ranges, source: str) -> list[Diagnostic]:
    """QNT023 per input whose scored samples reach outside the integer range calibration set:
    those values are clipped on the chip (a common cause: test data scaled unlike the training data)."""
    found = []
    for r in ranges:
        if not r.outside:
            continue
        calibrated = "" if r.calibrated_max is None else f"calibration max {r.calibrated_max:g}, "
        found.append(
            Diagnostic(
                "warning",
                "QNT023",
                f"the scored samples of input {r.node} reach {r.scored_min:g} to {r.scored_max:g}, outside the "
                f"calibrated range ({calibrated}largest integer input {r.representable_max:g}): "
                f"{r.clipped_fraction:.2%} of the scored input values are clipped on the chip",
                source=source,
                node=r.node,
                hint="calibrate on samples scaled like the scored ones (--calib), or scale --data as the model "
                "was trained (e.g. pixels in [0, 1], not [0, 16])",
            )
        )
    return found


def compile_module(
    model: Any,
    x: Any,
    y: Any = None,
    options: CompileOptions | None = None,
    progress: Progress | None = None,
    *,
    calib: Any = None,
) -> CompileResult:
    """`snncc compile` for a torch module built and loaded in Python (no model file, so no pickle):
    verified on the samples ``x`` (N, *input_shape), or (N, T, *input_shape) for one input per step,
    with optional integer labels ``y``; calibrated on ``calib`` (samples shaped as ``x``, numpy or
    torch), else on ``options.calib`` (a file), else on the first quarter of ``x``, then not scored.
    The way in for models that cannot be saved whole (snntorch's Leaky holds a closure)."""
    from snncc.importers.torch import import_torch

    options = options or CompileOptions()
    name = Path(f"<{type(model).__qualname__}>")
    dataset = dataset_from_arrays(x, y, source=ARRAY_X)  # the report names the data, not the model
    graph = import_for_samples(
        lambda shape: import_torch(model, shape, steps=options.steps, readout=options.readout, source=f"torch:{name}"),
        dataset,
    )
    calibration = None if calib is None else dataset_from_arrays(calib, source=ARRAY_CALIB)
    return compile_model(name, options, progress, imported=(dataset, graph), calibration=calibration)


# how reports name data given as arrays (compile_module): a Dataset's path, never a file
ARRAY_X, ARRAY_CALIB = "<array x>", "<array calib>"


# --- option checks (the command line runs them before any work) --------------------------------

MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))


def check_agreement(value: float) -> None:
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise DataError(
            f"--min-agreement must be a fraction in [0, 1], got {value}",
            code="DAT013",
            hint="e.g. --min-agreement 0.95: at least 95% of the samples classified as the float model does",
        )


def check_accuracy_drop(value: float) -> None:
    if not 0.0 <= value <= 100.0:  # NaN fails too
        raise DataError(
            f"--max-accuracy-drop must be percentage points in [0, 100], got {value}",
            code="DAT016",
            hint="e.g. --max-accuracy-drop 1: the deployed accuracy may be at most 1 point below the float model's",
        )


def check_parallel_options(workers: int, dask_scheduler: str | None) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise DataError(
            f"--workers must be between 1 and {MAX_WORKERS}, got {workers}",
            code="DAT012",
            hint=f"this machine has {os.cpu_count()} CPUs; for more, use a cluster with --dask-scheduler",
        )
    if dask_scheduler is not None:
        from snncc.parallel import check_scheduler_address

        check_scheduler_address(dask_scheduler)


def output_classes(graph: Graph) -> int:
    """The number of classes the model's output scores (predict() takes the argmax over them; the
    output op's shape is one step's, per-step readouts add the steps axis only in traces)."""
    _, op = graph.of_type(Output)[0]
    return int(np.prod(op.shape))


# --- steps --------------------------------------------------------------------------------------


def import_model(
    path: Path,
    options: CompileOptions,
    warn: Callable[[Diagnostic], None] | None = None,
    say: Progress | None = None,
) -> tuple[Dataset, Graph]:
    """The model file, by its format, as a FLOAT graph, with the data it is verified on; ``warn``
    gets the importer's warnings, ``say`` what the loader chose (e.g. a checkpoint's entry)."""
    if path.suffix.lower() == ".nir":
        from snncc.importers.nir import import_nir_file  # nir is imported only for NIR models

        return import_nir_file(
            path,
            dt=options.dt,
            steps=options.steps,
            readout=options.readout,
            exporter=options.nir_from,
            data=options.data,
            warn=warn,
        )
    if is_hdf5(path):  # by content: a lava-dl netx network, whatever the file is called
        return import_netx_model(path, options)
    if path.suffix.lower() == ".onnx":
        raise ImportFailed(
            "an ONNX file is an ANN; snncc converts it to an SNN with `snncc convert`",
            code="IMT009",
            source=str(path),
            hint=f"run: snncc convert {path} --calib DATA.npz --steps T --target ... --out DIR",
        )
    model = _load_model(path, options, say)
    return _import_with_data(model, path, options, warn)


def _load_model(path: Path, options: CompileOptions, say: Progress | None = None) -> Any:
    from snncc.importers.torch import load_torch_model  # torch is imported only for torch models

    return load_torch_model(path, allow_pickle=options.allow_pickle, arch=options.arch, note=say)


def _import_with_data(
    model: Any, path: Path, options: CompileOptions, warn: Callable[[Diagnostic], None] | None = None
) -> tuple[Dataset, Graph]:
    """Import the model with the input shape of the data; default data: the bundled digits split.

    A model whose forward reshapes its input gets the data in that shape (same values per sample)."""
    from snncc.importers.torch import import_torch

    def imported(shape: tuple[int, ...]) -> Graph:  # warns only once an import succeeded
        return import_torch(
            model, shape, steps=options.steps, readout=options.readout, source=f"torch:{path}", warn=warn
        )

    if options.data is not None:
        dataset = verification_data(options.data)
        graph = import_for_samples(imported, dataset)
        return _shaped_for(dataset, graph), graph
    mismatch = None
    for shape in BUNDLED_DIGIT_SHAPES:  # the shape the model imports with
        try:
            graph = imported(shape)
        except InvalidGraph as err:
            if not _is_shape_error(err):
                raise  # a real problem of the model, not of the data's shape
            mismatch = mismatch or err
            continue
        digits = verification_data(None, input_shape=shape, classes=output_classes(graph))
        return _shaped_for(digits, graph), graph
    raise DataError(
        "the model's input does not match the bundled 8x8 digits data, and no --data was given"
        + (f" ({mismatch.diagnostics[0].message})" if mismatch else ""),
        code="DAT011",
        node=mismatch.diagnostics[0].node if mismatch else None,
        hint="pass --data FILE.npz with x of shape (N, *input_shape) and optional labels y",
    )


def _shaped_for(dataset: Dataset, graph: Graph) -> Dataset:
    """The data in the shape of the graph's input, where the model reshaped its input (same sizes)."""
    shape = graph.of_type(Input)[0][1].shape
    if tuple(dataset.x.shape[1:]) == tuple(shape) or int(np.prod(dataset.x.shape[1:])) != int(np.prod(shape)):
        return dataset
    return Dataset(dataset.path, dataset.x.reshape(len(dataset.x), *shape), dataset.y)


def import_for_samples(imported: Callable[[tuple[int, ...]], Graph], dataset: Dataset) -> Graph:
    """Import a model whose input shape only its data tells: samples x[i] of shape S are either one
    input, presented at every step (input shape S), or one input per step, S = (T, *input shape).
    The model decides: a reading is kept when the model imports with that input shape (and, per step,
    runs T steps); when both readings fit, the data is refused as ambiguous rather than guessed."""
    sample = tuple(dataset.x.shape[1:])
    readings = [(sample, False), *([(sample[1:], True)] if len(sample) >= 2 else [])]
    fits: list[tuple[tuple[int, ...], Graph]] = []
    problems: list[tuple[InvalidGraph | None, str]] = []
    for shape, per_step in readings:
        try:
            graph = imported(shape)
        except InvalidGraph as err:
            if not _is_shape_error(err):
                raise
            problems.append((err, f"as one input of shape {shape}: {err.diagnostics[0].message}"))
            continue
        if per_step and graph.meta.steps != sample[0]:
            problems.append(
                (None, f"as {sample[0]} steps of {shape}: the model runs {graph.meta.steps} steps, not {sample[0]}")
            )
            continue
        fits.append((shape, graph))
    if len(fits) == 1:
        return fits[0][1]
    if fits:
        raise DataError(
            f"samples of shape {sample} fit the model both as one input presented at every step and as "
            f"{sample[0]} steps of one input of shape {sample[1:]}, each",
            code="DAT030",
            source=str(dataset.path),
            hint="snncc cannot tell which you mean: for direct input give x of shape (N, *input_shape); for "
            f"per-step input give x of shape (N, T, *input_shape) with T different from {sample[0]}, or run "
            "the model with another --steps",
        )
    first = next((err for err, _ in problems if err is not None), None)
    raise DataError(
        f"the model cannot take samples of shape {sample}: " + "; ".join(why for _, why in problems),
        code="DAT008",
        source=str(dataset.path),
        node=first.diagnostics[0].node if first else None,
        hint="give x of shape (N, *input_shape) (the same input at every step) or (N, T, *input_shape) "
        "(one input per step, T = the model's steps; pass --steps T for a model that does not fix it)",
    )


@contextlib.contextmanager
def _located(path: Path) -> Iterator[None]:
    """Errors about the model name the model file (which file, which layer, what, what to do)."""
    try:
        yield
    except (ImportFailed, InvalidGraph) as err:
        raise err.located(str(path)) from err.__cause__


def _is_shape_error(err: InvalidGraph) -> bool:
    return all(d.code == "GRF004" for d in err.diagnostics)


class _Timer:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    def __call__(self, name: str) -> _Timer:
        self._name = name
        return self

    def __enter__(self) -> None:
        self._start = time.perf_counter()

    def __exit__(self, *exc: object) -> None:
        self.seconds[self._name] = round(time.perf_counter() - self._start, 3)
