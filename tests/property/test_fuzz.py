"""Fuzzing: random graphs, targets, inputs, model files and data files.

The only failures allowed are snncc's own errors (SnnccError), which carry a code and a
message; anything else (IndexError, ZeroDivisionError, a numpy warning turned error...) is a bug.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from snncc.backends import get_backend
from snncc.data import load_dataset
from snncc.errors import SnnccError
from snncc.importers.torch import load_torch_model
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
    MaxPool2d,
    Output,
    Stage,
    SumPool2d,
    verify,
)
from snncc.mapping import check_placement, partition
from snncc.passes.calibrate import calibrate
from snncc.passes.canonicalize import canonicalize
from snncc.passes.quantize import Quantize, quantize, quantize_inputs
from snncc.target import load_target

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True, width=32),
    st.sampled_from([0.0, -0.0, 1e-30, 1e30, -1.0, 0.5, 2.0]),
)


@st.composite
def float_graphs(draw):
    """Random chains of float ops with consistent shapes and random, sometimes bad, parameters."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    b = GraphBuilder()
    shape = draw(st.sampled_from([(4,), (1, 6, 6), (2, 4, 4)]))
    prev = b.add("x", Input(shape=shape))
    weight_scale = draw(st.sampled_from([1.0, 1.0, 1e-6, 1e6, 0.0]))
    for i in range(draw(st.integers(1, 5))):
        kinds = ["dense", "lif", "lif"] + (["conv", "pool", "flatten"] if len(shape) == 3 else [])
        kind = draw(st.sampled_from(kinds))
        n = draw(st.integers(1, 8))
        if kind == "dense":
            op = Dense(shape=(n,), weight=Const(rng.normal(size=(n, int(np.prod(shape)))) * weight_scale))
        elif kind == "conv":
            k, pad, stride = draw(st.integers(1, 3)), draw(st.integers(0, 1)), draw(st.integers(1, 2))
            h = (shape[1] + 2 * pad - k) // stride + 1
            if h < 1:
                continue
            op = Conv2d(
                shape=(n, h, h),
                weight=Const(rng.normal(size=(n, shape[0], k, k)) * weight_scale),
                padding=pad,
                stride=stride,
            )
        elif kind == "pool":
            k = draw(st.integers(1, 2))
            if shape[1] // k < 1:
                continue
            pool = draw(st.sampled_from([AvgPool2d, SumPool2d, MaxPool2d]))  # max pooling: canonicalize refuses it
            op = pool(shape=(shape[0], shape[1] // k, shape[2] // k), kernel=k, stride=k)
        elif kind == "flatten":
            op = Flatten(shape=(int(np.prod(shape)),))
        else:
            op = LIF(
                shape=shape,
                beta=draw(st.one_of(st.sampled_from([1.0, 0.5, 0.0]), numbers)),
                threshold=draw(st.one_of(st.sampled_from([1.0, 0.3, 5.0]), numbers)),
                fire=draw(st.sampled_from([">=", ">"])),
                reset=draw(st.sampled_from(["zero", "subtract"])),
                v_reset=draw(st.sampled_from([0.0, -0.5, 0.2])),
                bias=Const(draw(numbers)) if draw(st.booleans()) else None,
                v_init=Const(draw(numbers)) if draw(st.booleans()) else None,
                v_floor=draw(st.sampled_from([None, None, 0.0, -1.0])),
                spiking=draw(st.booleans()),
            )
        prev = b.add(f"l{i}", op, [prev])
        shape = op.shape
    if not isinstance(b._nodes[-1][1], LIF):
        prev = b.add("readout", LIF(shape=shape, spiking=False), [prev])
    readout = draw(st.sampled_from(["spike_count", "v_last", "v_mean", "v_steps"]))
    b.add("out", Output(shape=shape, readout=readout), [prev])
    steps = draw(st.sampled_from([0, 1, 3, 3, 3]))
    return b, GraphMeta(stage=Stage.FLOAT, steps=steps)


def run_pipeline(builder, meta) -> None:
    graph = builder.build(meta)  # may raise InvalidGraph (duplicate names...)
    verify(graph)
    (input_name, input_op), *_ = graph.of_type(Input)
    x = np.random.default_rng(0).uniform(0, 1, size=(3, *input_op.shape))
    get_backend("floatsim").run(graph, {input_name: x})  # the model as imported, max pooling included
    canonical = verify(canonicalize(graph))
    calibration = calibrate(canonical, {input_name: x}, max_steps=255)
    int_graph, _ = quantize(canonical, Quantize(numerics=LOIHI, input_encoding="graded"), calibration)
    verify(int_graph)
    toy = load_target("toy")
    placement = partition(int_graph, toy)
    assert check_placement(int_graph, placement, toy) == []
    trace = get_backend("refsim").run(int_graph, quantize_inputs(int_graph, {input_name: x}))
    assert all(np.isfinite(v).all() for v in trace.outputs.values())


@FUZZ
@given(float_graphs())
def test_random_graphs_fail_only_with_snncc_errors(case):
    builder, meta = case
    with np.errstate(all="raise"):
        try:
            run_pipeline(builder, meta)
        except SnnccError as err:
            assert err.diagnostics and all(d.code and d.message for d in err.diagnostics)


LOIHI_YAML = yaml.safe_load((Path(load_target("loihi").path)).read_text())


def _paths(tree, prefix=()):
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


PATHS = list(_paths(LOIHI_YAML))


@pytest.mark.slow  # 40 mutated target files, each written and validated
@FUZZ
@given(
    st.lists(
        st.tuples(
            st.sampled_from(PATHS),
            st.one_of(
                st.none(), st.integers(-5, 2**40), numbers, st.text(max_size=5), st.lists(st.integers(), max_size=2)
            ),
            st.booleans(),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_mutated_targets_fail_only_with_target_errors(tmp_path_factory, mutations):
    doc = yaml.safe_load(yaml.safe_dump(LOIHI_YAML))
    for path, value, delete in mutations:
        node = doc
        for key in path[:-1]:
            if not isinstance(node, dict) or key not in node:
                break
            node = node[key]
        else:
            if isinstance(node, dict):
                if delete:
                    node.pop(path[-1], None)
                else:
                    node[path[-1]] = value
    file = tmp_path_factory.mktemp("t") / "mutant.yaml"
    file.write_text(yaml.safe_dump(doc))
    try:
        target = load_target(file)
    except SnnccError as err:
        assert err.code.startswith("TGT")
    else:
        assert target.total_cores >= 1 and target.per_core.neurons.value >= 1


@FUZZ
@given(
    st.sampled_from([(2, 6), (2, 5), (0, 6), (2, 3, 6), (6,), (2, 2, 2, 2)]),
    st.sampled_from([np.int64, np.int8, np.float64, np.bool_, np.uint64]),
    st.sampled_from([0, 1, 255, 256, -1, 2**40]),
)
def test_bad_inputs_to_the_integer_backend(shape, dtype, value):
    b = GraphBuilder()
    b.add("x", Input(shape=(6,)))
    b.add("fc", Dense(shape=(3,), weight=Const(np.ones((3, 6)))), ["x"])
    b.add("lif", LIF(shape=(3,)), ["fc"])
    b.add("out", Output(shape=(3,)), ["lif"])
    canonical = verify(canonicalize(b.build(GraphMeta(stage=Stage.FLOAT, steps=2))))
    int_graph, _ = quantize(canonical, Quantize(numerics=LOIHI), None)
    with np.errstate(all="ignore"):
        x = np.full(shape, value).astype(dtype) if math.prod(shape) else np.zeros(shape, dtype)
    try:
        trace = get_backend("refsim").run(int_graph, {"x": x})
    except SnnccError as err:
        assert err.code.startswith("DAT")
    else:
        assert trace.batch == shape[0]


@FUZZ
@given(st.binary(max_size=2048), st.sampled_from([b"", b"PK\x03\x04", b"\x80\x02", b"\x80\x04\x95"]))
def test_random_bytes_as_a_model_file(tmp_path_factory, payload, prefix):
    path = tmp_path_factory.mktemp("m") / "model.pt"
    path.write_bytes(prefix + payload)
    with pytest.raises(SnnccError) as err:
        load_torch_model(path)
    assert err.value.code.startswith("LOD")


@FUZZ
@given(
    st.dictionaries(
        st.sampled_from(["x", "y", "z"]),
        st.sampled_from(
            [
                np.zeros((2, 1, 8, 8)),
                np.zeros((2, 64)),
                np.ones(3),
                np.array(["a", "b"]),
                np.zeros((0, 4)),
                np.full((2, 3), np.inf),
            ]
        ),
        max_size=3,
    )
)
def test_random_data_files(tmp_path_factory, arrays):
    path = tmp_path_factory.mktemp("d") / "data.npz"
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    path.write_bytes(buffer.getvalue())
    try:
        data = load_dataset(path, input_shape=(1, 8, 8))
    except SnnccError as err:
        assert err.code.startswith("DAT")
    else:
        assert data.x.shape[1:] == (1, 8, 8) and len(data) > 0
