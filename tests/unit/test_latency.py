"""Time per step and per sample (snncc/latency.py), worked out by hand on a two-layer graph."""

from __future__ import annotations

import dataclasses

import pytest
from test_energy import graph, trace

from snncc.energy import estimate as estimate_energy
from snncc.latency import estimate
from snncc.mapping import partition
from snncc.target import Sourced, TimingModel, load_target


def timing(chip_message_ns: float) -> TimingModel:
    ns = lambda v: Sourced(v, "made up for tests")  # noqa: E731
    return TimingModel(
        synop_ns=ns(1.0),
        neuron_update_active_ns=ns(2.0),
        neuron_update_idle_ns=ns(1.0),
        hop_ns=ns(0.0),
        barrier_ns=ns(10.0),
        chip_message_ns=ns(chip_message_ns),
    )


def two_chips(chip_message_ns: float):
    """The toy chip cut to one core of 3 neurons per chip, two chips: lif0 and lif1 land on different chips."""
    toy = load_target("toy")
    return dataclasses.replace(
        toy,
        chips=Sourced(2, "test"),
        cores_per_chip=Sourced(1, "test"),
        mesh=(1, 1),
        per_core=dataclasses.replace(toy.per_core, neurons=Sourced(3, "test")),
        timing=timing(chip_message_ns),
    )


def run(target):
    g = graph([[2, 0], [4, 6], [0, 0]], [[1, 1, 0], [0, 1, 1]])
    placement = partition(g, target)
    assert {c.chip for c in placement.cores} == {0, 1}
    energy = estimate_energy(g, placement, trace([3, 5], [2, 4, 0], [1, 1], 10, 6), target)
    return estimate(g, placement, energy, target, depth=2).to_dict()


def test_chip_to_chip_traffic_bounds_the_step_and_is_flagged():
    lat = run(two_chips(chip_message_ns=100.0))
    # per step (4 steps, 2 samples): lif0's 6 spikes cross to lif1's chip, 6 / 2 / 4 = 0.75 messages x 100 ns
    assert lat["per_step_ns"]["busiest_chip_link"] == pytest.approx(75.0)
    # lif0's core: synops (3*2 + 5*1)/2/4 = 1.375 x 1 ns, active 10/2/4 = 1.25 x 2 ns, idle 3 - 1.25 = 1.75 x 1 ns
    assert lat["per_step_ns"]["busiest_core"] == pytest.approx(1.375 + 2.5 + 1.75)
    assert lat["bound"] == "chip-to-chip" and lat["chip_to_chip_bound"]
    assert lat["step_us"] == pytest.approx((75.0 + 0.0 + 10.0) / 1e3)
    assert lat["sample_us"] == pytest.approx(4 * 85.0 / 1e3)
    assert lat["sample_latency_us"] == pytest.approx((4 + 2) * 85.0 / 1e3)


def test_cheap_links_leave_the_busiest_core_as_the_bound():
    lat = run(two_chips(chip_message_ns=1.0))
    assert lat["bound"] == "cores" and not lat["chip_to_chip_bound"]
    assert lat["step_us"] == pytest.approx((5.625 + 10.0) / 1e3)
    assert lat["samples_per_s"] == pytest.approx(1e9 / (4 * 15.625))


def test_targets_without_timing_give_none_and_loihi_cites_davies():
    toy = load_target("toy")
    g = graph([[2, 0]], [[1]])
    assert estimate(g, partition(g, toy), None, toy, depth=2) is None  # type: ignore[arg-type]
    loihi = load_target("loihi").timing
    assert loihi is not None and "Davies 2018" in loihi.synop_ns.source and loihi.synop_ns.value == 3.5
    assert load_target("loihi2").timing.synop_ns.confidence == "uncertain"
