"""Run the same integer graph in Lava and in the reference simulator and demand equal integer traces."""

from __future__ import annotations

import numpy as np

from snncc.backends import Record, Trace, first_mismatch
from snncc.backends.lava import LavaBackend
from snncc.backends.refsim import RefSim
from snncc.fidelity import reference_for
from snncc.ir import Graph

ALL = Record(spikes=True, v=True, u=True)


def run_both(graph: Graph, inputs: dict[str, np.ndarray]) -> tuple[Trace, Trace]:
    """refsim with Lava's int32 accumulator (Lava never applies a target's narrower one, such as Loihi 1's)."""
    lava_semantics, _ = reference_for("lava", graph)
    return RefSim().run(lava_semantics, inputs, record=ALL), LavaBackend().run(graph, inputs, record=ALL)


def assert_bit_exact(graph: Graph, inputs: dict[str, np.ndarray]) -> tuple[Trace, Trace]:
    ref, lava = run_both(graph, inputs)
    mismatch = first_mismatch(ref, lava)
    assert mismatch is None, "first mismatch (variable, sample, step, neuron, refsim, lava, layer): " + repr(mismatch)
    assert set(ref.v) == set(lava.v) and ref.v, "both backends must record the same layers"
    for name in ref.outputs:
        np.testing.assert_array_equal(ref.outputs[name], lava.outputs[name])
    for name in ref.spike_counts:
        np.testing.assert_array_equal(ref.spike_counts[name], lava.spike_counts[name])
    return ref, lava
