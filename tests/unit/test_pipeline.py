"""The pass pipeline: stages checked between passes, side results in the context, --dump-after."""

import io
from dataclasses import dataclass
from typing import ClassVar

import pytest
import torch
from torch import nn

from snncc import nn as snn
from snncc.errors import DataError, InvalidGraph
from snncc.importers.torch import import_torch
from snncc.ir import LIF, Graph, Stage, print_graph
from snncc.passes.canonicalize import canonicalize
from snncc.pipeline import PASS_NAMES, Canonicalize, Context, canonical_passes, dump_to, run_pipeline


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
    assert list(ctx.timings) == list(PASS_NAMES) and ctx.approximations == {}


def test_approximations_report_the_layers_they_changed_in_the_context():
    graph = float_mlp(soft_reset=True)
    soft = [name for name, op in graph.of_type(LIF) if op.reset == "subtract"]
    assert soft, "the model must have a soft-reset layer for this test to mean anything"
    ctx = Context()
    canonical = run_pipeline(graph, canonical_passes(("soft-reset-as-hard",)), ctx)
    assert ctx.approximations["soft-reset-as-hard"] == soft
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
