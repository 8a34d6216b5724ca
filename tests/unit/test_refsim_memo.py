"""Weights prepared once per graph (backends/refsim/memo.py): reused only for arrays no one can change."""

from __future__ import annotations

import numpy as np

from snncc.backends.refsim import kernels
from snncc.backends.refsim.weights import effective_weights
from snncc.ir import LOIHI, Const


def test_a_graphs_weights_are_prepared_once():
    weight = Const(np.array([[3, -3, 255], [1, 0, -7]], np.int32)).array
    first = effective_weights(weight, LOIHI)
    assert effective_weights(weight, LOIHI) is first
    assert not first.flags.writeable  # shared by later runs: no one may change it
    assert kernels.DenseKernel.prepare(first, 1) is kernels.DenseKernel.prepare(first, 1)
    assert kernels.DenseKernel.prepare(first, 1) is not kernels.DenseKernel.prepare(first, 256)


def test_arrays_that_can_change_are_prepared_every_time():
    weight = np.array([[3, -3, 255], [1, 0, -7]])
    first = effective_weights(weight, LOIHI)
    weight[0, 0] = 101
    second = effective_weights(weight, LOIHI)
    assert second[0, 0] == 100 and first[0, 0] == 2
    assert second.flags.writeable

    view = np.array([[4, 6]])
    view.setflags(write=False)  # read-only, but it owns its data: a view of it can still change ...
    base = np.array([[4, 6, 8]])
    readonly_view = base[:, :2]
    readonly_view.setflags(write=False)  # ... through its base, so it is not memoized
    kernel = kernels.DenseKernel.prepare(readonly_view, 1)
    base[0, 0] = 10
    assert kernels.DenseKernel.prepare(readonly_view, 1) is not kernel
    assert kernels.DenseKernel.prepare(view, 1) is kernels.DenseKernel.prepare(view, 1)


def test_effective_weights_never_alias_a_callers_array():
    weight = np.array([[4, 6]], dtype=np.int64)  # in range and even: nothing to change
    out = effective_weights(weight, LOIHI)
    out[0, 0] = 0
    assert weight[0, 0] == 4
