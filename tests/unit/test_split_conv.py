"""A convolution whose fan-in exceeds a core's input axons is split along its input channels (issue 15, item 7).

Oracle: the same integer graph unsplit, run by refsim (SPEC.md §int_partial_sum: equal bit for bit
for a weight exponent >= 0).  The target is tests/targets/toy_relay.yaml (256 input axons per core):
a 3x3 conv over 32 channels needs 288 axons per neuron, so it becomes two parts of 16 channels.
"""

from __future__ import annotations

import numpy as np
import pytest
from test_split_fan_in import ALL, TOY_RELAY  # pytest puts tests/unit on sys.path

from snncc.backends.refsim import RefSim
from snncc.energy import estimate, synaptic_ops
from snncc.ir import LOIHI, Const, GraphBuilder, GraphMeta, IntConv2d, IntInput, IntLIF, IntPartialSum, Output, Stage
from snncc.ir import load as load_graph
from snncc.ir import save as save_graph
from snncc.ir import verify as verify_graph
from snncc.mapping import check_design_rules, check_placement, partition
from snncc.mapping.split import fan_in_axons, split_fan_in, splits_of, why_not_split
from snncc.target import load_target


def lif(shape: tuple[int, ...], vth: int = 100) -> IntLIF:
    z = Const(np.zeros(shape, dtype=np.int32))
    return IntLIF(shape=shape, du=4095, dv=0, vth=vth, bias_mant=z, bias_exp=z, v_init=z)


def conv_net(
    *, stride: int = 1, padding: int = 1, graded: bool = False, channels: int = 32, weight_exp: int = 0, groups: int = 1
):
    """x -> [c0 -> h (``channels`` x 4 x 4 spiking)] -> c1 (3x3, ``stride``, ``padding``) -> o (4 channels).

    With ``graded`` the wide conv c1 reads the graded input x (``channels`` x 4 x 4) itself."""
    rng = np.random.default_rng(stride * 10 + padding)
    b = GraphBuilder()
    if graded:
        b.add("x", IntInput(shape=(channels, 4, 4), bits=4, encoding="graded"))
        src = "x"
    else:
        b.add("x", IntInput(shape=(3, 4, 4), bits=4, encoding="graded"))
        w0 = rng.integers(-30, 60, size=(channels, 3, 3, 3)).astype(np.int32) * 2
        b.add(
            "h",
            lif((channels, 4, 4)),
            [b.add("c0", IntConv2d(shape=(channels, 4, 4), weight=Const(w0), padding=1), ["x"])],
        )
        src = "h"
    side = (4 + 2 * padding - 3) // stride + 1
    w1 = rng.integers(-120, 127, size=(4, channels // groups, 3, 3)).astype(np.int32) * 2
    c1 = IntConv2d(
        shape=(4, side, side), weight=Const(w1), stride=stride, padding=padding, weight_exp=weight_exp, groups=groups
    )
    vth = (1600 if graded else 200) << max(weight_exp, 0)
    b.add("o", lif((4, side, side), vth), [b.add("c1", c1, [src])])
    b.add("out", Output(shape=(4, side, side), readout="spike_count"), ["o"])
    return b.build(GraphMeta(stage=Stage.INTEGER, steps=4, numerics=LOIHI))


def inputs(graph, n: int = 5, seed: int = 1) -> dict[str, np.ndarray]:
    return {"x": np.random.default_rng(seed).integers(0, 16, size=(n, *graph["x"].shape))}


def test_a_conv_too_wide_for_a_core_is_split_along_its_input_channels_into_parts_that_fit():
    graph = conv_net()
    assert fan_in_axons(graph, TOY_RELAY, "o") == 32 * 9  # 288 > 256: refused unsplit
    assert [d.code for d in check_design_rules(graph, TOY_RELAY) if d.severity == "error"] == ["MAP003"]
    split = split_fan_in(graph, TOY_RELAY)
    verify_graph(split)
    assert splits_of(split) == {"o": ["o.part1", "o.part2"]}
    parts = [split[p] for p in splits_of(split)["o"]]
    assert [(p.start, p.weight.shape, p.shape) for p in parts] == [
        (0, (4, 16, 3, 3), (4, 4, 4)),
        (16, (4, 16, 3, 3), (4, 4, 4)),
    ]
    assert [fan_in_axons(split, TOY_RELAY, p) for p in splits_of(split)["o"]] == [16 * 9, 16 * 9]
    assert fan_in_axons(split, TOY_RELAY, "o") == 2  # one synapse per part
    join = split["o.part1.join"]  # compact: C_out weights, not an identity over all 64 neurons
    assert isinstance(join, IntConv2d) and join.weight.shape == (4, 1, 1, 1) and join.groups == 4
    placement = partition(split, TOY_RELAY)
    assert check_placement(split, placement, TOY_RELAY) == []
    assert {"o.part1", "o.part2", "o"} <= {layer for core in placement.cores for layer in core.layers}
    assert split_fan_in(split, TOY_RELAY) is split  # nothing left to split


@pytest.mark.parametrize("graded", [False, True], ids=["spikes", "graded"])
@pytest.mark.parametrize(("stride", "padding"), [(1, 1), (2, 1), (1, 0)])
def test_the_split_conv_equals_the_unsplit_one_bit_for_bit(graded, stride, padding):
    graph = conv_net(stride=stride, padding=padding, graded=graded)
    split = split_fan_in(graph, TOY_RELAY)
    assert len(splits_of(split)["o"]) == 2
    x = inputs(graph)
    ref, got = RefSim().run(graph, x, record=ALL), RefSim().run(split, x, record=ALL)
    assert ref.spike_counts["o"].sum() > 0  # the layer is active, and silent somewhere
    assert (ref.spike_counts["o"] == 0).any()
    for var in ("u", "v", "spikes"):
        for layer in ref.v:
            np.testing.assert_array_equal(getattr(ref, var)[layer], getattr(got, var)[layer])
    np.testing.assert_array_equal(ref.outputs["out"], got.outputs["out"])
    total = sum(got.v[p] for p in splits_of(split)["o"])  # each part's payload, recorded as its v
    np.testing.assert_array_equal(total << 6, got.u["o"])  # du = 4095, exponent 0: u = a·2^6 each step


def test_a_split_conv_with_a_positive_exponent_is_still_exact_and_torch_runs_it_like_numpy():
    graph = conv_net(stride=2, weight_exp=2)
    split = split_fan_in(graph, TOY_RELAY)
    assert [split[p].is_conv for p in splits_of(split)["o"]] == [True, True]
    x = inputs(graph)
    ref, got = RefSim().run(graph, x, record=ALL), RefSim().run(split, x, record=ALL)
    assert ref.spike_counts["o"].sum() > 0
    np.testing.assert_array_equal(ref.u["o"], got.u["o"])
    np.testing.assert_array_equal(ref.spikes["o"], got.spikes["o"])
    on_torch = RefSim(device="cpu").run(split, x, record=ALL)
    for name in got.v:
        np.testing.assert_array_equal(got.v[name], on_torch.v[name])


def test_graded_input_with_large_weights_gets_more_parts_so_that_sums_fit_the_payload():
    b = GraphBuilder()
    b.add("x", IntInput(shape=(32, 4, 4), bits=8, encoding="graded"))
    w = np.full((2, 32, 3, 3), 254, dtype=np.int32)
    b.add("o", lif((2, 4, 4)), [b.add("c", IntConv2d(shape=(2, 4, 4), weight=Const(w), padding=1), ["x"])])
    b.add("out", Output(shape=(2, 4, 4)), ["o"])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))
    split = split_fan_in(graph, TOY_RELAY)
    parts = splits_of(split)["o"]
    # 2 parts fit the axons, but 16 channels x 9 taps x 255 x 256 > 2^23: 3 parts (11, 11, 10 channels)
    assert [split[p].width for p in parts] == [11, 11, 10]
    verify_graph(split)  # the payload bound holds for every part (else GRF055)
    x = {"x": np.full((2, 32, 4, 4), 255)}
    ref, got = RefSim().run(graph, x, record=ALL), RefSim().run(split, x, record=ALL)
    np.testing.assert_array_equal(ref.u["o"], got.u["o"])
    assert max(int(np.abs(got.v[p]).max()) for p in parts) > 1 << 22  # the bound is nearly reached


def test_why_a_conv_cannot_be_split_is_named():
    assert why_not_split(conv_net(), TOY_RELAY, "o") == ""
    grouped = conv_net(groups=2)
    assert fan_in_axons(grouped, TOY_RELAY, "o") == 16 * 9  # fits unsplit; the rule is asked anyway
    assert "groups = 2" in why_not_split(grouped, TOY_RELAY, "o")
    wide_grouped = conv_net(groups=2, channels=64)  # 32 channels per group x 9 = 288 axons
    (fan_in,) = [d for d in check_design_rules(wide_grouped, TOY_RELAY) if d.code == "MAP003"]
    assert "needs groups = 1 (this one has groups = 2" in fan_in.hint
    assert split_fan_in(wide_grouped, TOY_RELAY) is wide_grouped
    loihi = load_target("loihi")
    assert "loihi cannot split one neuron's inputs across cores" in why_not_split(conv_net(), loihi, "o")
    b = GraphBuilder()  # one input channel's 17x17 kernel alone needs 289 axons: no channel range fits
    b.add("x", IntInput(shape=(1, 17, 17), bits=4, encoding="graded"))
    w = Const(np.full((2, 1, 17, 17), 2, dtype=np.int32))
    b.add("o", lif((2, 1, 1)), [b.add("c", IntConv2d(shape=(2, 1, 1), weight=w), ["x"])])
    b.add("out", Output(shape=(2, 1, 1)), ["o"])
    huge = b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))
    assert "one input channel of its kernel alone reaches 289 input axons" in why_not_split(huge, TOY_RELAY, "o")
    assert split_fan_in(huge, TOY_RELAY) is huge


def test_conv_parts_cost_the_unsplit_synaptic_ops_and_anns_macs_and_the_join_one_op_per_payload():
    graph = conv_net(stride=2)
    split = split_fan_in(graph, TOY_RELAY)
    x = inputs(graph)
    ref, got = RefSim().run(graph, x), RefSim().run(split, x)
    ops_ref, ops_split = synaptic_ops(graph, ref), synaptic_ops(split, got)
    parts = splits_of(split)["o"]
    assert sum(ops_split[p] for p in parts) == pytest.approx(ops_ref["o"])
    assert ops_split["o"] == pytest.approx(sum(got.spike_counts[p].sum() for p in parts) / got.batch)
    energy = estimate(split, partition(split, TOY_RELAY), got, TOY_RELAY).to_dict()
    unsplit = estimate(graph, partition(graph, load_target("loihi2")), ref, load_target("loihi2")).to_dict()
    assert energy["ann_equivalent"]["macs"] == unsplit["ann_equivalent"]["macs"]


def test_a_split_conv_graph_saves_and_loads_exactly(tmp_path):
    split = split_fan_in(conv_net(stride=2, padding=1), TOY_RELAY)
    save_graph(split, tmp_path)
    loaded = load_graph(tmp_path)
    part = loaded["o.part2"]
    assert isinstance(part, IntPartialSum) and part.is_conv
    assert (part.start, part.stride, part.padding, part.dilation) == (16, (2, 2), (1, 1), (1, 1))
    np.testing.assert_array_equal(part.weight.array, split["o.part2"].weight.array)
    x = inputs(split, n=2)
    np.testing.assert_array_equal(RefSim().run(split, x).outputs["out"], RefSim().run(loaded, x).outputs["out"])


def test_a_vgg_style_520_channel_conv_is_split_and_fits_one_loihi2_chip():
    """/tmp-free form of issue 15's bigconv: 3x3 conv over 520 channels = 4680 axons per neuron > 4096.

    Its parts' small tiles give each neuron of the 520-channel layer several destination cores; the
    partitioner raises that layer's output-axon estimate once per round (raising it once per over-full
    core made it 14 destinations and 145 cores, more than the chip's 128)."""
    rng = np.random.default_rng(0)
    b = GraphBuilder()
    b.add("x", IntInput(shape=(1, 8, 8), bits=8, encoding="graded"))
    w0 = Const(rng.integers(-20, 20, size=(520, 1, 3, 3)).astype(np.int32) * 2)
    b.add("h", lif((520, 8, 8)), [b.add("c0", IntConv2d(shape=(520, 8, 8), weight=w0, padding=1), ["x"])])
    w1 = Const(rng.integers(-20, 20, size=(16, 520, 3, 3)).astype(np.int32) * 2)
    b.add("o", lif((16, 8, 8)), [b.add("c1", IntConv2d(shape=(16, 8, 8), weight=w1, padding=1), ["h"])])
    b.add("out", Output(shape=(16, 8, 8)), ["o"])
    graph = b.build(GraphMeta(stage=Stage.INTEGER, steps=2, numerics=LOIHI))
    loihi2 = load_target("loihi2")
    assert fan_in_axons(graph, loihi2, "o") == 4680
    split = split_fan_in(graph, loihi2)
    assert [(split[p].start, split[p].width) for p in splits_of(split)["o"]] == [(0, 260), (260, 260)]
    placement = partition(split, loihi2)
    assert check_placement(split, placement, loihi2) == []
    assert len(placement.cores) <= 64  # measured 48: the parts share cores with the 520-channel layer


def test_exports_and_backends_without_graded_partial_sums_refuse_a_split_conv(tmp_path):
    from snncc.backends.nengo_loihi import NengoLoihiBackend
    from snncc.errors import BackendError, OutputError
    from snncc.exporters.netx import write_netx
    from snncc.sanafe_export import refuse_unsupported

    split = split_fan_in(conv_net(), TOY_RELAY)
    with pytest.raises(OutputError) as netx:
        write_netx(split, tmp_path / "x.net")
    assert {(d.code, d.node) for d in netx.value.diagnostics} == {("OUT207", "o.part1"), ("OUT207", "o.part2")}
    with pytest.raises(BackendError, match=r"o\.part1: a partial sum of a split layer sends graded spikes"):
        refuse_unsupported(split)
    assert ("BKD040", "o.part2") in {(d.code, d.node) for d in NengoLoihiBackend().check(split)}
