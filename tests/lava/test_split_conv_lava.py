"""A convolution split along its input channels (SPEC.md §int_partial_sum) runs in Lava bit for bit like refsim.

Lava runs each conv part as Intel's stock GradedVec fed by a Sparse of its conv unrolled over its
input channels of the source, and each 1x1 depthwise join as a graded Sparse identity; all flat in
C order, as every (C, H, W) layer is lowered.  Compared at every step: u, v and spikes of every
layer and each part's payload (recorded as its v), over samples streamed back to back.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from lava_compare import assert_bit_exact

from snncc.mapping.split import split_fan_in, splits_of

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_split_conv import conv_net, inputs
from test_split_fan_in import TOY_RELAY


@pytest.mark.parametrize(
    ("graded", "stride", "padding"), [(False, 2, 1), (True, 1, 0)], ids=["spikes-stride2-pad1", "graded-stride1-pad0"]
)
def test_a_split_conv_is_bit_exact_in_lava(graded, stride, padding):
    graph = conv_net(stride=stride, padding=padding, graded=graded)
    split = split_fan_in(graph, TOY_RELAY)
    parts = splits_of(split)["o"]
    assert len(parts) == 2
    ref, lava = assert_bit_exact(split, inputs(graph, n=3))
    assert set(parts) <= set(lava.v)  # the payloads were compared too
    assert all(np.count_nonzero(ref.v[p]) > 0 for p in parts)
    assert ref.spike_counts["o"].sum() > 0
