"""Lava never applies Loihi 1's dendritic accumulator bound (issue 24): on a `loihi` graph whose input overflows
it, Lava equals refsim with Lava's int32 accumulator, differs from refsim with the target's (wrapping) one,
and lava_check compares against the former and says so."""

from __future__ import annotations

import numpy as np
from lava_compare import ALL

from snncc.backends import first_mismatch
from snncc.backends.lava import LavaBackend
from snncc.backends.refsim import RefSim
from snncc.ir import Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage
from snncc.target_loader import load
from snncc.verify import lava_check


def overflowing_graph():
    """Three inputs of weight 255 at exponent 6: a = 48,960 > 2^15 − 1, q0 = 64·a beyond 21 bits + sign."""
    b = GraphBuilder()
    b.add("x", IntInput(shape=(3,), bits=1, encoding="bitplane"))
    z = Const(np.zeros(2, np.int32))
    w = Const(np.array([[255, 255, 255], [1, 2, 3]], np.int32))
    lif = IntLIF(shape=(2,), du=4095, dv=0, vth=100_000, bias_mant=z, bias_exp=z, v_init=z)
    b.add("lif", lif, [b.add("syn", IntDense(shape=(2,), weight=w, weight_exp=6), ["x"])])
    b.add("out", Output(shape=(2,), readout="spike_count"), ["lif"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=load("loihi").numerics))


def test_lava_computes_without_the_bound_and_the_comparison_says_which_semantics_it_checks():
    graph = overflowing_graph()
    x = np.ones((2, 3, 3), dtype=np.int64)
    lava = LavaBackend().run(graph, {"x": x}, record=ALL)
    chip_like = RefSim().run(graph, {"x": x}, record=ALL)
    assert chip_like.stats["lif"].acc_overflows == 6  # neuron 0, 2 samples x 3 steps
    assert lava.u["lif"][0, 0, 0] == 64 * 48_960  # unbounded
    assert first_mismatch(chip_like, lava) is not None
    result = lava_check(graph, {"x": x.astype(np.float64)})
    assert result["bit_exact"] and "Lava's int32 accumulator" in result["semantics"]
