"""The pass pipeline: stages checked between passes, side results in the context, --dump-after."""

import io
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from snncc import nn as snn
from snncc.analyses import Approximated, OracleRun, QuantizedFrom
from snncc.energy import EnergyReport, estimate
from snncc.errors import DataError, InvalidGraph, MappingError
from snncc.importers.torch import import_torch
from snncc.ir import LIF, Graph, IntInput, Stage, print_graph
from snncc.mapping import partition
from snncc.mapping.placement import Placement
from snncc.neurobench import NeuroBenchMetrics
from snncc.options import CompileOptions, QuantizationOptions, VerificationOptions
from snncc.passes.calibrate import Calibration, calibrate
from snncc.passes.canonicalize import canonicalize
from snncc.passes.quantize import QuantizationReport, Quantize, quantize
from snncc.pipeline import (
    PASS_NAMES,
    Calibrate,
    Canonicalize,
    Context,
    EstimateEnergy,
    Pipeline,
    PipelineOrderError,
    QuantizeToTarget,
    Verify,
    canonical_passes,
    deployment_passes,
    dump_to,
    run_pipeline,
    verification_passes,
)
from snncc.target import load_target
from snncc.verify import Comparison, compare


def float_mlp(soft_reset: bool = False) -> Graph:
    torch.manual_seed(0)
    lif = snn.LIF(v_reset=None) if soft_reset else snn.LIF()
    model = snn.SNN(nn.Sequential(nn.Flatten(), nn.Linear(16, 8), lif, nn.Linear(8, 3), snn.LIF()), steps=4)
    return import_torch(model, (1, 4, 4))


def test_the_pipeline_gives_what_canonicalize_gives_and_times_every_pass():
    graph = float_mlp()
    ctx = Context()
    canonical = run_pipeline(graph, canonical_passes(()), ctx)
    assert canonical.meta.stage is Stage.CANONICAL
    assert print_graph(canonical) == print_graph(canonicalize(graph))
    assert list(ctx.timings) == [p.name for p in canonical_passes(())] and ctx.get(Approximated).changed == {}


def test_approximations_report_the_layers_they_changed_in_the_context():
    graph = float_mlp(soft_reset=True)
    soft = [name for name, op in graph.of_type(LIF) if op.reset == "subtract"]
    assert soft, "the model must have a soft-reset layer for this test to mean anything"
    ctx = Context()
    canonical = run_pipeline(graph, canonical_passes(("soft-reset-as-hard",)), ctx)
    assert ctx.get(Approximated).changed["soft-reset-as-hard"] == soft
    assert all(op.reset == "zero" for _, op in canonical.of_type(LIF))


def test_a_pass_given_a_graph_of_another_stage_is_refused_naming_both_stages():
    canonical = canonicalize(float_mlp())
    with pytest.raises(InvalidGraph) as err:
        run_pipeline(canonical, [Canonicalize()], Context())
    assert err.value.diagnostics[0].code == "GRF010" and "expected float" in err.value.diagnostics[0].message


def test_a_pass_that_breaks_its_stage_is_caught_right_after_it():
    @dataclass(frozen=True)
    class ClaimsCanonical:
        name: ClassVar[str] = "claims-canonical"
        requires: ClassVar[Stage] = Stage.FLOAT
        produces: ClassVar[Stage] = Stage.CANONICAL

        def run(self, graph: Graph, ctx: Context) -> Graph:
            return graph  # still FLOAT: the runner must notice

    with pytest.raises(InvalidGraph) as err:
        run_pipeline(float_mlp(), [ClaimsCanonical()], Context())
    assert err.value.diagnostics[0].code == "GRF010"


def test_dump_after_prints_the_graph_after_the_named_pass_only():
    stream = io.StringIO()
    canonical = run_pipeline(float_mlp(), canonical_passes(()), Context(dump=dump_to(stream)), ["canonicalize"])
    text = stream.getvalue()
    assert text.startswith("--- graph after canonicalize ---") and text.count("--- graph after") == 1
    assert print_graph(canonical) in text  # align-depths changes nothing on a chain


def test_dump_after_an_unknown_pass_is_a_coded_error_naming_the_passes():
    with pytest.raises(DataError) as err:
        run_pipeline(float_mlp(), canonical_passes(()), Context(), ["quantise"])
    assert err.value.diagnostics[0].code == "DAT032" and "align-depths" in (err.value.diagnostics[0].hint or "")


def samples(n: int = 12, seed: int = 1) -> dict[str, np.ndarray]:
    return {"input": np.random.default_rng(seed).uniform(0, 1, (n, 1, 4, 4))}


def test_the_deployment_passes_give_what_the_steps_give_and_leave_their_results_in_the_context():
    graph, target = float_mlp(), load_target("loihi")
    ctx = Context(target=target)
    passes = deployment_passes(CompileOptions(), graph, samples(), "test samples", True)
    int_graph = run_pipeline(graph, passes, ctx)
    canonical = canonicalize(graph)
    calibration = calibrate(canonical, samples(), max_steps=(1 << target.numerics.input_bits) - 1)
    expected, report = quantize(canonical, Quantize(target.numerics, target.input_encodings[0]), calibration)
    assert int_graph.meta.stage is Stage.INTEGER and print_graph(int_graph) == print_graph(expected)
    assert ctx.get(QuantizationReport) == report and print_graph(ctx.get(QuantizedFrom).graph) == print_graph(canonical)
    assert ctx.get(Calibration).v_max_abs == calibration.v_max_abs  # the analysis quantize was given
    placement = partition(expected, target, firing_rates=calibration.firing_rates)
    assert ctx.get(Placement).to_dict() == placement.to_dict()
    assert list(ctx.timings) == [p.name for p in passes] == list(PASS_NAMES[:8])  # calibrate .. map too


def test_quantize_takes_its_scales_from_the_calibration_in_the_context():
    canonical, target = canonicalize(float_mlp()), load_target("loihi")
    small, large = Context(target=target), Context(target=target)
    run_pipeline(canonical, [Calibrate(samples(), "small inputs")], small)
    run_pipeline(canonical, [Calibrate({"input": 3 * samples()["input"]}, "large inputs")], large)
    scales = [
        run_pipeline(canonical, [QuantizeToTarget()], ctx).of_type(IntInput)[0][1].scale for ctx in (small, large)
    ]
    assert scales[1] == pytest.approx(3 * scales[0])  # three times the input range: three times the input LSB


def test_a_target_pass_without_a_target_says_so():
    with pytest.raises(ValueError, match="needs a target"):
        run_pipeline(canonicalize(float_mlp()), [QuantizeToTarget()], Context())


def test_an_encoding_the_target_cannot_receive_is_refused_by_the_quantize_pass():
    ctx = Context(
        target=load_target("loihi"), options=CompileOptions(quantization=QuantizationOptions(input_encoding="events"))
    )
    with pytest.raises(MappingError) as err:
        run_pipeline(canonicalize(float_mlp()), [QuantizeToTarget()], ctx)
    assert err.value.diagnostics[0].code == "MAP020"


def test_dump_after_quantize_prints_the_integer_graph():
    stream = io.StringIO()
    graph = float_mlp()
    passes = deployment_passes(CompileOptions(), graph, samples(), "test samples", False)
    int_graph = run_pipeline(graph, passes, Context(target=load_target("loihi"), dump=dump_to(stream)), ["quantize"])
    assert stream.getvalue() == f"--- graph after quantize ---\n{print_graph(int_graph)}\n"
    assert "stage=integer" in stream.getvalue()


def test_the_verification_passes_leave_the_comparison_energy_and_backend_run_in_the_context():
    graph, target = float_mlp(), load_target("loihi")
    options = CompileOptions(
        verification=VerificationOptions(lava_samples=3, oracle_backend="refsim")
    )  # refsim as its own oracle: fast
    ctx = Context(target=target, options=options)
    int_graph = run_pipeline(graph, deployment_passes(options, graph, samples(), "test samples", True), ctx)
    x, labels = samples(10, seed=2), np.arange(10) % 3
    passes = verification_passes(options, graph, x, labels)
    assert [p.name for p in passes] == ["verify", "energy", "neurobench", "lava"]
    assert run_pipeline(int_graph, passes, ctx) is int_graph  # analyses leave the graph as it is
    expected = compare(graph, int_graph, x, labels)
    assert ctx.get(Comparison).verification.to_dict() == expected.verification.to_dict()
    assert (
        ctx.get(EnergyReport).to_dict()
        == estimate(int_graph, ctx.get(Placement), expected.deployed_trace, target).to_dict()
    )
    lava = ctx.get(OracleRun).result
    assert lava["samples"] == 3 and lava["bit_exact"]
    metrics = ctx.get(NeuroBenchMetrics).metrics
    assert metrics["integer"]["samples"] == metrics["float"]["samples"] == 10
    # the backend's agreement is compare's, on the same samples (silent samples never agree)
    first3 = compare(graph, int_graph, {k: v[:3] for k, v in x.items()}, labels[:3]).verification
    assert lava["output_agreement"] == first3.output_agreement
    assert [p.name for p in verification_passes(CompileOptions(), graph, x, labels)] == [
        "verify",
        "energy",
        "neurobench",
    ]


@dataclass(frozen=True, eq=False)
class Records:
    """A pass that only records that it ran, to show that a refused pipeline runs nothing."""

    ran: list
    name: ClassVar[str] = "records"
    requires: ClassVar[Stage] = Stage.INTEGER
    produces: ClassVar[Stage] = Stage.INTEGER

    def run(self, graph: Graph, ctx: Context) -> Graph:
        self.ran.append(self.name)
        return graph


def test_an_analysis_before_the_one_it_reads_is_refused_when_the_pipeline_is_built_naming_both():
    graph, ran = float_mlp(), []
    verify_pass = Verify(graph, samples(4), None)
    with pytest.raises(PipelineOrderError) as err:
        Pipeline((Records(ran), EstimateEnergy(), verify_pass), given=(Placement,))
    message = str(err.value)
    assert "'energy' reads Comparison" in message and "'verify' provides only after it" in message
    assert ran == []  # refused when built: no pass ran
    Pipeline((Records(ran), verify_pass, EstimateEnergy()), given=(Placement,))  # the right order builds


def test_run_pipeline_checks_a_plain_list_before_its_first_pass_runs():
    ran: list = []
    canonical = canonicalize(float_mlp())
    ctx = Context(target=load_target("loihi"))
    with pytest.raises(PipelineOrderError, match="'quantize' reads Calibration, which pass 'calibrate'"):
        run_pipeline(canonical, [QuantizeToTarget(), Calibrate(samples(), "test samples")], ctx)
    assert ctx.timings == {} and ctx.results == {}  # not even quantize ran
    with pytest.raises(PipelineOrderError, match="'energy' reads Comparison, which no pass before it provides"):
        run_pipeline(canonical, [Records(ran), EstimateEnergy()], ctx)
    assert ran == []


def test_the_verification_passes_need_the_placement_the_deployment_left():
    graph = float_mlp()
    passes = verification_passes(CompileOptions(), graph, samples(4), None)
    with pytest.raises(PipelineOrderError, match="needs Placement in the context"):
        run_pipeline(graph, passes, Context(target=load_target("loihi")))
