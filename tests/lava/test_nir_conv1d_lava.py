"""A NIR graph with Conv1d layers, deployed, runs bit-identically in Lava and in the reference simulator."""

from __future__ import annotations

import itertools
from pathlib import Path

import nir
import numpy as np
from lava_compare import assert_bit_exact

from snncc.compile import CompileOptions, preflight
from snncc.data import Dataset
from snncc.importers.nir import import_nir
from snncc.ir import IntConv2d
from snncc.passes.quantize import quantize_inputs

DT = 1e-3


def _if(shape: tuple[int, ...]) -> nir.IF:
    return nir.IF(r=np.full(shape, 1 / DT), v_threshold=np.ones(shape), v_reset=np.zeros(shape))


def test_conv1d_graph_is_bit_exact_in_lava():
    """(6 channels, 16 steps of a signal) -> Conv1d stride 2 -> IF -> Conv1d dilation 2 -> IF -> Affine -> IF."""
    rng = np.random.default_rng(3)
    w1, w2 = rng.normal(0.3, 0.5, (4, 6, 5)), rng.normal(0.2, 0.5, (5, 4, 3))
    nodes = {
        "in": nir.Input({"input": np.array([6, 16])}),
        "c1": nir.Conv1d(16, w1, stride=2, padding=2, dilation=1, groups=1, bias=np.zeros(4)),
        "n1": _if((4, 8)),
        "c2": nir.Conv1d(8, w2, stride=1, padding=2, dilation=2, groups=1, bias=rng.normal(0, 0.1, 5)),
        "n2": _if((5, 8)),
        "flat": nir.Flatten({"input": np.array([5, 8])}, start_dim=0),
        "fc": nir.Affine(rng.normal(0.05, 0.2, (3, 40)), np.zeros(3)),
        "n3": _if((3,)),
        "out": nir.Output({"output": np.array([3])}),
    }
    order = list(nodes)
    graph = nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(order)), type_check=False)
    floats = import_nir(graph, dt=DT, steps=6, readout="sum")
    x = rng.random((3, 6, 1, 16))  # (C, L) samples, held as (C, 1, L)
    d = preflight(Path("conv1d.nir"), CompileOptions(target="loihi"), imported=(Dataset(Path("x"), x, None), floats))
    assert isinstance(d.int_graph["c1"], IntConv2d) and d.int_graph["c1"].weight.shape == (4, 6, 1, 5)
    ref, _ = assert_bit_exact(d.int_graph, quantize_inputs(d.int_graph, {d.input_name: x}))
    assert all(ref.spike_counts[n].sum() > 0 for n in ("n1", "n2", "n3"))
