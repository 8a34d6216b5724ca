"""compile_model(): trained model -> verified integer deployment, as a straight line of named steps."""

from __future__ import annotations

import contextlib
import dataclasses
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from snncc.data import BUNDLED_DIGITS, Dataset, dataset_from_arrays, load_dataset
from snncc.errors import BackendError, DataError, Diagnostic, ImportFailed, InvalidGraph, MappingError, StrictModeError
from snncc.ir import Graph, Input, Numerics, Output, verify
from snncc.parallel import executor_for, in_flight_for
from snncc.passes.align_depths import align_depths
from snncc.passes.approximate import AFTER_CANONICALIZE, approximate
from snncc.passes.calibrate import calibrate
from snncc.passes.canonicalize import canonicalize
from snncc.passes.quantize import QuantizationReport, Quantize, quantize
from snncc.target import Target, load_target
from snncc.verify import Comparison, compare, predict

Progress = Callable[[str], None]


@dataclass(frozen=True)
class CompileOptions:
    target: str = "loihi"
    data: Path | None = None  # .npz with x (and y); default: the bundled digits test split if it fits
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

    @property
    def verification_passed(self) -> bool:
        v = self.comparison.verification
        return v.output_agreement >= self.min_agreement and (self.lava is None or self.lava["bit_exact"])

    min_agreement: float = 0.95


@dataclass(frozen=True)
class Deployment:
    """What the front half of the pipeline produces: the integer network placed on the target."""

    model_path: Path
    target: Target
    dataset: Dataset
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
) -> Deployment:
    """Import, canonicalize, quantize and map; ``calibrate_v=False`` skips the float simulation.

    ``imported``: a (dataset, FLOAT graph) made elsewhere (e.g. by ANN-to-SNN conversion); then
    ``model_path`` only names the source in reports and errors.
    """
    target = load_target(options.target)
    import_warnings: list[Diagnostic] = []
    if imported is None:
        say(f"loading {model_path}")
        with timer("import"), _located(model_path):
            dataset, graph = import_model(model_path, options, warn=import_warnings.append)
    else:
        dataset, graph = imported
    input_name = graph.of_type(Input)[0][0]

    say("canonicalizing (fold batch norm, fuse pooling, fold gains and resets; relays where branches meet)")
    with timer("canonicalize"), _located(model_path):
        approximated, approximations = approximate(graph, options.approximations)
        canonical = verify(canonicalize(verify(approximated)))
        again = tuple(n for n in options.approximations if n in AFTER_CANONICALIZE)
        canonical, later = approximate(canonical, again)
        for name, layers in later.items():
            approximations[name] = list(dict.fromkeys([*approximations[name], *layers]))
        canonical = verify(align_depths(canonical))  # relays: branches of unequal depth meet in step on chip

    say(
        f"quantizing{f' (calibrating on {min(len(dataset), options.calibration_samples)} samples)' if calibrate_v else ''}"
    )
    with timer("quantize"):
        encoding = options.input_encoding or target.input_encodings[0]
        _check_encoding(target, encoding)
        calib_x = {input_name: dataset.x[: options.calibration_samples]}
        max_steps = (1 << target.numerics.input_bits) - 1
        calibration = calibrate(canonical, calib_x, max_steps=max_steps, simulate=calibrate_v)
        numerics = netx_numerics(target.numerics) if options.netx_compatible else target.numerics
        int_graph, qreport = quantize(canonical, Quantize(numerics=numerics, input_encoding=encoding), calibration)
        verify(int_graph)

    say(f"mapping onto {target.name}")
    with timer("map"):
        from snncc.mapping import check_design_rules, partition

        # spike traffic weighted by the float model's firing rates on the calibration data, when simulated
        placement = partition(int_graph, target, firing_rates=calibration.firing_rates or None)
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
        dataset,
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
) -> CompileResult:
    say = progress or (lambda _msg: None)
    timer = _Timer()
    target = load_target(options.target)
    if options.lava_samples > 0 and options.oracle_backend not in target.backends:
        raise BackendError(
            f"{target.name} is not modelled by the {options.oracle_backend} backend",
            code="BKD042",
            hint=f"{target.name}'s bit-exact backends: {', '.join(target.backends)}",
        )
    d = deploy(Path(model_path), options, say, timer, imported=imported)

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
    verified on the samples ``x`` (N, *input_shape) with optional integer labels ``y``.  The way in
    for models that cannot be saved whole (snntorch's Leaky holds a closure)."""
    from snncc.importers.torch import import_torch

    options = options or CompileOptions()
    name = Path(f"<{type(model).__qualname__}>")
    dataset = dataset_from_arrays(x, y, source=str(name))
    graph = import_torch(
        model, tuple(dataset.x.shape[1:]), steps=options.steps, readout=options.readout, source=f"torch:{name}"
    )
    return compile_model(name, options, progress, imported=(dataset, graph))


def write_report(result: CompileResult, out: str | Path, force: bool = False) -> dict[str, Any]:
    """What `snncc compile --out` writes (artifact, report.json, report.md and plots), all or nothing."""
    from snncc.output_dir import atomic_output_dir
    from snncc.report import write_outputs

    with atomic_output_dir(Path(out), force=force) as tmp:
        return write_outputs(result, tmp)


# --- steps --------------------------------------------------------------------------------------


def netx_numerics(numerics: Numerics) -> Numerics:
    """The target's numerics narrowed to what a netx file holds: lava-dl's reader applies no weight
    exponent and a fixed bias exponent of 6 (snncc/netx_format.py)."""
    from snncc.netx_format import BIAS_EXP

    return dataclasses.replace(
        numerics, weight_exp_min=0, weight_exp_max=0, bias_exp_min=BIAS_EXP, bias_exp_max=BIAS_EXP
    )


def import_model(
    path: Path, options: CompileOptions, warn: Callable[[Diagnostic], None] | None = None
) -> tuple[Dataset, Graph]:
    """The model file, by its format, as a FLOAT graph, with the data it is verified on; ``warn``
    gets the importer's warnings."""
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
    model = _load_model(path, options)
    return _import_with_data(model, path, options)


def _load_model(path: Path, options: CompileOptions) -> Any:
    from snncc.importers.torch import load_torch_model  # torch is imported only for torch models

    return load_torch_model(path, allow_pickle=options.allow_pickle, arch=options.arch)


def _import_with_data(model: Any, path: Path, options: CompileOptions) -> tuple[Dataset, Graph]:
    """Import the model with the input shape of the data; default data: the bundled digits split."""
    from snncc.importers.torch import import_torch

    def imported(shape: tuple[int, ...]) -> Graph:
        return import_torch(model, shape, steps=options.steps, readout=options.readout, source=f"torch:{path}")

    if options.data is not None:
        dataset = load_dataset(options.data)
        try:
            return dataset, imported(tuple(dataset.x.shape[1:]))
        except InvalidGraph as err:
            if not _is_shape_error(err):
                raise
            raise DataError(
                f"the model cannot take samples of shape {tuple(dataset.x.shape[1:])} ({err.diagnostics[0].message})",
                code="DAT008",
                source=str(options.data),
                node=err.diagnostics[0].node,
                hint="give data whose samples have the model's input shape",
            ) from err
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
        return Dataset(digits.path, digits.x.reshape(len(digits.x), *shape), digits.y), graph
    raise DataError(
        "the model's input does not match the bundled 8x8 digits data, and no --data was given"
        + (f" ({mismatch.diagnostics[0].message})" if mismatch else ""),
        code="DAT011",
        node=mismatch.diagnostics[0].node if mismatch else None,
        hint="pass --data FILE.npz with x of shape (N, *input_shape) and optional labels y",
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
