"""Export a placed snncc network to SANA-FE 2.2.9 (its Loihi architecture, calibrated on silicon) and run it.

The compiled artifact is exported as it is placed: every neuron of the integer network becomes a SANA-FE
neuron on the core snncc placed it on (core i -> SANA-FE tile i // 4, core i % 4: Loihi's tiles hold 4
cores), every nonzero synapse an edge, and the input bit planes become SANA-FE input neurons (spike
trains, no soma energy) on input cores of their own, tiles after snncc's.  The neurons are SANA-FE's `leaky_integrate_fire` with the
layer's integer parameters in v LSB (weights w·2^(6+exp), threshold vth·2^6, leak (4096 − dv)/4096,
bias, hard reset to 0), so SANA-FE computes the same activity up to its float arithmetic (snncc
truncates each decay), and the spike counts of both are compared alongside the energies.

Only `du = 4095` layers (no current memory: SANA-FE's soma has no second state) and binary (bit-plane)
input are exported; anything else is refused naming the layer.  The architecture is SANA-FE's Loihi tile
on a mesh 4 tiles high, at least 8 wide (its example chip), wider for larger placements (one mesh: no
chip-to-chip links), with the input neurons on tiles of their own after snncc's cores.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

from snncc.backends.int_inputs import at_step
from snncc.errors import BackendError
from snncc.ir import FLOAT_OPS, Graph, IntCLIF, IntConv2d, IntDense, IntInput, IntLIF, IntPartialSum, IntXyloLIF, Output
from snncc.ir.depths import layer_depths
from snncc.ir.lowering import READ, LoweringTable, Refusal, refuse
from snncc.ir.ops.conv2d import conv_matrix
from snncc.mapping.connectivity import box_slices
from snncc.mapping.placement import Placement

CORES_PER_TILE = 4
INPUTS_PER_CORE = 1024  # loihi.yaml's input somas per core
EDGE_CHUNK = 500_000
NEVER = 1e30  # threshold of a non-spiking readout


@dataclass(frozen=True)
class SanafeRun:
    mode: str  # "network": SANA-FE runs the whole network; "layer by layer": each layer driven by snncc's spikes
    samples: int
    steps_per_sample: int
    energy_pj: dict[str, float]  # per sample: SANA-FE's synapse, dendrite, soma, network, total
    time_s: float  # simulated chip time per sample
    spikes: dict[str, float]  # per sample, per neuron layer
    spikes_by_step: dict[str, list[float]]  # per sample, per neuron layer and SANA-FE step
    counts: dict[str, float]  # per sample, from SANA-FE's perf trace
    wall_seconds: float


@dataclass(frozen=True)
class Checked:
    """An op SANA-FE models unless some of its settings need more: problems(op) -> [what]."""

    problems: Callable[[Any], list[str]]


@dataclass(frozen=True)
class Synapse:
    """A synapse op as a COO matrix of SANA-FE edges: matrix(op, source shape)."""

    matrix: Callable[[Any, tuple[int, ...]], Any]


def _input_problems(op: IntInput) -> list[str]:
    return ["only bit-plane (binary) input is exported to SANA-FE"] if op.encoding != "bitplane" else []


def _lif_problems(op: IntLIF) -> list[str]:
    found = []
    if op.du != 4095:
        found.append(f"du = {op.du}; SANA-FE's LIF has no current state (needs du = 4095)")
    if op.reset != "zero" or op.v_floor is not None or np.any(op.v_init.array != 0):
        found.append("only hard-reset LIF from 0 is exported to SANA-FE")
    return found


def refuse_unsupported(graph: Graph) -> None:
    problems = []
    for name, op in graph:
        entry = TABLE.lookup(op)
        refusal = TABLE.refusal(op)
        if refusal is not None:
            problems.append(f"{name}: {refusal.reason}")
        elif isinstance(entry, Checked):
            problems += [f"{name}: {what}" for what in entry.problems(op)]
    if graph.recurrent_edges():
        problems.append("recurrent synapses are not exported to SANA-FE")
    if problems:
        raise BackendError("cannot export to SANA-FE: " + "; ".join(problems), code="BKD041")


def architecture(cores: int, input_neurons: int) -> tuple[Any, int]:
    """SANA-FE's shipped Loihi architecture re-tiled: tiles of Loihi cores (LIF somas only) for snncc's ``cores``,
    then tiles of input cores (1,024 input somas each, one per input neuron: SANA-FE needs a soma unit per input
    neuron, ~14 kB each, so only these cores get them) for ``input_neurons``; 4 tiles a column.
    Returns the architecture and the index of the first input core."""
    import copy

    import sanafe
    import yaml

    data = yaml.safe_load(resources.files("sanafe.examples").joinpath("loihi.yaml").read_text())
    tile = data["architecture"]["tile"][0]
    input_cores = max(-(-input_neurons // INPUTS_PER_CORE), 1)
    input_tiles = -(-input_cores // CORES_PER_TILE)
    height = 4
    width = max(-(-(-(-cores // CORES_PER_TILE) + input_tiles) // height), 8)
    loihi_tiles = width * height - input_tiles
    lif = copy.deepcopy(tile)
    lif["name"] = f"loihi_tile[0..{loihi_tiles - 1}]"
    lif["core"][0]["soma"] = [u for u in lif["core"][0]["soma"] if not u["name"].startswith("loihi_inputs")]
    inputs = copy.deepcopy(tile)
    inputs["name"] = f"input_tile[0..{input_tiles - 1}]"
    inputs["core"][0]["soma"] = [u for u in inputs["core"][0]["soma"] if u["name"].startswith("loihi_inputs")]
    data["architecture"]["tile"] = [lif, inputs]
    data["architecture"]["attributes"]["width"] = width
    data["architecture"]["attributes"]["height"] = height
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loihi.yaml"
        path.write_text(yaml.safe_dump(data))
        return sanafe.load_arch(str(path)), loihi_tiles * CORES_PER_TILE


def run(graph: Graph, placement: Placement, inputs: dict[str, np.ndarray], samples: int) -> SanafeRun:
    """Run ``samples`` samples of the integer network on SANA-FE's Loihi model, placed as ``placement`` says."""
    import sanafe

    refuse_unsupported(graph)
    start = time.perf_counter()
    n_inputs = sum(op.bits * int(np.prod(op.shape)) for _, op in graph.of_type(IntInput))
    arch, first_input_core = architecture(placement.cores_used, n_inputs)
    cores = arch.cores()
    net = sanafe.Network()
    groups = _neuron_groups(net, graph)
    input_groups = _input_groups(net, graph)
    _connect(graph, groups, input_groups)
    _place(graph, placement, groups, cores)
    _place_inputs(list(input_groups.values()), cores, first_input_core)
    chip = sanafe.SpikingChip(arch)
    chip.load(net)
    steps = graph.meta.steps + max(d for d, _ in layer_depths(graph).values())
    totals: dict[str, float] = {}
    counts: dict[str, float] = {}
    sim_time = 0.0
    by_step = {name: np.zeros(steps) for name in groups}
    mapped = chip.mapped_neuron_groups
    for k in range(samples):
        chip.reset()
        for (name, bit), group in input_groups.items():
            trains = _bit_trains(graph[name], inputs[name][k : k + 1], bit, graph.meta.steps, steps)
            for neuron, train in zip(mapped[group.get_name()], trains, strict=True):
                neuron.set_attributes(model_attributes={"spikes": train.tolist()})
        result = chip.sim(steps, perf_trace=True, spike_trace=True)
        for t, fired in enumerate(result["spike_trace"]):
            for address in fired:
                if address.group_name in by_step:
                    by_step[address.group_name][t] += 1
        sim_time += _add_run(result, totals, counts)
    return _per_sample("network", samples, steps, totals, sim_time, by_step, counts, start)


def _add_run(result: dict[str, Any], totals: dict[str, float], counts: dict[str, float]) -> float:
    """Add one SANA-FE run's energy (J) and event counts; its simulated time (s)."""
    for key, value in result["energy"].items():
        totals[key] = totals.get(key, 0.0) + float(value)
    for key, series in result.get("perf_trace", {}).items():
        if isinstance(series, list) and series and isinstance(series[0], (int, float)):
            counts[key] = counts.get(key, 0.0) + float(sum(series))
    return float(result["sim_time"])


def _per_sample(
    mode: str,
    samples: int,
    steps: int,
    totals: dict[str, float],
    sim_time: float,
    by_step: dict[str, np.ndarray],
    counts: dict[str, float],
    start: float,
) -> SanafeRun:
    return SanafeRun(
        mode=mode,
        samples=samples,
        steps_per_sample=steps,
        energy_pj={key: value * 1e12 / samples for key, value in totals.items()},
        time_s=sim_time / samples,
        spikes={name: float(s.sum()) / samples for name, s in by_step.items()},
        spikes_by_step={name: (s / samples).tolist() for name, s in by_step.items()},
        counts={key: value / samples for key, value in counts.items()},
        wall_seconds=time.perf_counter() - start,
    )


def run_layerwise(graph: Graph, placement: Placement, inputs: dict[str, np.ndarray], samples: int) -> SanafeRun:
    """Layer by layer, for networks too large for SANA-FE's memory (about 0.6 GB per million synapses): each
    neuron layer runs with its own synapses, driven by its sources' spikes as snncc's reference simulator
    computed them, replayed by input neurons on the input cores (no soma energy; their messages are charged,
    their mesh hops are those from the input tiles).  The energies of the layers add up: SANA-FE charges a spike's message only where the
    neuron has synapses, i.e. when it is replayed into the next layer, not when it is produced."""
    import sanafe

    from snncc.backends import Record
    from snncc.backends.refsim import RefSim

    refuse_unsupported(graph)
    start = time.perf_counter()
    x = {name: v[:samples] for name, v in inputs.items()}
    spikes = RefSim().run(graph, x, record=Record(spikes=True)).spikes
    n_inputs = sum(op.bits * int(np.prod(op.shape)) for _, op in graph.of_type(IntInput))
    widest = max(
        sum(
            int(np.prod(graph[graph.predecessors(syn)[0]].shape))
            * getattr(graph[graph.predecessors(syn)[0]], "bits", 1)
            for syn in graph.predecessors(layer)
        )
        for layer, _ in graph.of_type(IntLIF)
    )
    arch, first_input_core = architecture(placement.cores_used, max(n_inputs, widest))
    cores = arch.cores()
    steps = graph.meta.steps + 1
    totals: dict[str, float] = {}
    counts: dict[str, float] = {}
    by_step: dict[str, np.ndarray] = {}
    sim_time = 0.0
    for layer, _ in graph.of_type(IntLIF):
        net = sanafe.Network()
        groups = _neuron_groups(net, graph, only={layer})
        sources = {graph.predecessors(syn)[0] for syn in graph.predecessors(layer)}
        input_groups = {
            (name, b): net.create_neuron_group(f"{name}.bit{b}", int(np.prod(op.shape)))
            for name, op in graph.of_type(IntInput)
            if name in sources
            for b in range(op.bits)
        }
        replays = {
            src: net.create_neuron_group(f"{src}.replay", int(np.prod(graph[src].shape)))
            for src in sources
            if graph[src].IS_NEURON
        }
        _connect(graph, {**groups, **replays}, input_groups, into={layer})
        _place(graph, placement, groups, cores)
        _place_inputs([*input_groups.values(), *replays.values()], cores, first_input_core)
        chip = sanafe.SpikingChip(arch)
        chip.load(net)
        mapped = chip.mapped_neuron_groups
        by_step[layer] = np.zeros(steps)
        for k in range(samples):
            chip.reset()
            for (name, bit), group in input_groups.items():
                trains = _bit_trains(graph[name], x[name][k : k + 1], bit, graph.meta.steps, steps)
                for neuron, train in zip(mapped[group.get_name()], trains, strict=True):
                    neuron.set_attributes(model_attributes={"spikes": train.tolist()})
            for src, group in replays.items():
                trains = np.zeros((len(group.neurons), steps), dtype=bool)
                trains[:, : graph.meta.steps] = spikes[src][k].reshape(graph.meta.steps, -1).T.astype(bool)
                for neuron, train in zip(mapped[group.get_name()], trains, strict=True):
                    neuron.set_attributes(model_attributes={"spikes": train.tolist()})
            result = chip.sim(steps, perf_trace=True, spike_trace=True)
            for t, fired in enumerate(result["spike_trace"]):
                by_step[layer][t] += sum(1 for a in fired if a.group_name == layer)
            sim_time += _add_run(result, totals, counts)
            # replay neurons are not neurons of the network: their firing is its layers' spikes, counted there
            replayed = sum(float(spikes[src][k].sum()) for src in replays)
            counts["fired"] = counts.get("fired", 0.0) - replayed
            counts["updated"] = counts.get("updated", 0.0) - replayed
            counts["messages"] = counts.get("messages", 0.0) + replayed
        del chip, mapped, net, groups, replays, input_groups  # free this layer's synapses before the next
    return _per_sample("layer by layer", samples, steps, totals, sim_time, by_step, counts, start)


def _neuron_groups(net, graph: Graph, only: set[str] | None = None) -> dict[str, Any]:
    groups = {}
    for name, op in graph.of_type(IntLIF):
        if only is not None and name not in only:
            continue
        n = int(np.prod(op.shape))
        groups[name] = net.create_neuron_group(
            name,
            n,
            model_attributes={
                "threshold": float(op.vth << 6) if op.spiking else NEVER,
                "leak_decay": (4096 - op.dv) / 4096,
                "reset": 0.0,
                "reset_mode": "hard",
                "input_decay": 0.0,
            },
            soma_hw_name="loihi_lif",
            default_synapse_hw_name="loihi_dense_synapse",
            log_spikes=True,
        )
        bias = (op.bias_mant.array.astype(np.int64) << op.bias_exp.array).reshape(-1)
        if bias.any():
            for neuron, b in zip(groups[name].neurons, bias, strict=True):
                neuron.set_attributes(model_attributes={"bias": float(b)})
    return groups


def _input_groups(net, graph: Graph) -> dict[tuple[str, int], Any]:
    groups = {}
    for name, op in graph.of_type(IntInput):
        for b in range(op.bits):
            groups[(name, b)] = net.create_neuron_group(f"{name}.bit{b}", int(np.prod(op.shape)))
    return groups


def _connect(graph: Graph, groups: dict, input_groups: dict, into: set[str] | None = None) -> None:
    """One SANA-FE edge per nonzero synapse, weight in v LSB (w·2^(6 + exp), + b for bit plane b);
    ``into``: only the synapses into these layers (their sources may be replay groups in ``groups``)."""
    for syn_name, op in graph.of_type(IntDense, IntConv2d):
        (src,) = graph.predecessors(syn_name)
        (dst,) = graph.successors(syn_name)
        if into is not None and dst not in into:
            continue
        matrix = TABLE[op].matrix(op, graph[src].shape)
        if graph[src].IS_INPUT:
            sources = [(input_groups[(src, b)], b) for b in range(graph[src].bits)]
        else:
            sources = [(groups[src], 0)]
        for group, b in sources:
            scale = 2.0 ** (6 + op.weight_exp + b)
            for lo in range(0, matrix.nnz, EDGE_CHUNK):  # in chunks: Python lists of pairs cost ~100 B an edge
                hi = min(lo + EDGE_CHUNK, matrix.nnz)
                pairs = list(
                    zip(matrix.col[lo:hi].tolist(), matrix.row[lo:hi].tolist(), strict=False)
                )  # (source, destination)
                group.connect_neurons_sparse(groups[dst], {"weight": (matrix.data[lo:hi] * scale).tolist()}, pairs)


def _coo(w: np.ndarray):
    import scipy.sparse as sp

    return sp.coo_matrix(w)


def _place(graph: Graph, placement: Placement, groups: dict, cores: list) -> None:
    """Every neuron of the layers in ``groups`` on the core snncc placed it on."""
    for core in placement.cores:
        for piece in core.pieces:
            if piece.layer not in groups:
                continue
            layer = graph[piece.layer]
            flat = np.arange(int(np.prod(layer.shape))).reshape(layer.shape)
            neurons = groups[piece.layer].neurons
            for i in flat[box_slices(piece.box)].reshape(-1).tolist():
                neurons[i].map_to_core(cores[core.index])


def _place_inputs(groups: list, cores: list, first_input_core: int) -> None:
    """Input (and replay) neurons on the input cores, one input soma each."""
    slot = 0
    for group in groups:
        for neuron in group.neurons:
            neuron.set_attributes(
                soma_hw_name=f"loihi_inputs[{slot % INPUTS_PER_CORE}]", model_attributes={"spikes": [False]}
            )
            neuron.map_to_core(cores[first_input_core + slot // INPUTS_PER_CORE])
            slot += 1


def _bit_trains(op: IntInput, x: np.ndarray, bit: int, steps: int, total: int) -> np.ndarray:
    """(neurons, total) bool: bit ``bit`` of the input at each of the sample's steps, then silence."""
    n = int(np.prod(op.shape))
    trains = np.zeros((n, total), dtype=bool)
    for t in range(steps):
        trains[:, t] = ((at_step(op, x, t)[0].reshape(-1) >> bit) & 1).astype(bool)
    return trains


NOT_MODELLED = "BKD041"

# op class -> how it becomes SANA-FE neuron groups and edges (or why SANA-FE cannot hold it)
TABLE: LoweringTable[Checked | Synapse | str] = LoweringTable(
    "SANA-FE export",
    {
        **refuse(FLOAT_OPS, Refusal(NOT_MODELLED, "SANA-FE export takes deployed (integer) graphs only")),
        IntInput: Checked(_input_problems),
        Output: READ,
        IntDense: Synapse(lambda op, shape: _coo(op.weight.array)),
        IntConv2d: Synapse(lambda op, shape: conv_matrix(op, shape).tocoo()),
        IntLIF: Checked(_lif_problems),
        IntCLIF: Refusal(NOT_MODELLED, "CLIF is not exported to SANA-FE (its LIF resets hard, to 0)"),
        IntPartialSum: Refusal(
            NOT_MODELLED, "a partial sum of a split layer sends graded spikes, which SANA-FE does not model"
        ),
        IntXyloLIF: Refusal(NOT_MODELLED, "SANA-FE's architecture models Loihi's LIF, not Xylo's"),
    },
    default=Refusal(NOT_MODELLED, "snncc does not write this op to SANA-FE (e.g. int_delay: synaptic delays)"),
)
