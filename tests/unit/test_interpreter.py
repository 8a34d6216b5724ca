"""The shared graph interpreter (backends/interpreter.py): what it computes once and what every step."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from snncc.backends import Record
from snncc.backends.floatsim import FloatSim
from snncc.backends.floatsim.sim import FloatDialect
from snncc.backends.interpreter import interpret
from snncc.backends.refsim import RefSim
from snncc.backends.refsim.simulator import LoihiDialect
from snncc.ir import (
    LIF,
    LOIHI,
    AvgPool2d,
    Const,
    Conv2d,
    Dense,
    Flatten,
    GraphBuilder,
    GraphMeta,
    Input,
    IntDense,
    IntInput,
    IntLIF,
    Output,
    Stage,
    verify,
)

STEPS = 5


def counting(dialect_cls):
    """The dialect, counting its stateless steps per op."""

    class Counting(dialect_cls):
        def __init__(self, *args):
            super().__init__(*args)
            self.calls = Counter()

        def stateless(self, name, op, x):
            self.calls[name] += 1
            return super().stateless(name, op, x)

    return Counting


def float_graph():
    """image -> conv -> pool -> flatten -> dense -> lif -> dense -> lif -> output."""
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    b.add("x", Input(shape=(1, 6, 6)))
    b.add("conv", Conv2d(shape=(2, 6, 6), weight=Const(rng.normal(size=(2, 1, 3, 3))), padding=1), ["x"])
    b.add("pool", AvgPool2d(shape=(2, 3, 3), kernel=2, stride=2), ["conv"])
    b.add("flat", Flatten(shape=(18,)), ["pool"])
    b.add("fc0", Dense(shape=(8,), weight=Const(rng.normal(size=(8, 18)))), ["flat"])
    b.add("lif0", LIF(shape=(8,), beta=0.9, threshold=0.5), ["fc0"])
    b.add("fc1", Dense(shape=(3,), weight=Const(rng.normal(size=(3, 8)))), ["lif0"])
    b.add("lif1", LIF(shape=(3,), beta=0.9, threshold=0.5), ["fc1"])
    b.add("out", Output(shape=(3,), readout="spike_count"), ["lif1"])
    return verify(b.build(GraphMeta(stage=Stage.FLOAT, steps=STEPS)))


def test_float_ops_fed_only_by_a_constant_input_run_once_per_run():
    graph = float_graph()
    x = np.random.default_rng(1).random((4, 1, 6, 6)) * 3
    dialect = counting(FloatDialect)()
    trace = interpret(graph, dialect, {"x": x}, {"x"}, 4, Record())
    assert dialect.calls == {"conv": 1, "pool": 1, "flat": 1, "fc0": 1, "fc1": STEPS}
    assert trace.spike_counts["lif0"].sum() > 0  # the memoised chain does reach the neurons
    np.testing.assert_array_equal(trace.outputs["out"], FloatSim().run(graph, {"x": x}).outputs["out"])


def test_float_ops_of_a_per_step_input_run_every_step():
    graph = float_graph()
    x = np.random.default_rng(1).random((STEPS, 4, 1, 6, 6)) * 3  # time-major
    dialect = counting(FloatDialect)()
    interpret(graph, dialect, {"x": x}, set(), 4, Record())
    assert dialect.calls == dict.fromkeys(("conv", "pool", "flat", "fc0", "fc1"), STEPS)


@pytest.mark.parametrize("constant", [True, False])
def test_loihi_synapses_of_a_constant_input_run_once_per_run(constant):
    rng = np.random.default_rng(2)

    def lif(n):
        zeros = Const(np.zeros(n, np.int32))
        return IntLIF(shape=(n,), du=4095, dv=0, vth=40, bias_mant=zeros, bias_exp=zeros, v_init=zeros)

    b = GraphBuilder()
    b.add("x", IntInput(shape=(6,), bits=8, signed=False))
    b.add("syn0", IntDense(shape=(5,), weight=Const(rng.integers(-50, 100, (5, 6)).astype(np.int32))), ["x"])
    b.add("lif0", lif(5), ["syn0"])
    b.add("syn1", IntDense(shape=(2,), weight=Const(rng.integers(0, 100, (2, 5)).astype(np.int32))), ["lif0"])
    b.add("lif1", lif(2), ["syn1"])
    b.add("out", Output(shape=(2,), readout="spike_count"), ["lif1"])
    graph = verify(b.build(GraphMeta(stage=Stage.INTEGER, steps=STEPS, numerics=LOIHI)))
    x = rng.integers(0, 256, (3, 6))
    dialect = counting(LoihiDialect)(graph)
    inputs = {"x": x} if constant else {"x": np.broadcast_to(x, (STEPS, 3, 6)).copy()}
    trace = interpret(graph, dialect, inputs, {"x"} if constant else set(), 3, Record())
    assert dialect.calls == {"syn0": 1 if constant else STEPS, "syn1": STEPS}
    assert trace.spike_counts["lif1"].sum() > 0
    np.testing.assert_array_equal(trace.outputs["out"], RefSim().run(graph, {"x": x}).outputs["out"])
