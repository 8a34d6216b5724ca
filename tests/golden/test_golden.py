"""Saved integer traces guard both backends against silent changes of semantics.

Each case under cases/<name>/ holds the integer graph (graph.json + graph.npz), its inputs
(input.npz) and every layer's u, v and spikes at every step (trace.npz).  The traces were
produced by refsim and reproduced bit for bit by Lava when they were written; both backends
must still reproduce them.  `pytest tests/golden --regen-golden` rewrites them (review the diff).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from snncc.backends import Record
from snncc.backends.refsim import RefSim
from snncc.ir import (
    LOIHI,
    Const,
    GraphBuilder,
    GraphMeta,
    IntConv2d,
    IntDense,
    IntInput,
    IntLIF,
    Output,
    Stage,
    load,
    save,
)
from snncc.ir.serialize import write_npz_deterministic

CASES = Path(__file__).parent / "cases"
ALL = Record(spikes=True, v=True, u=True)


def _neuron(shape, **kw):
    def full(name, value):
        return Const(np.broadcast_to(np.asarray(kw.pop(name, value), dtype=np.int32), shape).copy())

    fields = {f: full(f, 0) for f in ("bias_mant", "bias_exp", "v_init")}
    return IntLIF(shape=shape, du=kw.pop("du", 4095), dv=kw.pop("dv", 0), vth=kw.pop("vth", 100), **fields, **kw)


def _graph(layers, in_op, steps):
    b = GraphBuilder()
    prev = b.add("x", in_op)
    for i, (syn, lif) in enumerate(layers):
        prev = b.add(f"lif{i}", lif, [b.add(f"syn{i}", syn, [prev])])
    b.add("out", Output(shape=layers[-1][1].shape, readout="spike_count"), [prev])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=steps, numerics=LOIHI))


def build_cases() -> dict[str, tuple[object, dict[str, np.ndarray]]]:
    rng = np.random.default_rng(2026)
    traps = _graph(
        [
            (
                IntDense(
                    shape=(3,), weight=Const(np.array([[3, -3, 7], [-1, 5, 2], [9, 9, -9]], np.int32)), weight_exp=-1
                ),
                _neuron((3,), du=0, dv=123, vth=5, bias_mant=[100, -50, 0], bias_exp=[2, 3, 0]),
            ),
            (
                IntDense(shape=(2,), weight=Const(np.array([[11, -4, 6], [-2, 8, 1]], np.int32)), weight_exp=2),
                _neuron((2,), du=2000, dv=4096, vth=3),
            ),
        ],
        IntInput(shape=(3,), bits=8),
        steps=7,
    )
    conv = _graph(
        [
            (
                IntConv2d(
                    shape=(3, 3, 3),
                    weight=Const(rng.integers(-60, 60, (3, 1, 3, 3)).astype(np.int32)),
                    stride=2,
                    padding=1,
                ),
                _neuron((3, 3, 3), vth=40, dv=800),
            ),
            (IntDense(shape=(2,), weight=Const(rng.integers(-20, 20, (2, 27)).astype(np.int32))), _neuron((2,), vth=6)),
        ],
        IntInput(shape=(1, 6, 6), bits=4, encoding="bitplane"),
        steps=5,
    )
    own = _graph(
        [
            (
                IntDense(shape=(2,), weight=Const(np.array([[40, -20], [-30, 60]], np.int32))),
                _neuron((2,), vth=20, reset="subtract", v_floor=-2000, v_init=[700, -400], dv=64),
            ),
        ],
        IntInput(shape=(2,), bits=8),
        steps=6,
    )
    return {
        "traps": (traps, {"x": rng.integers(0, 256, (3, 3))}),
        "conv_bitplane": (conv, {"x": rng.integers(0, 16, (2, 1, 6, 6))}),
        "own_neuron": (own, {"x": rng.integers(0, 256, (2, 2))}),
    }


def _trace_arrays(trace) -> dict[str, np.ndarray]:
    return {f"{var}/{layer}": arr for var in ("u", "v", "spikes") for layer, arr in getattr(trace, var).items()}


def _check(case: Path, run) -> None:
    graph = load(case)
    with np.load(case / "input.npz") as f:
        inputs = {k: f[k] for k in f.files}
    with np.load(case / "trace.npz") as f:
        expected = {k: f[k] for k in f.files}
    got = _trace_arrays(run(graph, inputs))
    assert sorted(got) == sorted(expected)
    for key, arr in expected.items():
        diff = np.argwhere(got[key] != arr)
        assert diff.size == 0, f"{case.name}: {key} first differs at (sample, step, neuron...) {tuple(diff[0])}"


def test_regenerate_when_asked(regen_golden):
    if not regen_golden:
        pytest.skip("pass --regen-golden to rewrite the golden traces")
    for name, (graph, inputs) in build_cases().items():
        case = CASES / name
        case.mkdir(parents=True, exist_ok=True)
        save(graph, case)
        write_npz_deterministic(case / "input.npz", inputs)
        write_npz_deterministic(case / "trace.npz", _trace_arrays(RefSim().run(graph, inputs, record=ALL)))
    assert {p.name for p in CASES.iterdir()} >= set(build_cases())


CASE_DIRS = sorted(p for p in CASES.iterdir() if p.is_dir()) if CASES.is_dir() else []


def test_golden_cases_exist_and_are_small():
    assert len(CASE_DIRS) >= 3
    for case in CASE_DIRS:
        assert sum(f.stat().st_size for f in case.iterdir()) < 100_000


@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_refsim_reproduces_golden(case):
    _check(case, lambda g, x: RefSim().run(g, x, record=ALL))


@pytest.mark.lava
@pytest.mark.parametrize("case", CASE_DIRS, ids=[p.name for p in CASE_DIRS])
def test_lava_reproduces_golden(case):
    from snncc.backends.lava import LavaBackend

    _check(case, lambda g, x: LavaBackend().run(g, x, record=ALL))
