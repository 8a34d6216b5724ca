"""Properties of the reference simulator over random small integer networks."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from snncc.backends import Record
from snncc.backends.refsim import RefSim
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage

ALL = Record(spikes=True, v=True, u=True)


@st.composite
def networks(draw, silent: bool = False):
    """A chain input -> (dense -> LIF) x 1..3 with random integer parameters and inputs; some layers
    recurrent (a dense from the layer back to itself)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    sizes = [draw(st.integers(1, 8)) for _ in range(draw(st.integers(2, 4)))]
    steps = draw(st.integers(1, 8))
    b = GraphBuilder()
    # graded 8-bit values, 8 bit planes, or binary spikes (the int8 product and event paths of kernels.py)
    bits, encoding = draw(st.sampled_from([(8, "graded"), (8, "bitplane"), (1, "bitplane")]))
    prev = b.add("x", IntInput(shape=(sizes[0],), bits=bits, encoding=encoding))
    for i, n in enumerate(sizes[1:]):
        w = rng.integers(-256, 256, size=(n, sizes[i])).astype(np.int32)
        prev = b.add(f"fc{i}", IntDense(shape=(n,), weight=Const(w), weight_exp=int(rng.integers(-8, 8))), [prev])

        def arr(lo, hi, n=n):
            return Const(np.zeros(n, np.int32) if silent else rng.integers(lo, hi, size=n).astype(np.int32))

        neuron = IntLIF(
            shape=(n,),
            du=int(rng.choice([-1, 0, 4095, rng.integers(0, 4096)])),
            dv=int(rng.choice([0, 4095, 4096, rng.integers(0, 4096)])),
            vth=int(rng.integers(0 if not silent else 1, 2**17)),
            bias_mant=arr(-4096, 4096),
            bias_exp=Const(rng.integers(0, 8, size=n).astype(np.int32)),
            v_init=arr(-(2**22), 2**22),
            reset=str(rng.choice(["zero", "subtract"])),
        )
        prev = b.add(f"lif{i}", neuron, [prev])
        if rng.random() < 0.4:  # a recurrent layer: its own spikes of the step before come back to it
            w_rec = rng.integers(-256, 256, size=(n, n)).astype(np.int32)
            rec = IntDense(shape=(n,), weight=Const(w_rec), weight_exp=int(rng.integers(-8, 8)))
            b.connect(b.add(f"rec{i}", rec, [prev]), prev)
    b.add("out", Output(shape=(sizes[-1],)), [prev])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=LOIHI))
    batch = draw(st.integers(1, 3))
    x = np.zeros((batch, sizes[0]), np.int64) if silent else rng.integers(0, 1 << bits, size=(batch, sizes[0]))
    return graph, x


@given(networks())
def test_state_stays_within_its_formats(case):
    graph, x = case
    tr = RefSim().run(graph, {"x": x}, record=ALL)
    for layer in tr.v:
        assert np.abs(tr.v[layer]).max() <= 2**23 - 1
        assert np.abs(tr.u[layer]).max() < 2**31  # u is stored in an int32, as in Lava
        assert set(np.unique(tr.spikes[layer])) <= {0, 1}
        if tr.stats[layer].u_wraps == 0:  # no wrap needed: u stayed in (-2^23, 2^23]
            assert ((tr.u[layer] > -(2**23)) & (tr.u[layer] <= 2**23)).all()


@given(networks(silent=True))
def test_no_input_no_bias_no_initial_potential_never_spikes(case):
    graph, x = case
    tr = RefSim().run(graph, {"x": x}, record=ALL)
    assert all(int(c.sum()) == 0 for c in tr.spike_counts.values())
    assert all(not v.any() for v in tr.v.values())


@given(networks())
def test_deterministic_and_batch_equals_single_runs(case):
    graph, x = case
    sim = RefSim()
    together = sim.run(graph, {"x": x}, record=ALL)
    again = sim.run(graph, {"x": x}, record=ALL)
    for i in range(len(x)):
        alone = sim.run(graph, {"x": x[i : i + 1]}, record=ALL)
        for var in ("u", "v", "spikes"):
            for layer, arr in getattr(together, var).items():
                np.testing.assert_array_equal(arr[i], getattr(alone, var)[layer][0])
                np.testing.assert_array_equal(arr, getattr(again, var)[layer])
