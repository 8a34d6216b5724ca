"""compile_model(): trained model -> verified integer deployment, as a straight line of named steps."""

from __future__ import annotations

import contextlib
import dataclasses
import os
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snncc.data import (
    BUNDLED_DIGITS,
    BUNDLED_DIGITS_CALIB,
    CalibrationSplit,
    Dataset,
    check_labels,
    dataset_from_arrays,
    load_dataset,
    split_for_calibration,
)
from snncc.errors import BackendError, DataError, Diagnostic, ImportFailed, InvalidGraph, MappingError, StrictModeError
from snncc.ir import Graph, Input, Numerics, Output, verify
from snncc.limits import check_graph
from snncc.parallel import executor_for, in_flight_for
from snncc.passes.calibrate import calibrate
from snncc.passes.quantize import QuantizationReport, Quantize, quantize
from snncc.pipeline import Context, canonical_passes, dump_to, run_pipeline
from snncc.target import Target, load_target
from snncc.verify import Comparison, compare, predict, verdict

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CompileOptions:
    target: str = "loihi"
    data: Path | None = None  # .npz with x (and y); default: the bundled digits test split if it fits
    calib: Path | None = None  # .npz with x to calibrate on; default: a part of `data` that is then not scored
    steps: int | None = None  # needed when the model is not an snncc.nn.SNN
    readout: str | None = None
    input_encoding: str | None = None  # default: the target's first
    allow_pickle: bool = False  # trust the model file to run code while loading
    arch: str | None = None  # "module:Class" (or "path/file.py:Class") for a state-dict checkpoint
    dt: float | None = None  # NIR time step in seconds (NIR leaves discretization to the backend)
    nir_from: str | None = None  # the tool that wrote a NIR file, where it departs from NIR's equations
    samples: int | None = None  # verify on the first N samples only
    calibration_samples: int = 256
    lava_samples: int = 0  # > 0: also run Lava on that many samples and compare with refsim bit for bit
    oracle_backend: str = "lava"  # what lava_samples run on: lava (Loihi targets) or xylosim (xylo)
    approximations: tuple[str, ...] = ()  # named approximations the user accepts (passes/approximate.py)
    tolerance: float = 0.99  # per-layer spike agreement below this marks a layer as diverged
    min_output_agreement: float = 0.95  # below this the compile exits with "verification failed"
    strict: bool = False  # warnings become errors
    workers: int = 1  # verification batches over this many local processes
    dask_scheduler: str | None = None  # or over a Dask cluster (its scheduler's address)
    device: str | None = None  # reference backend on torch tensors on this device ("cuda"); None: numpy
    netx_compatible: bool = False  # quantize within what lava-dl's netx format holds (exporters/netx.py)
    dump_after: tuple[str, ...] = ()  # print the graph after these passes (snncc.pipeline.PASS_NAMES)


@dataclass(frozen=True)
class CompileResult:
    model_path: Path
    target: Target
    dataset: Dataset
    float_graph: Graph  # the imported model (FLOAT stage) the deployment was verified against
    int_graph: Graph
    quantization: QuantizationReport
    placement: Any  # snncc.mapping Placement
    comparison: Comparison
    energy: Any  # snncc.energy EnergyReport
    lava: dict[str, Any] | None
    diagnostics: tuple[Diagnostic, ...]
    approximations: dict[str, list[str]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    calibration: CalibrationSplit | None = None  # which samples set the scales (None: not recorded)

    @property
    def verification_passed(self) -> bool:
        return self.verdict[0]

    @property
    def verdict(self) -> tuple[bool, list[str]]:
        """(passed, why it failed): snncc.verify.verdict on this compile's verification and Lava run."""
        return verdict(self.comparison.verification, self.min_agreement, self.lava)

    min_agreement: float = 0.95


@dataclass(frozen=True)
class Deployment:
    """What the front half of the pipeline produces: the integer network placed on the target."""

    model_path: Path
    target: Target
    dataset: Dataset  # the samples to score: none of them was used for calibration unless calibration.overlaps
    calibration: CalibrationSplit
    input_name: str
    model_graph: Graph  # the imported model (FLOAT stage): what the deployment is verified against
    float_graph: Graph  # CANONICAL stage, after any approximations
    int_graph: Graph
    quantization: QuantizationReport
    placement: Any  # snncc.mapping Placement
    diagnostics: tuple[Diagnostic, ...]
    approximations: dict[str, list[str]]  # name -> layers it changed


def deploy(
    model_path: Path,
    options: CompileOptions,
    say: Progress,
    timer: _Timer,
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
    target = load_target(options.target)
    import_warnings: list[Diagnostic] = []
    if imported is None:
        say(f"loading {model_path}")
        with timer("import"), _located(model_path):
            dataset, graph = import_model(model_path, options, warn=import_warnings.append, say=say)
    else:
        dataset, graph = imported
    check_graph(graph, str(model_path))  # steps, weights, neurons: before anything simulates the model
    input_name = graph.of_type(Input)[0][0]
    check_labels(dataset, output_classes(graph))
    split = _calibration_split(dataset, graph, options, calibration)

    say("canonicalizing (fold batch norm, fuse pooling, fold gains and resets; relays where branches meet)")
    with timer("canonicalize"), _located(model_path):
        ctx = Context(dump=dump_to(sys.stderr))
        canonical = run_pipeline(graph, canonical_passes(options.approximations), ctx, options.dump_after)
        approximations = ctx.approximations

    calibrating = min(len(split.calibration), options.calibration_samples)
    say(f"quantizing{f' (calibrating on {calibrating} samples: {split.how})' if calibrate_v else ''}")
    with timer("quantize"):
        encoding = options.input_encoding or target.input_encodings[0]
        _check_encoding(target, encoding)
        calib_x = {input_name: split.calibration.x[: options.calibration_samples]}
        max_steps = (1 << target.numerics.input_bits) - 1
        calibration = calibrate(canonical, calib_x, max_steps=max_steps, simulate=calibrate_v)
        numerics = netx_numerics(target.numerics) if options.netx_compatible else target.numerics
        int_graph, qreport = quantize(canonical, Quantize(numerics=numerics, input_encoding=encoding), calibration)
        verify(int_graph)

    say(f"mapping onto {target.name}")
    with timer("map"):
        from snncc.mapping import check_design_rules, partition
        from snncc.mapping.fan_in import explain_fan_in
        from snncc.mapping.split import split_fan_in

        int_graph = split_fan_in(int_graph, target)  # partial sums on other cores where a fan-in is too wide

        # spike traffic weighted by the float model's firing rates on the calibration data, when simulated
        try:
            placement = partition(int_graph, target, firing_rates=calibration.firing_rates or None)
        except MappingError as err:  # name the pooling fused into a layer whose fan-in is too large
            raise MappingError(diagnostics=explain_fan_in(list(err.diagnostics), graph)) from err
        map_warnings = [d for d in check_design_rules(int_graph, target) if d.severity == "warning"]
    located = [d if d.source else dataclasses.replace(d, source=str(model_path)) for d in import_warnings]
    diagnostics = (*located, *qreport.diagnostics, *map_warnings)
    if options.strict:
        warnings = [d for d in diagnostics if d.severity == "warning"]
        if warnings:
            raise StrictModeError(
                diagnostics=[Diagnostic("error", "STR001", "--strict: warnings are errors"), *warnings]
            )
    return Deployment(
        model_path,
        target,
        split.scored,
        split,
        input_name,
        graph,
        canonical,
        int_graph,
        qreport,
        placement,
        diagnostics,
        approximations,
    )


def preflight(
    model_path: str | Path,
    options: CompileOptions,
    progress: Progress | None = None,
    *,
    imported: tuple[Dataset, Graph] | None = None,
) -> Deployment:
    """`snncc check`: everything up to and including mapping, without simulating."""
    return deploy(
        Path(model_path), options, progress or (lambda _msg: None), _Timer(), calibrate_v=False, imported=imported
    )


def compile_model(
    model_path: str | Path,
    options: CompileOptions,
    progress: Progress | None = None,
    *,
    imported: tuple[Dataset, Graph] | None = None,
    calibration: Dataset | None = None,
) -> CompileResult:
    check_agreement(options.min_output_agreement)
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
    say(f"simulating {len(verify_set)} samples x {d.int_graph.meta.steps} steps (float model and reference backend)")
    with timer("verify"), executor_for(options.workers, options.dask_scheduler) as executor:
        comparison = compare(
            d.model_graph,
            d.int_graph,
            {d.input_name: verify_set.x},
            verify_set.y,
            tolerance=options.tolerance,
            progress=lambda done, total: say(f"  {done}/{total} samples"),
            executor=executor,
            in_flight=in_flight_for(executor, options.workers),
            device=options.device,
        )

    with timer("energy"):
        from snncc.energy import estimate

        energy = estimate(d.int_graph, d.placement, comparison.deployed_trace, d.target)

    lava = None
    if options.lava_samples > 0:
        n = min(options.lava_samples, len(verify_set))
        say(f"running {options.oracle_backend} on {n} samples")
        with timer("lava"):
            lava = lava_check(
                d.int_graph,
                {d.input_name: verify_set.x[:n]},
                float_predictions=comparison.verification.float_predictions[:n],
                labels=None if verify_set.y is None else verify_set.y[:n],
                backend=options.oracle_backend,
            )
    return CompileResult(
        model_path=d.model_path,
        target=d.target,
        dataset=verify_set,
        float_graph=d.model_graph,
        int_graph=d.int_graph,
        quantization=d.quantization,
        placement=d.placement,
        comparison=comparison,
        energy=energy,
        lava=lava,
        diagnostics=d.diagnostics,
        approximations=d.approximations,
        timings=timer.seconds,
        calibration=d.calibration,
        min_agreement=options.min_output_agreement,
    )


def compile_module(
    model: Any,
    x: Any,
    y: Any = None,
    options: CompileOptions | None = None,
    progress: Progress | None = None,
) -> CompileResult:
    """`snncc compile` for a torch module built and loaded in Python (no model file, so no pickle):
    verified on the samples ``x`` (N, *input_shape), or (N, T, *input_shape) for one input per step,
    with optional integer labels ``y``.  The way in
    for models that cannot be saved whole (snntorch's Leaky holds a closure)."""
    from snncc.importers.torch import import_torch

    options = options or CompileOptions()
    name = Path(f"<{type(model).__qualname__}>")
    dataset = dataset_from_arrays(x, y, source=str(name))
    graph = import_for_samples(
        lambda shape: import_torch(model, shape, steps=options.steps, readout=options.readout, source=f"torch:{name}"),
        dataset,
    )
    return compile_model(name, options, progress, imported=(dataset, graph))


def write_report(
    result: CompileResult,
    out: str | Path,
    force: bool = False,
    inputs: Sequence[str | Path] = (),
    sections: Sequence[Any] = (),
) -> dict[str, Any]:
    """What `snncc compile --out` writes (artifact, report.json, report.md and plots), all or nothing;
    never into a folder that holds the model, the data or ``inputs`` (snncc.output_dir);
    ``sections``: extra report sections (snncc.report.ReportSection)."""
    from snncc.output_dir import atomic_output_dir
    from snncc.report import write_outputs

    read = [result.model_path, result.dataset.path, *inputs]
    with atomic_output_dir(Path(out), force=force, inputs=read) as tmp:
        return write_outputs(result, tmp, sections)


# --- option checks (the command line runs them before any work) --------------------------------

MAX_WORKERS = max(64, 4 * (os.cpu_count() or 1))


def check_agreement(value: float) -> None:
    if not 0.0 <= value <= 1.0:  # NaN fails too
        raise DataError(
            f"--min-agreement must be a fraction in [0, 1], got {value}",
            code="DAT013",
            hint="e.g. --min-agreement 0.95: at least 95% of the samples classified as the float model does",
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


def netx_numerics(numerics: Numerics) -> Numerics:
    """The target's numerics narrowed to what a netx file holds: lava-dl's reader applies no weight
    exponent and a fixed bias exponent of 6 (snncc/netx_format.py)."""
    from snncc.netx_format import BIAS_EXP

    return dataclasses.replace(
        numerics, weight_exp_min=0, weight_exp_max=0, bias_exp_min=BIAS_EXP, bias_exp_max=BIAS_EXP
    )


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

        return import_nir_file(path, options, warn)
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
        dataset = load_dataset(options.data)
        graph = import_for_samples(imported, dataset)
        return _shaped_for(dataset, graph), graph
    if not BUNDLED_DIGITS.is_file():
        raise DataError(
            "no --data given and the bundled digits data is not available", code="DAT010", hint="pass --data FILE.npz"
        )
    digits = load_dataset(BUNDLED_DIGITS)
    mismatch = None
    for shape in (tuple(digits.x.shape[1:]), (int(np.prod(digits.x.shape[1:])),)):
        try:
            graph = imported(shape)
        except InvalidGraph as err:
            if not _is_shape_error(err):
                raise  # a real problem of the model, not of the data's shape
            mismatch = mismatch or err
            continue
        # digits labels (0-9) mean nothing to a model with fewer outputs: verify on agreement only
        labels = digits.y if digits.y is not None and digits.y.max() < output_classes(graph) else None
        return _shaped_for(Dataset(digits.path, digits.x.reshape(len(digits.x), *shape), labels), graph), graph
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


def _calibration_split(
    dataset: Dataset, graph: Graph, options: CompileOptions, given: Dataset | None
) -> CalibrationSplit:
    """Calibrate on ``given``, on ``--calib``, on the bundled digits' training samples (for the
    bundled test split), or else on a part of the data that is then not scored."""
    if given is not None:
        overlaps = given.path == dataset.path
        return CalibrationSplit(given, dataset, f"{len(given)} samples of {given.path.name}", overlaps)
    if options.calib is not None:
        calib = _like(load_dataset(options.calib), dataset, graph)
        same = options.data is not None and Path(options.calib).resolve() == Path(options.data).resolve()
        return CalibrationSplit(calib, dataset, f"{len(calib)} samples of {options.calib.name} (--calib)", same)
    if options.data is None and dataset.path == BUNDLED_DIGITS and BUNDLED_DIGITS_CALIB.is_file():
        calib = _like(load_dataset(BUNDLED_DIGITS_CALIB), dataset, graph)
        return CalibrationSplit(calib, dataset, f"{len(calib)} training samples of the bundled digits (calib_data.npz)")
    return split_for_calibration(dataset, options.calibration_samples)


def _like(calib: Dataset, data: Dataset, graph: Graph) -> Dataset:
    """Calibration samples in the layout the data was imported with (direct or one input per step)."""
    (_, op), *_ = graph.of_type(Input)
    sample = tuple(calib.x.shape[1:])
    if sample in (tuple(data.x.shape[1:]), tuple(op.shape), (graph.meta.steps, *op.shape)):
        return calib
    if int(np.prod(sample)) == int(np.prod(data.x.shape[1:])):  # e.g. (64,) samples for a (1, 8, 8) import
        return Dataset(calib.path, calib.x.reshape(len(calib.x), *data.x.shape[1:]), calib.y)
    raise DataError(
        f"calibration samples have shape {sample} but the model takes {tuple(op.shape)}"
        f" (or, one input per step, ({graph.meta.steps}, {', '.join(map(str, op.shape))}))",
        code="DAT008",
        source=str(calib.path),
        hint="give --calib samples of the same shape as the --data samples",
    )


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


def _check_encoding(target: Target, encoding: str) -> None:
    if encoding not in target.input_encodings:
        raise MappingError(
            f"target {target.name} cannot receive {encoding!r} input",
            code="MAP020",
            hint=f"choose one of: {', '.join(target.input_encodings)}",
        )


def lava_check(
    int_graph: Graph,
    x: dict[str, np.ndarray],
    *,
    float_predictions: np.ndarray | None = None,
    labels: np.ndarray | None = None,
    backend: str = "lava",
) -> dict[str, Any]:
    """Run Lava (or another bit-exact ``backend``: xylosim) and refsim on the same inputs; demand equal
    u, v and spikes at every step.

    Also scores that backend's own outputs (accuracy, agreement with the float model's predictions).
    """
    from snncc.backends import Record, first_mismatch, get_backend
    from snncc.passes.quantize import quantize_inputs

    xi = quantize_inputs(int_graph, x)
    record = Record(spikes=True, v=True, u=True)
    ref = get_backend("refsim").run(int_graph, xi, record=record)
    lava = get_backend(backend).run(int_graph, xi, record=record)
    mismatch = first_mismatch(ref, lava)
    (output_name, output_op), *_ = int_graph.of_type(Output)
    predictions = predict(lava.outputs[output_name], output_op.readout)
    result: dict[str, Any] = {
        "backend": backend,
        "samples": int(lava.batch),
        "deployed_accuracy": None if labels is None else float(np.mean(predictions == labels)),
        "output_agreement": None if float_predictions is None else float(np.mean(predictions == float_predictions)),
        "bit_exact": mismatch is None,
        "compared": ["u", "v", "spikes"],
        "wall_seconds": round(lava.wall_seconds, 3),
        "steps_per_second": round(lava.batch * lava.steps / lava.wall_seconds, 1) if lava.wall_seconds else None,
    }
    if mismatch is not None:
        var, sample, step, neuron, expected, got, layer = mismatch
        result["first_mismatch"] = {
            "variable": var,
            "layer": layer,
            "sample": sample,
            "step": step,
            "neuron": list(neuron),
            "refsim": expected,
            backend: got,
        }
    return result


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
