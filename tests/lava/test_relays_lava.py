"""Relays in Lava: skips one and two layers short (a chain of two relays), bit-exact with refsim.

In Lava every connection costs a step, so without relays the skips would arrive early (the backend
refuses such graphs); with them, Lava's u, v and spikes equal refsim's at every aligned step, over
two samples streamed back to back, and each relay's spikes are its source's.
"""

from __future__ import annotations

import numpy as np
from lava_compare import assert_bit_exact

from snncc.backends.lava import LavaBackend
from snncc.ir import LIF, LOIHI, Const, Dense, GraphBuilder, GraphMeta, Input, Output, Stage, verify
from snncc.passes.align_depths import align_depths
from snncc.passes.calibrate import calibrate
from snncc.passes.canonicalize import canonicalize
from snncc.passes.quantize import Quantize, quantize, quantize_inputs


def skip_net(recurrent: bool = False):
    """x -> a -> b -> c -> d with skips a -> c and a -> d (c one layer short, d two); with
    ``recurrent`` b also reads its own spikes of the previous step (b -> w_rec -> b)."""
    rng = np.random.default_rng(2)

    def dense(n_out, n_in):
        return Dense(shape=(n_out,), weight=Const(rng.uniform(-0.1, 0.6, (n_out, n_in))))

    def lif(n, reset="zero"):
        return LIF(shape=(n,), beta=0.9, threshold=1.0, reset=reset, bias=Const(np.full(n, 0.05)))

    b = GraphBuilder()
    b.add("x", Input(shape=(4,)))
    b.add("a", lif(6, "subtract"), [b.add("w_a", dense(6, 4), ["x"])])
    b.add("b", lif(6), [b.add("w_b", dense(6, 6), ["a"]), *(["w_rec"] if recurrent else [])])
    if recurrent:
        b.add("w_rec", Dense(shape=(6,), weight=Const(rng.uniform(-0.5, 0.4, (6, 6)))), ["b"])
    b.add("c", lif(5), [b.add("w_c", dense(5, 6), ["b"]), b.add("skip_c", dense(5, 6), ["a"])])
    b.add("d", lif(3), [b.add("w_d", dense(3, 5), ["c"]), b.add("skip_d", dense(3, 6), ["a"])])
    b.add("out", Output(shape=(3,), readout="spike_count"), ["d"])
    return verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=8)))


def integer(canonical, x):
    graph, _ = quantize(canonical, Quantize(numerics=LOIHI), calibrate(canonical, x, max_steps=255))
    return verify(graph)


def test_relay_chains_are_bit_exact_in_lava():
    x = {"x": np.random.default_rng(3).uniform(0, 1, (2, 4))}
    canonical = canonicalize(skip_net())
    plain = integer(canonical, x)
    assert {d.code for d in LavaBackend().check(plain)} == {"BKD010"}  # unequal paths: refused without relays
    graph = integer(align_depths(canonical), x)
    ref, lava = assert_bit_exact(graph, quantize_inputs(graph, x))
    assert set(lava.spikes) >= {"a.relay1", "a.relay2"}
    assert lava.spikes["a"].any() and not lava.spikes["a"].all()
    for relay in ("a.relay1", "a.relay2"):
        np.testing.assert_array_equal(lava.spikes[relay], lava.spikes["a"])
    assert ref.spikes["d"].any()  # the skips reach the last layer


def test_relays_around_a_recurrent_layer_are_bit_exact_in_lava():
    """The recurrent synapse reads its own layer (the previous step): it sets no depth and gets no relay."""
    x = {"x": np.random.default_rng(4).uniform(0, 1, (2, 4))}
    graph = integer(align_depths(canonicalize(skip_net(recurrent=True))), x)
    assert graph.predecessors("w_rec") == ("b",) and graph.recurrent_layers() == ("b",)
    ref, lava = assert_bit_exact(graph, quantize_inputs(graph, x))
    np.testing.assert_array_equal(lava.spikes["a.relay2"], lava.spikes["a"])
    assert ref.spikes["b"].any() and ref.spikes["d"].any()
