"""Synaptic delays (SPEC.md §delay, §int_delay): a NIR graph with nir.Delay imports, runs in floatsim
as written out by hand, compiles for Loihi 2 into an int_delay that refsim runs as the float model,
exports to NIR and netx and reads back; what cannot run it refuses with a code."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import h5py
import nir
import numpy as np
import pytest
from delay_nets import DELAYS, DT, by_hand, delayed_nir, if_node, slayer_dense_with_delay

from snncc.backends import Record, first_mismatch, get_backend
from snncc.backends.nengo_loihi.backend import TABLE as NENGO_LOIHI
from snncc.backends.refsim import RefSim
from snncc.backends.xylosim.backend import TABLE as XYLOSIM
from snncc.cli import main
from snncc.compile import CompileOptions, preflight
from snncc.data import Dataset
from snncc.errors import ImportFailed, InvalidGraph
from snncc.exporters.netx import write_netx
from snncc.exporters.nir import write_nir
from snncc.importers.netx import read_netx
from snncc.importers.nir import import_nir, read_nir
from snncc.ir import Const, IntDelay, IntDense, verify
from snncc.ir.ops.delay import delay_step
from snncc.mapping.connectivity import projections
from snncc.passes.quantize import quantize_inputs
from snncc.sanafe_export import TABLE as SANAFE

STEPS = 14


def test_delay_step_reads_each_element_its_own_steps_back():
    rng = np.random.default_rng(0)
    xs = rng.integers(0, 5, (STEPS, 2, 4))  # (steps, batch, elements)
    d = np.array([0, 1, 3, 7])
    op = IntDelay(shape=(4,), delay=Const(d.astype(np.int32)))
    line, ys = None, []
    for x in xs:
        y, line = delay_step(op, line, x)
        ys.append(y)
    for t, y in enumerate(ys):
        for i, di in enumerate(d):
            np.testing.assert_array_equal(y[:, i], xs[t - di, :, i] if t >= di else 0)


@pytest.fixture(scope="module")
def deployed():
    """(float graph, compiled integer graph, the data) of the delayed NIR graph, for Loihi 2."""
    x = np.random.default_rng(1).random((24, 8))
    floats = import_nir(delayed_nir(), dt=DT, steps=STEPS, readout="sum")
    d = preflight(Path("d.nir"), CompileOptions(target="loihi2"), imported=(Dataset(Path("x"), x, None), floats))
    return floats, d.int_graph, x


def test_floatsim_runs_the_nir_delay_as_written_out_by_hand(deployed):
    floats, _, x = deployed
    (ours,) = get_backend("floatsim").run(floats, {"in": x}).outputs.values()
    np.testing.assert_array_equal(ours, by_hand(x, STEPS))
    undelayed = by_hand(x, STEPS, delays=np.zeros(6, dtype=int))
    assert (ours != undelayed).any(axis=1).mean() > 0.5  # the delays change most samples' counts


def test_the_compiled_delay_is_an_int_delay_that_refsim_runs_as_the_float_model(deployed):
    _, graph, x = deployed
    assert isinstance(graph["d"], IntDelay) and graph.predecessors("fc2") == ("d",)
    np.testing.assert_array_equal(graph["d"].delay.array, DELAYS)
    ref = RefSim().run(graph, quantize_inputs(graph, {"in": x}))
    (ints,) = ref.outputs.values()
    agree = (ints == by_hand(x, STEPS)).all(axis=1).mean()
    assert agree >= 0.9, agree  # 8-bit input and weights: a rare spike may move


def test_a_synapse_behind_a_delay_reads_the_delayed_layer(deployed):
    """The graph query every pass and backend asks instead of knowing about delays."""
    _, graph, _ = deployed
    (layer,) = graph.predecessors("d")
    assert graph.source_of("fc2") == graph.carrier("d") == layer != "d"
    assert graph.carrier(layer) == layer  # a layer carries its own values


def test_refsim_on_torch_runs_the_delay_line_identically(deployed):
    _, graph, x = deployed
    xi = quantize_inputs(graph, {"in": x})
    numpy_run = RefSim().run(graph, xi, record=Record(spikes=True, v=True, u=True))
    torch_run = RefSim(device="cpu").run(graph, xi, record=Record(spikes=True, v=True, u=True))
    assert first_mismatch(numpy_run, torch_run) is None


def test_nir_export_writes_nir_delay_and_reads_back(deployed, tmp_path):
    floats, _, x = deployed
    path = write_nir(floats, tmp_path / "d.nir", warn=lambda _: None)
    node = read_nir(path).nodes["d"]
    assert isinstance(node, nir.Delay)
    np.testing.assert_allclose(node.delay, DELAYS * DT)
    again = import_nir(read_nir(path), dt=None, steps=None, readout=None)
    first = get_backend("floatsim").run(floats, {"in": x}).outputs
    second = get_backend("floatsim").run(again, {"in": x}).outputs
    np.testing.assert_array_equal(next(iter(first.values())), next(iter(second.values())))


def test_netx_export_holds_the_delay_matrix_and_reads_back_the_same_graph(tmp_path):
    x = np.random.default_rng(1).random((8, 8))
    floats = import_nir(delayed_nir(), dt=DT, steps=STEPS, readout="sum")
    options = CompileOptions.of(target="loihi2", netx_compatible=True)
    graph = preflight(Path("d.nir"), options, imported=(Dataset(Path("x"), x, None), floats)).int_graph
    path = write_netx(graph, tmp_path / "d.net")
    with h5py.File(path) as f:
        np.testing.assert_array_equal(f["layer/2/delay"][()], np.tile(DELAYS, (3, 1)))  # (out, in)
    back = read_netx(path, steps=STEPS)
    assert isinstance(back["d"], IntDelay) and back.predecessors("fc2") == ("d",)
    xi = quantize_inputs(graph, {"in": x})
    np.testing.assert_array_equal(RefSim().run(graph, xi).outputs["output"], RefSim().run(back, xi).outputs["output"])


def test_slayer_per_output_delays_import_as_one_delay_line_per_value(tmp_path):
    """netx reads a vector of n_out delays as the delay of every synapse into output j."""
    rng = np.random.default_rng(2)
    w1, w2 = rng.integers(-60, 120, (5, 4)) * 2, rng.integers(-40, 120, (3, 5)) * 2
    path = slayer_dense_with_delay(tmp_path / "s.net", w1, w2, np.array([0, 4, 4]))
    graph = read_netx(path, steps=STEPS, input_bits=1)
    parts = [n for n, op in graph.nodes if isinstance(op, IntDense) and graph.successors(n) == ("layer2",)]
    lines = {n: graph[graph.predecessors(n)[0]] for n in parts}
    assert sorted(int(op.delay.array[0]) for op in lines.values()) == [0, 4]
    total = sum(graph[n].weight.array << graph[n].weight_exp for n in parts)
    np.testing.assert_array_equal(total, w2)  # each synapse is in exactly one part


def test_memory_counts_delay_bits_and_energy_counts_the_source_spikes(deployed):
    _, graph, _ = deployed
    (p,) = projections(graph, "n2")
    assert p.source == "n1" and p.delay_bits == 4  # the largest delay, 9, takes 4 bits


@pytest.mark.parametrize(
    "table, code",
    [(NENGO_LOIHI, "BKD040"), (XYLOSIM, "BKD042"), (SANAFE, "BKD041")],
    ids=["nengo-loihi", "xylosim", "sanafe"],
)
def test_backends_without_delays_refuse_the_graph_with_a_code(deployed, table, code):
    _, graph, _ = deployed
    assert (code, "d") in [(d.code, d.node) for d in table.diagnostics(graph)]


def test_a_delay_beyond_the_target_is_refused(deployed):
    _, graph, _ = deployed
    for limit, delay in ((62, 63), (63, 64)):  # Loihi (Davies p.92) and Loihi 2 (Lava's DelayDense)
        numerics = dataclasses.replace(graph.meta.numerics, max_delay=limit)
        long = dataclasses.replace(graph["d"], delay=Const(np.array([delay], np.int32)))
        nodes = tuple((n, long if n == "d" else op) for n, op in graph.nodes)
        bad = dataclasses.replace(graph, nodes=nodes, meta=dataclasses.replace(graph.meta, numerics=numerics))
        with pytest.raises(InvalidGraph) as err:
            verify(bad)
        assert [d.code for d in err.value.diagnostics] == ["GRF053"]


def test_delays_that_are_not_whole_steps_or_that_follow_a_synapse_are_refused():
    with pytest.raises(ImportFailed) as err:
        import_nir(delayed_nir(DELAYS * DT * 1.5), dt=DT, steps=STEPS, readout="sum")
    assert err.value.diagnostics[0].code == "IMT211" and "multiples of dt" in err.value.diagnostics[0].message
    graph = delayed_nir()
    graph.edges[:] = [("in", "fc1"), ("fc1", "d"), ("d", "n1"), ("n1", "fc2"), ("fc2", "n2"), ("n2", "out")]
    graph.nodes["d"] = nir.Delay(np.zeros(6))
    floats = import_nir(graph, dt=DT, steps=STEPS, readout="sum")
    with pytest.raises(ImportFailed) as err:
        preflight(
            Path("d.nir"), CompileOptions(target="loihi2"), imported=(Dataset(Path("x"), np.ones((2, 8)), None), floats)
        )
    assert err.value.diagnostics[0].code == "IMT211"


def test_cli_compiles_a_nir_delay_for_loihi2_and_nengo_loihi_refuses_it(tmp_path, capsys):
    nir.write(str(tmp_path / "d.nir"), delayed_nir())
    x = np.random.default_rng(1).random((12, 8))
    np.savez(tmp_path / "x.npz", x=x, y=by_hand(x, STEPS).argmax(axis=1))
    out = tmp_path / "out"
    argv = ["compile", str(tmp_path / "d.nir"), "--dt", str(DT), "--steps", str(STEPS), "--readout", "sum"]
    assert main([*argv, "--data", str(tmp_path / "x.npz"), "--target", "loihi2", "--out", str(out), "-q"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["energy"]["by_event"]["synaptic_ops"]["count"] > 0
    capsys.readouterr()
    assert main(["simulate", str(out), "--backend", "nengo-loihi", "-q"]) == 2
    err = capsys.readouterr().err
    assert "BKD040" in err and "Traceback" not in err


def test_a_delay_on_a_recurrent_connection_is_refused_with_a_code():
    rng = np.random.default_rng(0)
    nodes = {
        "in": nir.Input({"input": np.array([4])}),
        "w": nir.Linear(rng.random((3, 4))),
        "lif": if_node(3),
        "d": nir.Delay(np.array([1, 2, 3]) * DT),
        "rec": nir.Linear(rng.random((3, 3))),
        "out": nir.Output({"output": np.array([3])}),
    }
    edges = [("in", "w"), ("w", "lif"), ("lif", "d"), ("d", "rec"), ("rec", "lif"), ("lif", "out")]
    floats = import_nir(nir.NIRGraph(nodes=nodes, edges=edges, type_check=False), dt=DT, steps=8, readout="sum")
    with pytest.raises(InvalidGraph) as err:
        preflight(
            Path("r.nir"), CompileOptions(target="loihi2"), imported=(Dataset(Path("x"), np.ones((2, 4)), None), floats)
        )
    assert [(d.code, d.node) for d in err.value.diagnostics] == [("GRF007", "d")]
