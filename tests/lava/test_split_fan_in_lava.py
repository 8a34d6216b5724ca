"""A layer split into partial sums (SPEC.md §int_partial_sum) runs in Lava bit for bit like refsim.

Lava runs each part as Intel's stock GradedVec fed by a Sparse of its columns, and each join as a
graded Sparse identity; the split layer is one connection deeper, so it and the layers after it
run a step later and are re-indexed to aligned time.  Compared at every step: u, v and spikes of
every layer, and each part's graded payload (recorded as its v), over samples streamed back to back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from lava_compare import assert_bit_exact

from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, Output, Stage
from snncc.mapping.split import split_fan_in, splits_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_split_fan_in import TOY_RELAY, inputs, lif, wide_net


def test_a_split_layer_reading_spikes_is_bit_exact_in_lava():
    split = split_fan_in(wide_net(hidden=600, weight_exp=1), TOY_RELAY)
    parts = splits_of(split)["o"]
    ref, lava = assert_bit_exact(split, inputs(n=3))
    assert set(parts) <= set(lava.v)  # the payloads were compared too
    assert all(np.count_nonzero(ref.v[p]) > 0 for p in parts)
    assert ref.spike_counts["o"].sum() > 0


def test_a_split_layer_reading_graded_input_is_bit_exact_in_lava():
    rng = np.random.default_rng(4)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(300,), bits=4, encoding="graded"))
    w = rng.integers(-60, 60, size=(8, 300)).astype(np.int32) * 2
    b.add("o", lif(8, vth=400), [b.add("fc", IntDense(shape=(8,), weight=Const(w)), ["x"])])
    b.add("out", Output(shape=(8,)), ["o"])
    split = split_fan_in(b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=LOIHI)), TOY_RELAY)
    assert len(splits_of(split)["o"]) == 2
    ref, _ = assert_bit_exact(split, {"x": rng.integers(0, 16, size=(2, 300))})
    assert ref.spike_counts["o"].sum() > 0
