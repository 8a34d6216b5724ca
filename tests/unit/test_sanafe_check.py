"""SANA-FE 2.2.9 cross-check: the exported network computes snncc's activity where SANA-FE's float LIF is exact,
and `snncc compile --energy-check sanafe` puts both energies and times per step in the report."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from snncc.backends import get_backend
from snncc.energy import estimate
from snncc.errors import BackendError
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntDense, IntInput, IntLIF, Output, Stage
from snncc.mapping import partition
from snncc.target import load_target

pytest.importorskip("sanafe")
from snncc import sanafe_check, sanafe_export

REPO = Path(__file__).resolve().parents[2]


def integrate_and_fire(n, vth, bias=0, du=4095):
    z = Const(np.zeros(n, dtype=np.int32))
    return IntLIF(
        shape=(n,), du=du, dv=0, vth=vth, bias_mant=Const(np.full(n, bias, dtype=np.int32)), bias_exp=z, v_init=z
    )


def two_layers(du=4095):
    """No leak (dv = 0): SANA-FE's float v holds the same integers as snncc's, so the spikes must agree."""
    rng = np.random.default_rng(3)
    w0 = rng.integers(0, 120, (12, 6))
    w1 = rng.integers(-40, 90, (5, 12)) // 2 * 2
    b = GraphBuilder()
    b.add("x", IntInput(shape=(6,), bits=3, encoding="bitplane"))
    b.add("fc0", IntDense(shape=(12,), weight=Const(w0.astype(np.int32)), weight_exp=0), ["x"])
    b.add("lif0", integrate_and_fire(12, vth=300, bias=5, du=du), ["fc0"])
    b.add("fc1", IntDense(shape=(5,), weight=Const(w1.astype(np.int32)), weight_exp=1), ["lif0"])
    b.add("lif1", integrate_and_fire(5, vth=200), ["fc1"])
    b.add("out", Output(shape=(5,)), ["lif1"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=6, numerics=LOIHI))


def test_exported_network_spikes_as_snncc_and_counts_its_synaptic_ops():
    graph = two_layers()
    target = load_target("loihi")
    placement = partition(graph, target)
    x = np.random.default_rng(0).integers(0, 8, (3, 6, 6))
    trace = get_backend("refsim").run(graph, {"x": x})
    ran = sanafe_export.run(graph, placement, {"x": x}, samples=3)
    for layer in ("lif0", "lif1"):
        assert ran.spikes[layer] == pytest.approx(trace.spike_counts[layer].sum() / 3)
    assert trace.spike_counts["lif1"].sum() > 0
    # SANA-FE's synapse events are snncc's synaptic ops (spikes and set input bits x nonzero fan-out)
    synops = estimate(graph, placement, trace, target).to_dict()["synops"]
    assert ran.counts["spikes"] == pytest.approx(synops)
    assert ran.energy_pj["synapse"] == pytest.approx(synops * sanafe_check.sanafe_coefficients()["synop_pj"])


def test_layer_by_layer_replays_snncc_spikes_and_charges_their_messages_once():
    graph = two_layers()
    target = load_target("loihi")
    placement = partition(graph, target)
    x = np.random.default_rng(1).integers(0, 8, (2, 6, 6))
    trace = get_backend("refsim").run(graph, {"x": x})
    whole = sanafe_export.run(graph, placement, {"x": x}, samples=2)
    layers = sanafe_export.run_layerwise(graph, placement, {"x": x}, samples=2)
    assert layers.mode == "layer by layer" and whole.mode == "network"
    for layer in ("lif0", "lif1"):  # exact LIF arithmetic here, so replaying snncc's spikes changes nothing
        assert layers.spikes[layer] == pytest.approx(trace.spike_counts[layer].sum() / 2)
    # the same synaptic events; soma differs (each layer runs T + 1 steps, the whole network T + depth) and the
    # replayed spikes travel from the input tiles (more mesh hops than from lif0's own core)
    assert layers.energy_pj["synapse"] == pytest.approx(whole.energy_pj["synapse"])
    assert layers.counts["spikes"] == pytest.approx(whole.counts["spikes"])
    assert layers.energy_pj["network"] > whole.energy_pj["network"]
    assert layers.counts["messages"] == pytest.approx(trace.spike_counts["lif0"].sum() / 2)


def test_a_layer_with_current_memory_is_refused_by_name():
    with pytest.raises(BackendError) as err:
        sanafe_export.refuse_unsupported(two_layers(du=100))
    assert err.value.code == "BKD041" and "lif0: du = 100" in err.value.render()


@pytest.mark.slow
def test_compile_energy_check_puts_sanafe_beside_snncc(tmp_path):
    from snncc.cli import main

    out = tmp_path / "digits"
    code = main(
        [
            "compile",
            str(REPO / "examples" / "digits" / "model.pt"),
            "--target",
            "loihi",
            "--samples",
            "40",
            "--out",
            str(out),
            "--energy-check",
            "sanafe",
            "--energy-check-samples",
            "4",
            "-q",
        ]
    )
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    check = report["sanafe"]
    assert check["samples"] == 4 and {r["event"] for r in check["events"]} >= {"synaptic op"}
    assert check["total_pj"]["sanafe"] > check["total_pj"]["snncc"] > 0
    assert check["time_per_step_us"]["sanafe"] > 0 and report["latency"]["step_us"] > 0
    assert "## Energy cross-check: SANA-FE" in (out / "report.md").read_text()


@pytest.mark.slow
def test_energy_check_of_a_network_sanafe_cannot_hold_fails_cleanly(tmp_path, capsys):
    """Loihi 2's graded input has no SANA-FE form: exit 2, the reason named, nothing written."""
    from snncc.cli import main

    out = tmp_path / "digits2"
    code = main(
        [
            "compile",
            str(REPO / "examples" / "digits" / "model.pt"),
            "--target",
            "loihi2",
            "--samples",
            "8",
            "--out",
            str(out),
            "--energy-check",
            "sanafe",
            "-q",
        ]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "BKD041" in err and "input: only bit-plane (binary) input" in err and "Traceback" not in err
    assert not out.exists()
