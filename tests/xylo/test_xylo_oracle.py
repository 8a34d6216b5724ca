"""refsim's xylo family equals SynSense's XyloSim bit for bit: spikes, Vmem and Isyn at every step.

XyloSim (rockpool 3.1.0 over xylosim 0.1.3's C++ core) is SynSense's bit-exact model of the Xylo
Audio 2 SNN core.  Each case lowers one integer graph onto the core (backends/xylosim), runs both,
and compares the integer traces in aligned time.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xylo_graphs import random_events, xylo_graph

from snncc.backends.base import Record, first_mismatch
from snncc.backends.refsim import RefSim
from snncc.backends.xylosim import XyloSimBackend

ALL = Record(spikes=True, v=True, u=True)


def assert_bit_exact(graph, inputs) -> tuple:
    ref = RefSim().run(graph, inputs, record=ALL)
    xylo = XyloSimBackend().run(graph, inputs, record=ALL)
    mismatch = first_mismatch(xylo, ref)
    assert mismatch is None, (
        f"refsim differs from XyloSim: (var, sample, step, neuron, xylosim, refsim, layer) = {mismatch}"
    )
    for name in ref.outputs:
        np.testing.assert_array_equal(ref.outputs[name], xylo.outputs[name])
    return ref, xylo


@settings(max_examples=25)
@given(
    seed=st.integers(0, 2**32 - 1),
    hidden=st.lists(st.integers(1, 48), min_size=1, max_size=3),
    outputs=st.integers(1, 8),
    channels=st.integers(1, 16),
    recurrent=st.booleans(),
    weight_scale=st.sampled_from([8, 40, 128]),
)
def test_random_networks_match_xylosim(seed, hidden, outputs, channels, recurrent, weight_scale):
    rng = np.random.default_rng(seed)
    steps = 10
    graph = xylo_graph(rng, channels, hidden, outputs, steps, recurrent=recurrent, weight_scale=weight_scale)
    assert_bit_exact(graph, {"x": random_events(rng, 2, steps, channels)})


def test_the_cases_exercise_saturation_multi_spikes_and_every_layer():
    """The random cases are not vacuous: states saturate, neurons fire several spikes a step, deep layers fire."""
    rng = np.random.default_rng(1)  # a seed whose network saturates and fires in every layer
    graph = xylo_graph(rng, 16, [40, 30], 8, 16, weight_scale=128)
    ref, _ = assert_bit_exact(graph, {"x": random_events(rng, 3, 16, 16, rate=0.8)})
    assert ref.stats["h0"].v_saturations > 0
    assert ref.spikes["h0"].max() > 1 and ref.spikes["h1"].max() > 1
    assert all(ref.stats[n].spikes > 0 for n in ("h0", "h1", "o"))


def test_full_size_core_matches_xylosim():
    """1000 hidden neurons (the whole core), 16 channels, 8 outputs, recurrent."""
    rng = np.random.default_rng(1)  # a seed whose spikes reach the output layer
    graph = xylo_graph(rng, 16, [600, 400], 8, 8, weight_scale=24)
    ref, _ = assert_bit_exact(graph, {"x": random_events(rng, 1, 8, 16)})
    assert ref.stats["h1"].spikes > 0 and ref.stats["o"].spikes > 0


def test_direct_input_is_presented_every_step():
    rng = np.random.default_rng(11)
    graph = xylo_graph(rng, 4, [10], 3, 6)
    assert_bit_exact(graph, {"x": rng.integers(0, 16, size=(2, 4))})


@pytest.mark.parametrize("readout", ["v_last", "v_mean", "spike_steps", "v_steps"])
def test_readouts_match_xylosim(readout):
    rng = np.random.default_rng(5)
    graph = xylo_graph(rng, 8, [20], 4, 8, readout=readout)
    assert_bit_exact(graph, {"x": random_events(rng, 2, 8, 8)})
