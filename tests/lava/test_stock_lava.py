"""The stock-Lava timing of benchmarks/throughput.py runs the same lowering with nothing recorded,
and Lava agrees bit for bit with refsim on binary-spike input (refsim's int8 and fused paths)."""

from __future__ import annotations

import numpy as np

from benchmarks.networks import Bench
from benchmarks.stock_lava import lava_matches_refsim, stock_lava_step_seconds
from snncc.backends.lava.compat import import_lava
from snncc.backends.lava.lowering import build_network
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage


def _spiking_chain(seed: int = 0) -> Bench:
    rng = np.random.default_rng(seed)
    b = GraphBuilder()
    prev = b.add("x", IntInput(shape=(40,), bits=1, encoding="bitplane"))
    for i, (n_in, n) in enumerate(((40, 30), (30, 10))):
        w = (rng.integers(-128, 128, size=(n, n_in)) * 2).astype(np.int32)  # Loihi's mixed-sign 8-bit weights
        syn = b.add(f"fc{i}", IntDense(shape=(n,), weight=Const(w), weight_exp=1), [prev])
        zeros = Const(np.zeros(n, np.int32))
        lif = IntLIF(shape=(n,), du=1024, dv=512, vth=8, bias_mant=zeros, bias_exp=zeros, v_init=zeros)
        prev = b.add(f"lif{i}", lif, [syn])
    b.add("out", Output(shape=(10,)), [prev])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=5, numerics=LOIHI))
    spikes = (rng.random((3, 5, 40)) < 0.3).astype(np.int64)
    return Bench("chain", graph, {"x": spikes})


def test_stock_lowering_records_nothing():
    import_lava()  # the Python 3.11 fix before Lava's modules load
    bench = _spiking_chain()
    assert build_network(bench.graph, bench.inputs, want_u=False, monitors=False).monitors == {}
    assert build_network(bench.graph, bench.inputs, want_u=True).monitors  # the backend's run records


def test_stock_run_is_timed_and_binary_spikes_are_bit_exact():
    bench = _spiking_chain()
    assert lava_matches_refsim(bench, 3) is None
    assert 0 < stock_lava_step_seconds(bench, 2) < 5
