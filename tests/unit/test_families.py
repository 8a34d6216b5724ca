"""Numerics families are plug-ins (issue 28): the compiler, the IR and the backends ask a family's object
(snncc/families, ir/families.py) or a table keyed by family, and only the plug-ins compare family names."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from snncc.accumulator import accumulator_report
from snncc.backends.refsim.simulator import DIALECTS, RefSim
from snncc.errors import InvalidGraph
from snncc.families import FAMILIES, family, family_of
from snncc.families.loihi import Loihi
from snncc.fidelity import fidelity_report
from snncc.ir import (
    LIF,
    LOIHI,
    XYLO,
    Const,
    Dense,
    Graph,
    GraphBuilder,
    GraphMeta,
    Input,
    IntDense,
    IntInput,
    IntLIF,
    Numerics,
    Output,
    Stage,
    verify,
)
from snncc.ir.families import FAMILIES as IR_FAMILIES
from snncc.ir.serialize import from_json, to_json
from snncc.mapping.partition import partition
from snncc.passes.calibrate import Calibration, InputStats
from snncc.passes.quantize import Quantize, quantize
from snncc.target import load_target

ROOT = Path(__file__).resolve().parents[2]
SCANNED = ("snncc", "ir", "backends")
PLUG_INS = (ROOT / "snncc" / "families", ROOT / "ir" / "families.py")


def _compares_families(tree: ast.AST) -> list[int]:
    """Lines of comparisons with a family: an operand named family (n.family, family) or a family's name."""

    def is_family(node: ast.expr) -> bool:
        named = isinstance(node, ast.Attribute) and node.attr == "family"
        return named or (isinstance(node, ast.Name) and node.id == "family") or _is_family_name(node)

    def is_none(node: ast.expr) -> bool:
        return isinstance(node, ast.Constant) and node.value is None

    compares = [
        node.lineno
        for node in ast.walk(tree)
        if isinstance(node, ast.Compare)
        and any(is_family(x) for x in (node.left, *node.comparators))
        and not any(is_none(x) for x in node.comparators)  # family is None: whether there is one, not which
    ]
    return compares + [
        node.lineno for node in ast.walk(tree) if isinstance(node, ast.Match) and is_family(node.subject)
    ]


def _is_family_name(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return node.value in FAMILIES
    if isinstance(node, (ast.Tuple, ast.List, ast.Set)):  # family in ("loihi", ...)
        return any(_is_family_name(e) for e in node.elts)
    return False


def _offenders(paths: list[Path]) -> list[str]:
    words = ("family", *FAMILIES)  # a file without any of them has no family switch: skip parsing it
    texts = {p: p.read_text() for p in paths if not any(p.is_relative_to(plug_in) for plug_in in PLUG_INS)}
    return [
        f"{path.relative_to(ROOT)}:{line}"
        for path, text in texts.items()
        if any(w in text for w in words)
        for line in _compares_families(ast.parse(text, str(path)))
    ]


def test_only_the_plug_ins_compare_family_names():
    sources = sorted(p for d in SCANNED for p in (ROOT / d).rglob("*.py"))
    assert len(sources) > 100  # the scan reads the source tree, not an empty folder
    assert not (found := _offenders(sources)), f"a family switch outside the plug-ins: {found}"


@pytest.mark.parametrize(
    "line",
    [
        'if target.numerics.family == "xylo": pass',
        'x = n.family != "loihi"',
        "same = a.family == b.family",
        'ok = family in ("loihi", "xylo")',
        'if "xylo" == name: pass',
        "match n.family:\n    case _: pass",
    ],
)
def test_the_scan_finds_a_family_switch(line):
    assert _compares_families(ast.parse(line)) == [1]


def test_the_scan_ignores_other_comparisons():
    source = 'if backend == "xylosim" or target.name == name or op.encoding == "events": pass\n'
    assert _compares_families(ast.parse(source)) == []


def test_every_family_has_its_plug_ins_and_a_refsim_dialect():
    assert set(FAMILIES) == set(IR_FAMILIES) == set(DIALECTS)
    for name, plugin in FAMILIES.items():
        assert plugin.name == name and plugin.numerics is IR_FAMILIES[name]
        assert plugin.design_rules(), name  # each supplies its own rules (the base class has none)
        assert IR_FAMILIES[name].defaults.family == name


def test_a_family_is_looked_up_by_the_numerics_name():
    assert family_of(XYLO) is FAMILIES["xylo"] and family_of(LOIHI) is FAMILIES["loihi"]
    assert family_of(load_target("loihi2").numerics) is FAMILIES["loihi"]
    with pytest.raises(ValueError, match=r"unknown numerics family 'spinnaker' \(families: loihi, xylo\)"):
        family("spinnaker")


def test_a_target_section_lives_with_its_family():
    xylo, loihi = load_target("xylo"), load_target("loihi")
    assert type(xylo.family_part) is FAMILIES["xylo"].section_type and int(xylo.family_part.hidden_neurons) == 1000
    assert loihi.family_part is None


def test_the_weight_range_is_the_family_s():
    """Lava holds weight_bits of magnitude plus a sign; Xylo an int8 in two's complement."""
    assert (LOIHI.weight_max, XYLO.weight_max) == (255, 127)


def _int_graph(numerics: Numerics) -> Graph:
    b = GraphBuilder()
    b.add("x", IntInput(shape=(4,), bits=8))
    b.add("fc", IntDense(shape=(2,), weight=Const(np.ones((2, 4), np.int32)), weight_exp=0), ["x"])
    z = Const(np.zeros(2, dtype=np.int32))
    b.add("lif", IntLIF(shape=(2,), du=4095, dv=0, vth=100, bias_mant=z, bias_exp=z, v_init=z), ["fc"])
    b.add("out", Output(shape=(2,), readout="spike_count"), ["lif"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=3, numerics=numerics))


def test_a_graph_of_an_unknown_family_is_refused_with_a_code():
    doc, arrays = to_json(_int_graph(LOIHI))
    from_json(doc, arrays)  # the graph as written loads
    doc["meta"]["numerics"]["family"] = "spinnaker"
    with pytest.raises(InvalidGraph) as err:
        from_json(doc, arrays)
    assert err.value.diagnostics[0].code == "GRF064"
    assert "unknown family 'spinnaker' (families: loihi, xylo)" in err.value.diagnostics[0].message
    with pytest.raises(ValueError, match="unknown numerics family 'spinnaker'"):
        Numerics.from_dict({"family": "spinnaker"})
    with pytest.raises(InvalidGraph) as err:  # built in Python, not read from a file
        verify(_int_graph(replace(LOIHI, family="spinnaker")))
    assert [d.code for d in err.value.diagnostics] == ["GRF054"]


def test_an_op_of_another_family_is_refused():
    verify(_int_graph(LOIHI))
    with pytest.raises(InvalidGraph) as err:
        verify(_int_graph(XYLO))  # graded input and int_lif do not exist on Xylo
    assert {(d.code, d.node) for d in err.value.diagnostics} >= {("GRF054", "x"), ("GRF054", "lif")}


@pytest.fixture
def clone(monkeypatch):
    """A third family, registered the way snncc/families' docstring says: a plug-in, its IR entry, a dialect."""

    class LoihiClone(Loihi):
        name = "loihi_clone"

    monkeypatch.setitem(FAMILIES, LoihiClone.name, LoihiClone())
    monkeypatch.setitem(IR_FAMILIES, LoihiClone.name, replace(IR_FAMILIES["loihi"], name=LoihiClone.name))
    monkeypatch.setitem(DIALECTS, LoihiClone.name, DIALECTS["loihi"])
    return LoihiClone.name


def _canonical_graph() -> Graph:
    b = GraphBuilder()
    b.add("x", Input(shape=(4,)))
    b.add("fc", Dense(shape=(3,), weight=Const(np.array([[0.5, -0.25, 1.0, 0.0]] * 3) * [[1], [0.5], [2]])), ["x"])
    b.add("lif", LIF(shape=(3,), threshold=1.0, beta=0.9, bias=Const(np.zeros(3))), ["fc"])
    b.add("out", Output(shape=(3,), readout="spike_count"), ["lif"])
    return verify(b.build(GraphMeta(stage=Stage.CANONICAL, steps=6)))


def _deploy(target, graph, x):
    calibration = Calibration(samples=4, inputs={"x": InputStats(0.0, 1.0, 4)}, v_max_abs={"lif": 2.0})
    int_graph, _ = quantize(graph, Quantize(numerics=target.numerics), calibration)
    placement = partition(int_graph, target)
    trace = RefSim().run(int_graph, {"x": x})
    return int_graph, placement, trace


def test_a_new_family_needs_only_its_plug_in_and_table_entries(clone):
    """A copy of the Loihi family under another name quantizes, places, runs and reports as Loihi does:
    no switch on the name "loihi" is left on the way."""
    loihi2 = load_target("loihi2")
    target = replace(loihi2, numerics=replace(loihi2.numerics, family=clone))
    x = np.random.default_rng(0).integers(0, 5, size=(2, 6, 4))
    (g1, p1, t1), (g2, p2, t2) = (_deploy(t, _canonical_graph(), x) for t in (loihi2, target))
    assert g2.meta.numerics.family == clone
    assert np.array_equal(g1["fc"].weight.array, g2["fc"].weight.array) and g1["fc"].weight_exp == g2["fc"].weight_exp
    assert p1.cores == p2.cores
    assert all(np.array_equal(t1.outputs[k], t2.outputs[k]) for k in t1.outputs) and t1.outputs["out"].any()
    assert accumulator_report(g2, {}, {}, {}) == accumulator_report(g1, {}, {}, {}) is not None
    assert fidelity_report("t", g2, ("lava",), None, {}) == fidelity_report("t", g1, ("lava",), None, {})
