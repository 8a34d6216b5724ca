"""Every op is lowered or refused with a code by every backend and exporter (ir/lowering.py), and a
refusal is what a user really gets: tiny graphs run into a few of them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from snncc.backends.floatsim.sim import TABLE as FLOATSIM
from snncc.backends.floatsim.sim import FloatSim
from snncc.backends.lava.backend import LavaBackend
from snncc.backends.lava.lowering import LAVA
from snncc.backends.nengo_loihi.backend import TABLE as NENGO_LOIHI
from snncc.backends.nengo_loihi.backend import NengoLoihiBackend
from snncc.backends.refsim.lowering import LOIHI, XYLO
from snncc.backends.refsim.xylo import XyloDialect
from snncc.backends.xylosim.backend import TABLE as XYLOSIM
from snncc.backends.xylosim.backend import XyloSimBackend
from snncc.error_codes import MEANINGS
from snncc.errors import BackendError, InvalidGraph, OutputError
from snncc.exporters.netx import NETX, write_netx
from snncc.exporters.nir import TABLE as NIR
from snncc.exporters.nir import write_nir
from snncc.ir import (
    ALL_OPS,
    CLIF,
    LIF,
    Const,
    Dense,
    GraphBuilder,
    GraphMeta,
    Input,
    IntCLIF,
    IntDense,
    IntInput,
    IntLIF,
    IntXyloLIF,
    Op,
    Output,
    Stage,
)
from snncc.ir import (
    LOIHI as LOIHI_NUMERICS,
)
from snncc.ir import (
    XYLO as XYLO_NUMERICS,
)
from snncc.ir.lowering import Refusal
from snncc.sanafe_export import TABLE as SANAFE
from snncc.sanafe_export import refuse_unsupported

TABLES = (FLOATSIM, LOIHI, XYLO, LAVA, NENGO_LOIHI, XYLOSIM, NIR, NETX, SANAFE)


@pytest.mark.parametrize("table", TABLES, ids=lambda t: t.owner)
@pytest.mark.parametrize("op", ALL_OPS, ids=lambda op: op.OP)
def test_every_op_is_lowered_or_refused_with_a_known_code(table, op):
    entry = table.lookup(op)
    assert entry is not None, f"{table.owner} has no entry for {op.OP} (ir/ops/__init__.py says where to add one)"
    if isinstance(entry, Refusal):
        assert entry.code in MEANINGS, f"{table.owner} refuses {op.OP} with {entry.code}, not in snncc/error_codes.py"
        assert entry.reason


def test_each_backend_runs_something_and_refuses_something():
    """A table that refused everything (or nothing) would say nothing about its backend."""
    for table in TABLES:
        refused = {op for op in ALL_OPS if table.refusal(op) is not None}
        assert refused and refused != set(ALL_OPS), table.owner


def zeros(n: int) -> Const:
    return Const(np.zeros(n, dtype=np.int32))


def int_graph(neuron, *, numerics=LOIHI_NUMERICS, encoding: str = "graded", bits: int = 4):
    """input (4) -> int_dense -> neuron (2) -> spike count."""
    b = GraphBuilder()
    b.add("x", IntInput(shape=(4,), bits=bits, encoding=encoding), [])
    b.add("fc", IntDense(shape=(2,), weight=Const(np.ones((2, 4), dtype=np.int32))), ["x"])
    b.add("lif", neuron, ["fc"])
    b.add("out", Output(shape=(2,)), ["lif"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=numerics))


LIF_INT = IntLIF(shape=(2,), du=4095, dv=0, vth=10, bias_mant=zeros(2), bias_exp=zeros(2), v_init=zeros(2))
CLIF_INT = IntCLIF(
    **{f.name: getattr(LIF_INT, f.name) for f in dataclasses.fields(LIF_INT)} | {"reset": "subtract"},
    m_frac_bits=8,
    h_shift=4,
    lut_h=Const(np.ones(2, np.int32)),
    m_shift=0,
    lut_m=Const(np.ones(1, np.int32)),
)
XYLO_LIF = IntXyloLIF(shape=(2,), dash_syn=1, dash_mem=1, vth=100, bias=zeros(2))


def codes(diagnostics) -> set[tuple[str, str | None]]:
    return {(d.code, d.node) for d in diagnostics}


def test_floatsim_refuses_an_integer_graph_with_its_tables_code():
    found = codes(FloatSim().check(int_graph(LIF_INT)))
    assert ("BKD020", "fc") in found and ("BKD020", "lif") in found
    assert FLOATSIM.refusal(IntDense).code == "BKD020"


def test_refsims_xylo_dialect_refuses_a_loihi_neuron():
    with pytest.raises(InvalidGraph) as err:
        XyloDialect(int_graph(LIF_INT))
    assert ("GRF054", "lif") in codes(err.value.diagnostics)


def test_lava_and_nengo_loihi_refuse_a_xylo_neuron():
    graph = int_graph(XYLO_LIF, numerics=XYLO_NUMERICS, encoding="events")
    assert ("BKD042", "lif") in codes(LavaBackend().check(graph))  # before Lava is imported
    assert ("BKD042", "lif") in codes(NengoLoihiBackend().check(graph))


def test_nengo_loihi_refuses_clif_and_xylosim_refuses_a_loihi_graph():
    assert ("BKD040", "lif") in codes(NengoLoihiBackend().check(int_graph(CLIF_INT, encoding="bitplane")))
    assert ("BKD042", "lif") in codes(XyloSimBackend().check(int_graph(LIF_INT)))


def test_exporters_refuse_clif_with_their_codes(tmp_path):
    with pytest.raises(OutputError) as err:
        write_netx(int_graph(CLIF_INT), tmp_path / "x.net")
    assert ("OUT201", "lif") in codes(err.value.diagnostics)
    assert not (tmp_path / "x.net").exists()
    with pytest.raises(BackendError) as err:
        refuse_unsupported(int_graph(CLIF_INT, encoding="bitplane"))
    assert err.value.code == "BKD041" and "lif: CLIF is not exported" in str(err.value)

    b = GraphBuilder()
    b.add("x", Input(shape=(4,)), [])
    b.add("fc", Dense(shape=(2,), weight=Const(np.ones((2, 4)))), ["x"])
    lif = LIF(shape=(2,), reset="subtract")
    b.add("lif", CLIF(**{f.name: getattr(lif, f.name) for f in dataclasses.fields(lif)}), ["fc"])
    b.add("out", Output(shape=(2,)), ["lif"])
    with pytest.raises(OutputError) as err:
        write_nir(b.build(GraphMeta(stage=Stage.FLOAT, steps=3)), tmp_path / "x.nir", warn=lambda _: None)
    assert ("OUT301", "lif") in codes(err.value.diagnostics)


def test_a_table_with_a_default_refuses_an_op_it_has_never_heard_of():
    """nengo-loihi, xylosim and SANA-FE refuse a new op by their default, with their own code; the
    other tables have no default, so the first test fails until they say what they do with it."""

    @dataclasses.dataclass(frozen=True, kw_only=True)
    class Novel(Op):
        OP = "int_novel"

    for table, code in ((NENGO_LOIHI, "BKD040"), (XYLOSIM, "BKD042"), (SANAFE, "BKD041")):
        assert table.refusal(Novel).code == code
    for table in (FLOATSIM, LOIHI, XYLO, LAVA, NIR, NETX):
        assert table.lookup(Novel) is None and table.refusal(Novel).code == "GRF012"
