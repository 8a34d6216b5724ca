"""Passes as named objects and the one runner that applies them (issue 16).

A pass is a small frozen dataclass with a ``name``, the graph stage it takes and the stage it
leaves, and ``run(graph, ctx) -> Graph``.  ``run_pipeline`` applies passes in order, verifies the
graph against its stage after every pass (so a pass that breaks an invariant is named at once),
records each pass's time, and prints the graph after the passes ``dump_after`` names.  Side
results (which layers an approximation changed, the quantization report, the placement) and
warnings go into the ``Context``, not into tuple returns.  An analysis is a pass that returns the
graph unchanged and leaves its result in the context: ``calibrate`` (the float model's statistics,
which ``quantize`` reads from there), ``map`` (the placement on the target's cores) and the
verification passes.  A result is looked up by its type (``ctx.get(Calibration)``); each pass
declares the types it ``reads`` (must be there), ``uses`` (read if there) and ``provides``, and a
``Pipeline`` refuses, when it is built, a pass placed before the pass that provides what it reads.

``deployment_passes`` is the list that takes an imported model to a placed integer network;
``verification_passes`` the analyses of that network compile_model adds: verify (float model vs
integer network), energy and, with --lava-samples, the bit-exact backend's run.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol, TypeVar

import numpy as np

from snncc.analyses import Approximated, ApproximationCosts, OracleRun, QuantizedFrom
from snncc.energy import EnergyReport
from snncc.errors import DataError, Diagnostic, MappingError, QuantizationError
from snncc.families import family_of
from snncc.ir import Graph, Numerics, Stage, verify
from snncc.ir.printer import print_graph
from snncc.mapping.placement import Placement
from snncc.neurobench import MeasureNeuroBench
from snncc.options import CompileOptions
from snncc.passes.align_depths import align_depths
from snncc.passes.approximate import AFTER_CANONICALIZE, approximate
from snncc.passes.calibrate import Calibration, calibrate
from snncc.passes.canonicalize import canonicalize
from snncc.passes.quantize import QuantizationReport, Quantize, quantize
from snncc.progress import counter
from snncc.target import Target
from snncc.verify import Comparison, compare, lava_check

Progress = Callable[[str], None]
T = TypeVar("T")


def _silent(_message: str) -> None:
    pass


@dataclass
class Context:
    """What passes share besides the graph: the target and options they compile for, where progress
    messages and warnings go, per-pass timings, the dump sink, and the results passes leave."""

    target: Target | None = None  # None: only passes that do not depend on a target can run
    options: CompileOptions = field(default_factory=CompileOptions)
    progress: Progress = _silent
    diagnostics: list[Diagnostic] = field(default_factory=list)  # warnings, in the order passes found them
    timings: dict[str, float] = field(default_factory=dict)  # pass name -> seconds
    dump: Callable[[str, Graph], None] | None = None  # called after each pass named in dump_after
    results: dict[type, Any] = field(default_factory=dict)  # result type -> what the pass providing it left

    def put(self, result: Any) -> None:
        self.results[type(result)] = result

    def get(self, kind: type[T]) -> T:
        """The result of type ``kind``; a Pipeline's order check makes a missing one a bug, said so."""
        if kind not in self.results:
            raise LookupError(f"no {kind.__name__} in the context: run the pass that provides it first")
        return self.results[kind]

    def find(self, kind: type[T]) -> T | None:
        return self.results.get(kind)

    def the_target(self) -> Target:
        if self.target is None:
            raise ValueError("this pass needs a target: Context(target=snncc.target.load_target(name))")
        return self.target


class Pass(Protocol):
    name: ClassVar[str]
    requires: ClassVar[Stage]
    produces: ClassVar[Stage]
    # analysis result types (optional: a pass without them reads and provides none)
    # reads: ClassVar[tuple[type, ...]]     must be in the context when the pass runs
    # uses: ClassVar[tuple[type, ...]]      read if there (then it must be provided before, not after)
    # provides: ClassVar[tuple[type, ...]]  what the pass puts into the context

    def run(self, graph: Graph, ctx: Context) -> Graph: ...


class PipelineOrderError(ValueError):
    """A pass placed before the pass that provides what it reads (a bug of whoever built the list)."""


def _kinds(p: Pass, role: str) -> tuple[type, ...]:
    return getattr(p, role, ())


def check_order(passes: Sequence[Pass], given: Sequence[type] = ()) -> None:
    """Every type a pass reads is ``given`` or provided by a pass before it; a type it uses if there is
    not provided only after it.  The error names both passes."""
    available = set(given)
    for i, p in enumerate(passes):
        for kind in (*_kinds(p, "reads"), *_kinds(p, "uses")):
            if kind in available:
                continue
            later = next((q for q in passes[i + 1 :] if kind in _kinds(q, "provides")), None)
            if later is not None:
                raise PipelineOrderError(
                    f"pass {p.name!r} reads {kind.__name__}, which pass {later.name!r} provides only after it: "
                    f"put {later.name!r} before {p.name!r}"
                )
            if kind in _kinds(p, "reads"):
                raise PipelineOrderError(
                    f"pass {p.name!r} reads {kind.__name__}, which no pass before it provides"
                    + (
                        f" and the context is not given ({', '.join(sorted(k.__name__ for k in given))})"
                        if given
                        else ""
                    )
                )
        available.update(_kinds(p, "provides"))


@dataclass(frozen=True)
class Pipeline:
    """Passes in the order they run, checked when built: each analysis after what it reads.
    ``given``: the result types the context holds before the first pass (e.g. the placement that
    the deployment left, for the verification passes)."""

    passes: tuple[Pass, ...]
    given: tuple[type, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "passes", tuple(self.passes))
        check_order(self.passes, self.given)

    def __iter__(self):
        return iter(self.passes)

    def __len__(self) -> int:
        return len(self.passes)


@dataclass(frozen=True)
class Approximate:
    """The named approximations the user accepted (passes/approximate.py), on the float graph."""

    names: tuple[str, ...]
    name: ClassVar[str] = "approximate"
    requires: ClassVar[Stage] = Stage.FLOAT
    produces: ClassVar[Stage] = Stage.FLOAT
    provides: ClassVar[tuple[type, ...]] = (Approximated,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return _approximate(graph, self.names, ctx)


@dataclass(frozen=True)
class Canonicalize:
    """Fold batch norm, fuse pooling and flatten, fold gains, resets and spike amplitudes."""

    name: ClassVar[str] = "canonicalize"
    requires: ClassVar[Stage] = Stage.FLOAT
    produces: ClassVar[Stage] = Stage.CANONICAL

    def run(self, graph: Graph, ctx: Context) -> Graph:
        ctx.progress(
            "canonicalizing (fold batch norm, fuse pooling, fold gains and resets; relays where branches meet)"
        )
        return canonicalize(graph)


@dataclass(frozen=True)
class ApproximateCanonical:
    """The approximations that apply to canonical layers (e.g. drop-initial-potential after folds)."""

    names: tuple[str, ...]
    name: ClassVar[str] = "approximate-canonical"
    requires: ClassVar[Stage] = Stage.CANONICAL
    produces: ClassVar[Stage] = Stage.CANONICAL
    uses: ClassVar[tuple[type, ...]] = (Approximated,)
    provides: ClassVar[tuple[type, ...]] = (Approximated,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return _approximate(graph, tuple(n for n in self.names if n in AFTER_CANONICALIZE), ctx)


@dataclass(frozen=True)
class AlignDepths:
    """Relay layers where branches of unequal depth meet, so that they meet in step on a chip."""

    name: ClassVar[str] = "align-depths"
    requires: ClassVar[Stage] = Stage.CANONICAL
    produces: ClassVar[Stage] = Stage.CANONICAL

    def run(self, graph: Graph, ctx: Context) -> Graph:
        return align_depths(graph)


@dataclass(frozen=True, eq=False)
class Calibrate:
    """Analysis: the float model's input ranges and, with ``simulate``, per-layer |v| peaks and firing
    rates on ``samples`` (input name -> (N, *shape)), for quantize; ``simulate=False`` for a preflight."""

    samples: dict[str, np.ndarray]
    how: str  # where the samples come from, for the progress message
    simulate: bool = True
    name: ClassVar[str] = "calibrate"
    requires: ClassVar[Stage] = Stage.CANONICAL
    produces: ClassVar[Stage] = Stage.CANONICAL
    provides: ClassVar[tuple[type, ...]] = (Calibration,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        count = len(next(iter(self.samples.values())))
        ctx.progress(f"quantizing{f' (calibrating on {count} samples: {self.how})' if self.simulate else ''}")
        max_steps = (1 << ctx.the_target().numerics.input_bits) - 1
        ctx.put(calibrate(graph, self.samples, max_steps=max_steps, simulate=self.simulate))
        return graph


@dataclass(frozen=True)
class QuantizeToTarget:
    """CANONICAL -> INTEGER in the target's numerics (narrowed by --netx-compatible) and input
    encoding, with the scales the calibrate analysis left in the context."""

    name: ClassVar[str] = "quantize"
    requires: ClassVar[Stage] = Stage.CANONICAL
    produces: ClassVar[Stage] = Stage.INTEGER
    uses: ClassVar[tuple[type, ...]] = (Calibration,)
    provides: ClassVar[tuple[type, ...]] = (QuantizationReport, QuantizedFrom)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        target = ctx.the_target()
        settings = Quantize(
            numerics=target_numerics(target, ctx.options), input_encoding=input_encoding(target, ctx.options)
        )
        try:
            int_graph, report = quantize(graph, settings, ctx.find(Calibration))
        except QuantizationError as err:  # also what the core could not hold: every blocker in one run
            more = family_of(target.numerics).capacity_problems(graph, target)
            if not more:
                raise
            raise QuantizationError(diagnostics=[*err.diagnostics, *more]) from err
        ctx.put(report)
        ctx.put(QuantizedFrom(graph))
        ctx.diagnostics.extend(report.diagnostics)
        return int_graph


@dataclass(frozen=True)
class SplitFanIn:
    """Split a layer whose fan-in exceeds a core's input axons into partial sums on other cores, where
    the target relays graded partial sums (snncc.mapping.split, SPEC.md §int_partial_sum)."""

    name: ClassVar[str] = "split-fan-in"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER

    def run(self, graph: Graph, ctx: Context) -> Graph:
        from snncc.mapping.split import split_fan_in

        return split_fan_in(graph, ctx.the_target())


@dataclass(frozen=True, eq=False)
class MapToCores:
    """Analysis: place the integer network on the target's cores (spike traffic weighted by the
    calibrated firing rates, where simulated) and collect the design rules' warnings.
    ``model_graph``: the imported graph, whose pooling layers a too-large fan-in error names."""

    model_graph: Graph
    name: ClassVar[str] = "map"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER
    uses: ClassVar[tuple[type, ...]] = (Calibration,)
    provides: ClassVar[tuple[type, ...]] = (Placement,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        from snncc.mapping import check_design_rules, partition
        from snncc.mapping.fan_in import explain_fan_in

        target = ctx.the_target()
        ctx.progress(f"mapping onto {target.name}")
        calibration = ctx.find(Calibration)
        rates = calibration.firing_rates if calibration is not None else None
        try:
            ctx.put(partition(graph, target, firing_rates=rates or None))
        except MappingError as err:  # name the pooling fused into a layer whose fan-in is too large
            raise MappingError(diagnostics=explain_fan_in(list(err.diagnostics), self.model_graph)) from err
        ctx.diagnostics.extend(d for d in check_design_rules(graph, target) if d.severity == "warning")
        return graph


@dataclass(frozen=True, eq=False)
class Verify:
    """Analysis: run the imported float ``model_graph`` and the integer network on ``inputs`` and
    compare them (snncc.verify.compare), over --workers processes or a Dask cluster."""

    model_graph: Graph
    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    calibrated_max: dict[str, float | None] = field(default_factory=dict)  # input -> calibration samples' max
    name: ClassVar[str] = "verify"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER
    provides: ClassVar[tuple[type, ...]] = (Comparison,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        from snncc.parallel import executor_for, in_flight_for

        o, par = ctx.options.verification, ctx.options.parallel
        count = len(next(iter(self.inputs.values())))
        ctx.progress(f"simulating {count} samples x {graph.meta.steps} steps (float model and reference backend)")
        report = counter(ctx.progress)
        report(0, count)  # a terminal's bar shows from the start, not after the first batch
        with executor_for(par.workers, par.dask_scheduler) as executor:
            comparison = compare(
                self.model_graph,
                graph,
                self.inputs,
                self.labels,
                tolerance=o.tolerance,
                progress=report,  # a bar on a terminal (snncc.progress)
                executor=executor,
                in_flight=in_flight_for(executor, par.workers),
                device=par.device,
                calibrated_max=self.calibrated_max,
            )
        ctx.put(comparison)
        return graph


@dataclass(frozen=True, eq=False)
class MeasureApproximations:
    """Analysis: what each named approximation costs on its own, measured in the float simulator on
    the verified samples: the imported model with only that approximation against the model as
    imported (accuracy, and the samples whose decision it changes); with several, all together too."""

    model_graph: Graph
    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    names: tuple[str, ...]
    name: ClassVar[str] = "approximation-cost"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER
    reads: ClassVar[tuple[type, ...]] = (Comparison,)
    provides: ClassVar[tuple[type, ...]] = (ApproximationCosts,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        from snncc.approximation_cost import measure

        ctx.progress(
            f"measuring what {', '.join(self.names)} cost{'s' if len(self.names) == 1 else ''} the float model"
        )
        costs = measure(self.model_graph, self.inputs, self.labels, self.names, ctx.get(Comparison))
        ctx.put(ApproximationCosts(costs))
        return graph


@dataclass(frozen=True)
class EstimateEnergy:
    """Analysis: energy per sample from the verified run's events on the placement (snncc.energy)."""

    name: ClassVar[str] = "energy"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER
    reads: ClassVar[tuple[type, ...]] = (Comparison, Placement)
    provides: ClassVar[tuple[type, ...]] = (EnergyReport,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        from snncc.energy import estimate

        trace = ctx.get(Comparison).deployed_trace
        ctx.put(estimate(graph, ctx.get(Placement), trace, ctx.the_target()))
        return graph


@dataclass(frozen=True, eq=False)
class LavaCheck:
    """Analysis: run Lava (or another bit-exact backend, --backend) and refsim on ``inputs`` and
    demand equal u, v and spikes; scores the backend's outputs against the verified float run."""

    inputs: dict[str, np.ndarray]
    labels: np.ndarray | None
    name: ClassVar[str] = "lava"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER
    uses: ClassVar[tuple[type, ...]] = (Comparison,)  # scores against the float run where verified
    provides: ClassVar[tuple[type, ...]] = (OracleRun,)

    def run(self, graph: Graph, ctx: Context) -> Graph:
        count = len(next(iter(self.inputs.values())))
        ctx.progress(f"running {ctx.options.verification.oracle_backend} on {count} samples")
        comparison = ctx.find(Comparison)
        v = None if comparison is None else comparison.verification
        run = lava_check(
            graph,
            self.inputs,
            float_predictions=None if v is None else v.float_predictions[:count],
            labels=self.labels,
            backend=ctx.options.verification.oracle_backend,
            float_silent=None if v is None or v.float_silent_mask is None else v.float_silent_mask[:count],
        )
        ctx.put(OracleRun(run))
        return graph


def input_encoding(target: Target, options: CompileOptions) -> str:
    """--input-encoding, default the target's first; MAP020 if the target cannot receive it."""
    encoding = options.quantization.input_encoding or target.input_encodings[0]
    if encoding not in target.input_encodings:
        raise MappingError(
            f"target {target.name} cannot receive {encoding!r} input",
            code="MAP020",
            hint=f"choose one of: {', '.join(target.input_encodings)}",
        )
    return encoding


def target_numerics(target: Target, options: CompileOptions) -> Numerics:
    """The target's numerics, narrowed with --netx-compatible to what a netx file holds: lava-dl's
    reader applies no weight exponent and a fixed bias exponent of 6 (snncc/netx_format.py)."""
    if not options.quantization.netx_compatible:
        return target.numerics
    from snncc.netx_format import BIAS_EXP

    return dataclasses.replace(
        target.numerics, weight_exp_min=0, weight_exp_max=0, bias_exp_min=BIAS_EXP, bias_exp_max=BIAS_EXP
    )


def _approximate(graph: Graph, names: tuple[str, ...], ctx: Context) -> Graph:
    approximated, changed = approximate(graph, names)
    merged = dict((ctx.find(Approximated) or Approximated()).changed)
    for name, layers in changed.items():
        merged[name] = list(dict.fromkeys([*merged.get(name, []), *layers]))
    ctx.put(Approximated(merged))
    return approximated


def canonical_passes(approximations: tuple[str, ...]) -> Pipeline:
    """From the imported float graph to the canonical graph that quantization takes."""
    return Pipeline((Approximate(approximations), Canonicalize(), ApproximateCanonical(approximations), AlignDepths()))


def deployment_passes(
    options: CompileOptions, model_graph: Graph, calibration_samples: dict[str, np.ndarray], how: str, simulate: bool
) -> Pipeline:
    """From the imported float graph to the integer network placed on the target's cores."""
    return Pipeline(
        (
            *canonical_passes(options.quantization.approximations),
            Calibrate(calibration_samples, how, simulate),
            QuantizeToTarget(),
            SplitFanIn(),
            MapToCores(model_graph),
        )
    )


def verification_passes(
    options: CompileOptions,
    model_graph: Graph,
    inputs: dict[str, np.ndarray],
    labels,
    calibrated_max: dict[str, float | None] | None = None,
) -> Pipeline:
    """What compile_model checks the placed integer network with: the float model's verdict on
    ``inputs`` (and ``labels``), what the named approximations cost, the energy, and with
    --lava-samples N the bit-exact backend on the first N."""
    count = min(options.verification.lava_samples, len(next(iter(inputs.values()))))
    lava = [LavaCheck({k: x[:count] for k, x in inputs.items()}, None if labels is None else labels[:count])]
    costs = [MeasureApproximations(model_graph, inputs, labels, options.quantization.approximations)]
    passes = (
        Verify(model_graph, inputs, labels, calibrated_max or {}),
        *(costs if options.quantization.approximations else []),
        EstimateEnergy(),
        MeasureNeuroBench(model_graph, inputs),
        *(lava if options.verification.lava_samples > 0 else []),
    )
    return Pipeline(passes, given=(Placement,))  # the map analysis of the deployment placed the network


PASS_NAMES = (
    *(p.name for p in canonical_passes(())),
    *(
        p.name
        for p in (
            Calibrate,
            QuantizeToTarget,
            SplitFanIn,
            MapToCores,
            Verify,
            MeasureApproximations,
            EstimateEnergy,
            MeasureNeuroBench,
            LavaCheck,
        )
    ),
)


def check_dump_after(names: Sequence[str], not_run: Mapping[str, str] | None = None) -> None:
    """Each name a pass of the pipeline, and one this run will run (``not_run``: pass -> why not),
    so that a dump asked for never silently prints nothing."""
    unknown = [n for n in names if n not in PASS_NAMES]
    if unknown:
        raise DataError(
            f"--dump-after {', '.join(unknown)}: no such pass",
            code="DAT032",
            hint=f"passes: {', '.join(PASS_NAMES)}",
        )
    idle = [n for n in names if n in (not_run or {})]
    if idle:
        raise DataError(f"--dump-after {idle[0]}: {(not_run or {})[idle[0]]}", code="DAT032")


def run_pipeline(
    graph: Graph, passes: Pipeline | Sequence[Pass], ctx: Context, dump_after: Sequence[str] = ()
) -> Graph:
    """Apply ``passes`` in order, verifying the graph after every pass (and that it is at the stage
    each pass takes).  A plain list is checked as a Pipeline given what the context already holds."""
    check_dump_after(dump_after)
    if not isinstance(passes, Pipeline):
        passes = Pipeline(tuple(passes), given=tuple(ctx.results))
    missing = [k.__name__ for k in passes.given if k not in ctx.results]
    if missing:
        raise PipelineOrderError(f"the pipeline needs {', '.join(missing)} in the context before its first pass")
    for p in passes:
        if graph.meta.stage is not p.requires:
            verify(graph, p.requires)  # raises GRF010 naming both stages
        start = time.perf_counter()
        graph = verify(p.run(graph, ctx), p.produces)
        ctx.timings[p.name] = round(time.perf_counter() - start, 3)
        if p.name in dump_after and ctx.dump is not None:
            ctx.dump(p.name, graph)
    return graph


def dump_to(stream) -> Callable[[str, Graph], None]:
    """A dump sink printing the graph after a pass, as `snncc ... --dump-after PASS` shows it."""

    def dump(name: str, graph: Graph) -> None:
        print(f"--- graph after {name} ---\n{print_graph(graph)}", file=stream)

    return dump
