"""compile_model(): trained model -> verified integer deployment.

snncc.deploy places the integer network on the target's cores (what `snncc check` runs, via
snncc.preflight); then the verification passes (snncc.pipeline) compare it with the float model
and estimate its energy, and with --lava-samples run the bit-exact backend."""

from __future__ import annotations

import sys
from pathlib import Path

from snncc.analyses import ApproximationCosts, OracleRun
from snncc.data import Dataset
from snncc.deploy import Timer, deploy
from snncc.energy import EnergyReport
from snncc.ir import Graph
from snncc.model_import import import_model  # noqa: F401  (re-exported, as before)
from snncc.neurobench import NeuroBenchMetrics
from snncc.option_checks import check_oracle, check_verification_options
from snncc.options import CompileOptions
from snncc.passes.approximate import cost_warning
from snncc.pipeline import Context, Progress, dump_to, run_pipeline, verification_passes
from snncc.preflight import preflight  # noqa: F401  (re-exported: `snncc check` calls it from here)
from snncc.range_warnings import range_warnings
from snncc.report import write_report  # noqa: F401  (re-exported, as before)
from snncc.result import CompileResult
from snncc.target import load_target
from snncc.verify import Comparison, lava_check  # noqa: F401  (lava_check re-exported, as before)


def compile_model(
    model_path: str | Path,
    options: CompileOptions,
    progress: Progress | None = None,
    *,
    imported: tuple[Dataset, Graph] | None = None,
    calibration: Dataset | None = None,
) -> CompileResult:
    check_verification_options(options)
    check_oracle(options, load_target(options.target))
    say = progress or (lambda _msg: None)
    timer = Timer()
    d = deploy(Path(model_path), options, say, timer, imported=imported, calibration=calibration)

    verify_set = d.dataset.head(options.data.samples)
    ctx = Context(target=d.target, options=options, progress=say, dump=dump_to(sys.stderr))
    ctx.put(d.placement)
    calibrated = {iq.node: iq.calibrated_max for iq in d.quantization.inputs}
    passes = verification_passes(options, d.model_graph, {d.input_name: verify_set.x}, verify_set.y, calibrated)
    run_pipeline(d.int_graph, passes, ctx, options.output.dump_after)
    timer.seconds.update(ctx.timings)
    v = ctx.get(Comparison).verification
    ranges = range_warnings(v.input_ranges, str(d.dataset.path))
    costly = cost_warning(d.approximations, v.float_accuracy, v.deployed_accuracy)  # VER010: points at finetune
    oracle, costs, metrics = ctx.find(OracleRun), ctx.find(ApproximationCosts), ctx.find(NeuroBenchMetrics)
    return CompileResult(
        model_path=d.model_path,
        target=d.target,
        dataset=verify_set,
        float_graph=d.model_graph,
        int_graph=d.int_graph,
        quantization=d.quantization,
        placement=d.placement,
        comparison=ctx.get(Comparison),
        energy=ctx.get(EnergyReport),
        lava=None if oracle is None else oracle.result,
        diagnostics=(*d.diagnostics, *ranges, *costly),
        approximations=d.approximations,
        timings=timer.seconds,
        calibration=d.calibration,
        min_agreement=options.verification.min_output_agreement,
        max_accuracy_drop=options.verification.max_accuracy_drop,
        approximation_costs={} if costs is None else costs.costs,
        neurobench=None if metrics is None else metrics.metrics,
    )
