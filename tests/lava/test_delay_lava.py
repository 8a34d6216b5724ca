"""Synaptic delays in Lava: a compiled NIR graph with nir.Delay runs bit-exactly as DelayDense /
DelaySparse (several samples streamed, so the buffers' clearing at sample boundaries is exercised),
and a netx file with slayer's per-output delays, imported as one delay line per value, runs as the
single DelayDense netx itself builds from the file."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path

import nir
import numpy as np
import pytest
from lava_compare import ALL, assert_bit_exact

from snncc.backends.lava.compat import import_lava
from snncc.backends.refsim import RefSim
from snncc.compile import CompileOptions, preflight
from snncc.data import Dataset
from snncc.importers.netx import read_netx
from snncc.importers.nir import import_nir
from snncc.ir import IntDelay
from snncc.passes.quantize import quantize_inputs

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from delay_nets import DT, delayed_nir, if_node, slayer_dense_with_delay

pytestmark = pytest.mark.lava
STEPS = 12


def _deploy(graph: nir.NIRGraph, x: np.ndarray):
    floats = import_nir(graph, dt=DT, steps=STEPS, readout="sum")
    return preflight(Path("d.nir"), CompileOptions(target="loihi2"), imported=(Dataset(Path("x"), x, None), floats))


def test_a_nir_delay_runs_bit_exactly_as_delay_dense():
    x = np.random.default_rng(1).random((4, 8))
    d = _deploy(delayed_nir(), x)
    ref, _ = assert_bit_exact(d.int_graph, quantize_inputs(d.int_graph, {d.input_name: x}))
    late = ref.spikes["n1"][:, -9:].any()  # spikes in a sample's last 9 steps reach the next only without clearing
    assert late and ref.spike_counts["n2"].sum() > 0


def test_a_delay_between_convolutions_runs_bit_exactly_as_delay_sparse():
    rng = np.random.default_rng(4)
    nodes = {
        "in": nir.Input({"input": np.array([2, 5, 5])}),
        "c1": nir.Conv2d((5, 5), rng.normal(0.2, 0.4, (3, 2, 3, 3)), 1, 1, 1, 1, np.zeros(3)),
        "n1": if_node((3, 5, 5)),
        "d": nir.Delay(rng.integers(0, 6, (3, 5, 5)) * DT),
        "c2": nir.Conv2d((5, 5), rng.normal(0.2, 0.4, (2, 3, 3, 3)), 1, 1, 1, 1, np.zeros(2)),
        "n2": if_node((2, 5, 5)),
        "out": nir.Output({"output": np.array([2, 5, 5])}),
    }
    graph = nir.NIRGraph(nodes=nodes, edges=list(itertools.pairwise(nodes)), type_check=False)
    x = rng.random((3, 2, 5, 5))
    d = _deploy(graph, x)
    assert isinstance(d.int_graph["d"], IntDelay)
    ref, _ = assert_bit_exact(d.int_graph, quantize_inputs(d.int_graph, {d.input_name: x}))
    assert ref.spike_counts["n2"].sum() > 0


def test_slayer_per_output_delays_run_as_netx_runs_the_file(tmp_path):
    """Oracle: Lava's own processes wired as netx wires the file (one DelayDense whose synapses into
    output j wait delay[j]), against refsim on snncc's import (one delay line and dense per value)."""
    rng = np.random.default_rng(5)
    w1, w2 = rng.integers(10, 120, (5, 4)) * 2, rng.integers(-40, 120, (3, 5)) * 2
    delay = np.array([0, 4, 2])
    path = slayer_dense_with_delay(tmp_path / "s.net", w1, w2, delay, vth=300)
    graph = read_netx(path, steps=STEPS, input_bits=1)
    x = rng.integers(0, 2, (1, 4))
    ref = RefSim().run(graph, {"input": x}, record=ALL)
    assert ref.spike_counts["layer2"].sum() > 0

    import_lava()
    from lava.magma.core.run_conditions import RunSteps
    from lava.magma.core.run_configs import Loihi2SimCfg
    from lava.proc.dense.process import DelayDense, Dense
    from lava.proc.io.source import RingBuffer
    from lava.proc.lif.process import LIF
    from lava.proc.monitor.process import Monitor

    def lif(name: str):
        op = graph[name]
        bias = op.bias_mant.array.reshape(-1)
        return LIF(shape=op.shape, du=op.du, dv=op.dv, vth=op.vth, bias_mant=bias, bias_exp=op.bias_exp.array)

    fc1 = graph[graph.predecessors("layer1")[0]]
    total = STEPS + 2
    source = RingBuffer(data=np.repeat(x.T, total, axis=1).astype(np.int32))
    first = Dense(weights=fc1.weight.array, weight_exp=fc1.weight_exp)
    n1, n2 = lif("layer1"), lif("layer2")
    second = DelayDense(weights=w2.astype(np.int32), delays=np.repeat(delay[:, None], 5, axis=1), max_delay=62)
    source.s_out.connect(first.s_in)
    first.a_out.connect(n1.a_in)
    n1.s_out.connect(second.s_in)
    second.a_out.connect(n2.a_in)
    monitor = Monitor()
    monitor.probe(n2.s_out, total)
    try:
        n2.run(condition=RunSteps(num_steps=total), run_cfg=Loihi2SimCfg(select_tag="fixed_pt"))
        spikes = monitor.get_data()[n2.name]["s_out"]
    finally:
        n2.stop()
    np.testing.assert_array_equal(spikes[2 : 2 + STEPS], ref.spikes["layer2"][0])  # layer 2 runs 2 steps late
