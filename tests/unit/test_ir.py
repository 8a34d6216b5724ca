"""The graph IR: immutability, deterministic order, stage verification, exact save/load."""

from __future__ import annotations

import numpy as np
import pytest

from snncc.errors import InvalidGraph
from snncc.ir import (
    LIF,
    LOIHI,
    Const,
    Conv2d,
    Dense,
    Edge,
    GraphBuilder,
    GraphMeta,
    Input,
    IntDense,
    IntInput,
    IntLIF,
    Output,
    Stage,
    load,
    save,
    verify,
)


def small_float_graph(weight: np.ndarray | None = None):
    b = GraphBuilder()
    b.add("x", Input(shape=(1, 4, 4)))
    b.add("conv", Conv2d(shape=(2, 4, 4), weight=Const(np.ones((2, 1, 3, 3))), padding=1), ["x"])
    b.add("lif1", LIF(shape=(2, 4, 4), beta=0.5), ["conv"])
    w = np.arange(32 * 3, dtype=np.float64).reshape(3, 32) / 100 if weight is None else weight
    b.add("fc", Dense(shape=(3,), weight=Const(w), bias=Const(np.zeros(3))), ["lif1"])
    b.add("lif2", LIF(shape=(3,), spiking=False), ["fc"])
    b.add("out", Output(shape=(3,), readout="v_last"), ["lif2"])
    return b.build(GraphMeta(stage=Stage.FLOAT, steps=4))


def test_const_value_equality_and_readonly():
    a = Const(np.array([1.0, 2.0]))
    b = Const([1.0, 2.0])
    assert a == b and hash(a) == hash(b)
    assert a != Const(np.array([1, 2], dtype=np.int32))
    with pytest.raises(ValueError):
        a.array[0] = 5.0


def test_ops_are_frozen_and_normalised():
    conv = Conv2d(shape=(2, 4, 4), weight=Const(np.ones((2, 1, 3, 3))), padding=1)
    assert conv.padding == (1, 1) and conv.stride == (1, 1)
    with pytest.raises(AttributeError):
        conv.groups = 2  # type: ignore[misc]


def test_float_graph_verifies_and_orders_deterministically():
    g = verify(small_float_graph())
    assert g.topo_order() == ("x", "conv", "lif1", "fc", "lif2", "out")
    assert g.predecessors("fc") == ("lif1",)


def test_shape_mismatch_is_reported_with_the_layer():
    with pytest.raises(InvalidGraph) as err:
        verify(small_float_graph(weight=np.ones((3, 31))))
    assert err.value.diagnostics[0].node == "fc"
    assert err.value.code == "GRF004"


def test_nan_weights_are_rejected():
    w = np.ones((3, 32))
    w[1, 2] = np.nan
    with pytest.raises(InvalidGraph) as err:
        verify(small_float_graph(weight=w))
    assert any(d.code == "GRF021" and d.node == "fc" for d in err.value.diagnostics)


def test_save_load_round_trip_is_exact(tmp_path):
    g = small_float_graph(weight=np.random.default_rng(0).normal(size=(3, 32)))
    save(g, tmp_path)
    g2 = load(tmp_path)
    assert g2 == g
    first = (tmp_path / "graph.npz").read_bytes()
    save(g2, tmp_path)
    assert (tmp_path / "graph.npz").read_bytes() == first


def int_graph(weight: np.ndarray) -> object:
    b = GraphBuilder()
    b.add("x", IntInput(shape=(4,), bits=8))
    b.add("fc", IntDense(shape=(2,), weight=Const(weight.astype(np.int32)), weight_exp=0), ["x"])
    z = Const(np.zeros(2, dtype=np.int32))
    b.add("lif", IntLIF(shape=(2,), du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z), ["fc"])
    b.add("out", Output(shape=(2,), readout="spike_count"), ["lif"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=LOIHI))


def test_integer_graph_ranges_are_checked():
    verify(int_graph(np.full((2, 4), 254)))
    with pytest.raises(InvalidGraph) as err:
        verify(int_graph(np.full((2, 4), 300)))
    assert any(d.code == "GRF053" and d.node == "fc" for d in err.value.diagnostics)


def recurrent_graph(*, extra=(), rec_src="lif", stage=Stage.FLOAT):
    """x -> fc -> lif -> out, with lif -> rec -> lif; ``extra`` edges added after."""
    b = GraphBuilder()
    b.add("x", Input(shape=(2,)))
    b.add("fc", Dense(shape=(2,), weight=Const(np.eye(2))), ["x"])
    b.add("lif", LIF(shape=(2,)), ["fc"])
    b.add("rec", Dense(shape=(2,), weight=Const(np.array([[0.0, -1.0], [2.0, 0.0]]))), [rec_src])
    b.connect("rec", "lif")
    b.add("out", Output(shape=(2,)), ["lif"])
    for src, dst in extra:
        b.connect(src, dst)
    return b.build(GraphMeta(stage=stage, steps=3))


def test_a_layer_feeding_itself_through_a_synapse_is_recurrent():
    g = verify(recurrent_graph())
    assert g.recurrent_edges() == {Edge("lif", "rec")}
    assert g.recurrent_layers() == ("lif",)
    assert g.topo_order() == ("x", "fc", "rec", "lif", "out")  # rec reads the previous step: before lif
    assert g.predecessors("lif") == ("fc", "rec")


def test_recurrent_graph_round_trips(tmp_path):
    g = verify(recurrent_graph())
    save(g, tmp_path)
    back = load(tmp_path)
    assert back == g and back.recurrent_edges() == g.recurrent_edges()


@pytest.mark.parametrize(
    ("edit", "code", "message"),
    [
        # the layer's spikes straight back into itself: nothing carries them to the next step
        ({"extra": [("lif", "lif")]}, "GRF006", "cycle lif -> lif does not pass through a synapse op"),
        # two synapse ops in a loop without a neuron layer
        ({"extra": [("fc", "rec"), ("rec", "fc")], "rec_src": "x"}, "GRF006", "does not pass through a neuron layer"),
        # the recurrent synapse also feeds forward
        ({"extra": [("rec", "out")]}, "GRF007", "rec lies on the recurrent connection of lif but also feeds out"),
    ],
)
def test_cycles_the_ir_cannot_run_are_named(edit, code, message):
    with pytest.raises(InvalidGraph) as err:
        verify(recurrent_graph(**edit))
    assert err.value.code == code and message in str(err.value)


def two_layer_loop(lead_in: int = 0):
    """l1 -> fc2 -> l2 -> back -> l1 after ``lead_in`` dense+lif pairs (a small part of a long graph)."""
    b = GraphBuilder()
    b.add("x", Input(shape=(2,)))
    last = "x"
    for i in range(lead_in):
        b.add(f"pre{i}", Dense(shape=(2,), weight=Const(np.eye(2))), [last])
        b.add(f"pre{i}.lif", LIF(shape=(2,)), [f"pre{i}"])
        last = f"pre{i}.lif"
    b.add("fc1", Dense(shape=(2,), weight=Const(np.eye(2))), [last])
    b.add("l1", LIF(shape=(2,)), ["fc1"])
    b.add("fc2", Dense(shape=(2,), weight=Const(np.eye(2))), ["l1"])
    b.add("l2", LIF(shape=(2,)), ["fc2"])
    b.add("back", Dense(shape=(2,), weight=Const(np.eye(2))), ["l2"])
    b.connect("back", "l1")
    b.add("out", Output(shape=(2,)), ["l2"])
    return b.build(GraphMeta(stage=Stage.FLOAT, steps=2))


TWO_LAYER_LOOP = "several neuron layers (l1, l2): l1 -> fc2 -> l2 -> back -> l1"


def test_a_loop_through_two_layers_is_refused_naming_them():
    with pytest.raises(InvalidGraph) as err:
        verify(two_layer_loop())
    assert err.value.code == "GRF007"
    assert TWO_LAYER_LOOP in str(err.value)


@pytest.mark.slow  # runs Python in subprocesses
def test_the_cycle_message_does_not_depend_on_the_hash_seed():
    # networkx iterates a small subgraph view through a set, whose order follows PYTHONHASHSEED
    import os
    import subprocess
    import sys
    from pathlib import Path

    script = (
        f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
        "from test_ir import two_layer_loop, verify\n"
        "try:\n    verify(two_layer_loop(lead_in=8))\nexcept Exception as err:\n    print(err)\n"
    )
    messages = {
        subprocess.run(
            [sys.executable, "-c", script],
            env={**os.environ, "PYTHONHASHSEED": str(seed)},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        for seed in range(6)
    }
    assert len(messages) == 1, messages
    assert TWO_LAYER_LOOP in messages.pop()
