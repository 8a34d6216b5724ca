"""Write a deployed INTEGER graph as a lava-dl netx HDF5 network (``.net``).

The file is written so that lava-dl's ``netx.hdf5.Network`` builds exactly the integer
network on Lava's fixed-point models (format facts: snncc/netx_format.py): conv weights are
W·2^weight_exp, dense weights pass netx's rescaling and Lava's weight pipeline unchanged,
biases are bias_mant·2^bias_exp in netx's units of 2^6 v LSB.  Whatever netx cannot hold
exactly is refused, every problem at once, naming the layer: CLIF, soft reset, floors,
initial potentials, bit-plane input, branches, weight exponents or biases off netx's grid.

snncc's own names, exponents and scales ride along as ``snncc_*`` attributes (netx ignores
them) so that snncc.importers.netx reads the file back into the same graph.  A graded input
needs ``Network(..., input_message_bits=B)``; B is the input block's ``snncc_bits`` attribute.

Codes: OUT201 unsupported neuron layer, OUT202 unsupported neuron setting, OUT203 bias,
OUT204 weights, OUT205 input, OUT206 numerics, OUT207 structure (not a chain), OUT208 write.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import Diagnostic, OutputError
from snncc.ir import (
    FLOAT_OPS,
    Graph,
    IntCLIF,
    IntConv2d,
    IntDelay,
    IntDense,
    IntInput,
    IntLIF,
    IntPartialSum,
    IntXyloLIF,
    Output,
    Stage,
    verify,
)
from snncc.ir.arith import effective_weights
from snncc.ir.lowering import FED, READ, LoweringTable, Refusal, refuse
from snncc.ir.ops.delay import delays
from snncc.netx_format import (
    BIAS_EXP,
    CONV_WEIGHT_LIMIT,
    NEVER_FIRES_VTH,
    PREFIX,
    REF_DELAY,
    dense_weight_problem,
    lava_formats_differ,
)

__all__ = ["write_netx"]

EXPONENT_HINT = (
    "netx weights are integers in units of 2^6 v LSB with no exponent (dense: 8 bits); compile again with "
    "`snncc compile ... --netx-compatible`, which quantizes within what netx holds"
)


@dataclass(frozen=True)
class Block:
    """A netx block a synapse op becomes (with the neuron layer it feeds)."""

    kind: str


DENSE, CONV = Block("dense"), Block("conv")
DELAY = "delay"  # an int_delay: the delay dataset of the dense block behind it
MAX_NETX_DELAY = 62  # lava-dl netx hdf5.create_dense clamps larger delays
CUBA = "CUBA"  # netx's one neuron model: Lava's fixed-point LIF
NETX_HINT = "netx runs Lava's fixed-point LIF; compile for a Loihi target"

# op class -> what it becomes in a netx file
NETX: LoweringTable[Block | str] = LoweringTable(
    "netx export",
    {
        **refuse(
            FLOAT_OPS, Refusal("GRF010", "netx holds deployed (integer) graphs", "export the float graph with --nir")
        ),
        IntInput: FED,
        Output: READ,
        IntDense: DENSE,
        IntConv2d: CONV,
        IntLIF: CUBA,
        IntCLIF: Refusal("OUT201", "CLIF layers cannot be written: netx holds CUBA LIF neurons only"),
        IntXyloLIF: Refusal(
            "OUT206", "int_xylo_lif has no netx block (netx holds Lava's LIF behind dense or conv weights)", NETX_HINT
        ),
        IntDelay: DELAY,
        IntPartialSum: Refusal(
            "OUT207",
            "a layer's fan-in was split into partial sums (graded spikes between cores), which netx has no block for",
            "export the float graph with --nir, or compile for a target whose cores hold the layer's inputs",
        ),
    },
)


@dataclass(frozen=True)
class _Layer:
    """One netx conv or dense block: a synapse op and the neuron layer it feeds."""

    syn_name: str
    syn: IntConv2d | IntDense
    name: str
    lif: IntLIF
    weight: np.ndarray  # file units: the synapse's effective weights times 2^weight_exp
    flatten_before: bool
    delay: tuple[str, np.ndarray] | None = None  # (int_delay node, its delay per input) in front of the synapse


@dataclass(frozen=True)
class _Plan:
    input_name: str
    input_op: IntInput
    input_neuron: tuple[str, str, IntLIF] | None  # (drive synapse, neuron name, neuron) of a netx input neuron
    layers: tuple[_Layer, ...]
    output_name: str
    output: Output


def write_netx(graph: Graph, path: Path) -> Path:
    """Write ``graph`` (INTEGER stage) to ``path``; nothing is written unless every layer fits netx."""
    graph = verify(graph, Stage.INTEGER)
    plan = _plan(graph)
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        _write(graph, plan, Path(tmp))
        os.replace(tmp, path)
    except OSError as err:
        raise OutputError(f"cannot write the netx file ({err})", code="OUT208", source=str(path)) from err
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    return path


# --- what netx can hold -------------------------------------------------------------------------


def _plan(graph: Graph) -> _Plan:
    problems: list[Diagnostic] = []
    numerics = graph.meta.numerics
    assert numerics is not None  # verify() guarantees it at the integer stage
    differ = lava_formats_differ(numerics)
    if differ:
        problems.append(
            Diagnostic(
                "error",
                "OUT206",
                f"the graph's numerics differ from Lava's LIF in {', '.join(differ)}",
                hint=NETX_HINT,
            )
        )
    split = [d for d in NETX.diagnostics(graph) if d.code == "OUT207"]  # ops that break the chain of blocks
    if split:  # the chain checks below would only add confusing follow-on errors
        raise OutputError(diagnostics=split)
    inputs, outputs = graph.of_type(IntInput), graph.of_type(Output)
    if len(inputs) != 1 or len(outputs) != 1:
        raise OutputError(
            f"netx holds one input and one output; the graph has {len(inputs)} and {len(outputs)}", code="OUT207"
        )
    (input_name, input_op), (output_name, output) = inputs[0], outputs[0]
    if input_op.encoding != "graded":
        problems.append(
            Diagnostic(
                "error",
                "OUT205",
                f"{input_op.encoding} input cannot be written: netx feeds the first layer graded or binary values",
                node=input_name,
                hint="compile for a target with graded input (e.g. --target loihi2)",
            )
        )
    chain = _chain(graph, input_name, problems)
    input_neuron = _input_neuron(graph, input_name, chain)
    layers: list[_Layer] = []
    shape = input_op.shape
    for syn_name, name in chain[1 if input_neuron else 0 :]:
        syn, lif = graph[syn_name], graph[name]
        block, refused = NETX.lookup(syn), NETX.refusal(lif)
        if not isinstance(block, Block):
            problems.append(NETX.refusal(syn).diagnostic(syn_name))
            break
        weight = _file_weights(syn_name, syn, numerics, problems)
        problems += [refused.diagnostic(name)] if refused else _neuron_problems(name, lif)
        delay = _delay_of(graph, syn_name, block, problems)
        layers.append(_Layer(syn_name, syn, name, lif, weight, block is DENSE and len(shape) > 1, delay))
        shape = lif.shape
    if input_neuron:
        problems += _neuron_problems(input_neuron[1], input_neuron[2])
    last = chain[-1][1] if chain else input_name
    if graph.predecessors(output_name) != (last,):
        problems.append(
            Diagnostic(
                "error",
                "OUT207",
                "the output must read the last neuron layer (netx's network output)",
                node=output_name,
            )
        )
    if problems:
        raise OutputError(diagnostics=problems)
    return _Plan(input_name, input_op, input_neuron, tuple(layers), output_name, output)


def _chain(graph: Graph, input_name: str, problems: list[Diagnostic]) -> list[tuple[str, str]]:
    """(synapse, neuron) pairs from the input to the last layer; netx blocks form one chain."""
    chain: list[tuple[str, str]] = []
    node = input_name
    while True:
        loops = [s for s in graph.successors(node) if graph.is_recurrent(node, s)]
        if loops:
            problems.append(
                Diagnostic(
                    "error",
                    "OUT207",
                    f"the layer feeds its own spikes back to itself ({', '.join(loops)}); netx blocks are feed-forward",
                    node=node,
                    hint="run the compiled artifact with snncc (refsim or --backend lava), or export the float "
                    "graph with --nir, which keeps the recurrent connection",
                )
            )
        nexts = [s for s in graph.successors(node) if not graph[s].IS_OUTPUT and s not in loops]
        if not nexts:
            return chain
        if len(nexts) > 1:
            problems.append(
                Diagnostic(
                    "error", "OUT207", f"the layer feeds {len(nexts)} synapse ops; netx holds a chain", node=node
                )
            )
            return chain
        syn = nexts[0]
        if NETX.lookup(graph[syn]) is DELAY:  # a delay belongs to the block of the synapse behind it
            if len(graph.successors(syn)) != 1:
                problems.append(Diagnostic("error", "OUT207", "the delay feeds several synapse ops", node=syn))
                return chain
            syn = graph.successors(syn)[0]
        lif = graph.successors(syn)[0]
        if len([p for p in graph.predecessors(lif) if not graph.is_recurrent(lif, p)]) != 1:
            problems.append(
                Diagnostic("error", "OUT207", "the layer has several inputs; a netx block has one synapse", node=lif)
            )
            return chain
        chain.append((syn, lif))
        node = lif


def _delay_of(graph: Graph, syn_name: str, block: Block, problems: list[Diagnostic]) -> tuple[str, np.ndarray] | None:
    """The int_delay in front of a synapse, written as the dense block's ``delay`` (netx: 0..62)."""
    src = graph.predecessors(syn_name)[0]
    if NETX.lookup(graph[src]) is not DELAY:
        return None
    d = delays(graph[src])
    if block is not DENSE or d.max(initial=0) > MAX_NETX_DELAY:
        why = "netx ignores a conv block's delays" if block is not DENSE else f"netx clamps delays to {MAX_NETX_DELAY}"
        problems.append(Diagnostic("error", "OUT207", f"the delay cannot be written: {why}", node=src))
    return src, d


def _input_neuron(graph: Graph, input_name: str, chain: list[tuple[str, str]]) -> tuple[str, str, IntLIF] | None:
    """The netx input neuron an import made (input → weight-1 one-to-one synapse → neuron), if any."""
    if not chain or graph.meta.note("netx_input_neuron") != chain[0][1]:
        return None
    drive_name, name = chain[0]
    drive, lif = graph[drive_name], graph[name]
    if NETX.lookup(drive) is CONV:
        one_to_one = drive.weight.shape[1:] == (1, 1, 1) and drive.groups == drive.shape[0]
        one_to_one = one_to_one and drive.stride == (1, 1) and drive.padding == (0, 0)
        one_to_one = one_to_one and bool(np.all(drive.weight.array == 1))
    else:
        n = int(np.prod(graph[input_name].shape))
        one_to_one = np.array_equal(drive.weight.array, np.eye(n))
    driven_by_bias = lif.du == 4095 and not lif.bias_mant.array.any() and NETX.lookup(lif) is CUBA
    return (drive_name, name, lif) if one_to_one and drive.weight_exp == 0 and driven_by_bias else None


def _file_weights(name: str, syn: IntConv2d | IntDense, numerics: Any, problems: list[Diagnostic]) -> np.ndarray:
    """The weights netx must hold: what the synapse applies per spike, W_eff·2^weight_exp."""
    mant = effective_weights(syn.weight.array, numerics)
    e = syn.weight_exp
    if e < 0 and np.any(mant % (1 << -e)):
        problems.append(
            Diagnostic(
                "error",
                "OUT204",
                f"weight exponent {e} with weights that are not multiples of 2^{-e}: netx has no weight exponent",
                node=name,
                hint=EXPONENT_HINT,
            )
        )
        return mant
    weight = mant << e if e >= 0 else mant >> -e
    if NETX[syn] is CONV and np.abs(weight).max(initial=0) >= CONV_WEIGHT_LIMIT:
        problems.append(Diagnostic("error", "OUT204", "conv weights reach Lava's 24-bit conv output limit", node=name))
    if NETX[syn] is DENSE:
        problem = dense_weight_problem(weight)
        if problem is not None:
            problems.append(
                Diagnostic(
                    "error",
                    "OUT204",
                    f"netx cannot hold these dense weights exactly (W·2^{e}): {problem}",
                    node=name,
                    hint=EXPONENT_HINT,
                )
            )
    return weight


def _neuron_problems(name: str, lif: IntLIF) -> list[Diagnostic]:
    bad = []
    if lif.reset != "zero":
        bad.append("soft reset (netx's LIF resets to 0)")
    if lif.v_floor is not None:
        bad.append("a voltage floor")
    if lif.u_init is not None and lif.u_init.array.any():
        bad.append("an initial current (from a synapse bias into a decaying current)")
    if lif.v_init.array.any():
        bad.append("nonzero initial potentials")
    problems = [Diagnostic("error", "OUT202", f"netx cannot hold {b}", node=name) for b in bad]
    total = lif.bias_mant.array.astype(np.int64) << lif.bias_exp.array.astype(np.int64)
    off_grid = int(np.count_nonzero(total % (1 << BIAS_EXP)))
    if off_grid:
        problems.append(
            Diagnostic(
                "error",
                "OUT203",
                f"{off_grid} of {total.size} biases are not multiples of 2^{BIAS_EXP} v LSB: netx fixes bias_exp to {BIAS_EXP}",
                node=name,
                hint="netx holds biases as mantissas at exponent 6 only: compile again with `snncc compile ... "
                "--netx-compatible`, or run this artifact in Lava with `snncc simulate DIR --backend lava`",
            )
        )
    elif np.abs(total >> BIAS_EXP).max(initial=0) > (1 << 12) - 1:
        problems.append(
            Diagnostic(
                "error",
                "OUT203",
                "biases exceed Lava's 13-bit bias mantissa at exponent 6",
                node=name,
                hint="compile again with `snncc compile ... --netx-compatible`, which keeps biases within it",
            )
        )
    return problems


# --- writing ------------------------------------------------------------------------------------


def _write(graph: Graph, plan: _Plan, path: Path) -> None:
    import h5py  # only when writing netx

    with h5py.File(path, "w") as f:
        numerics = graph.meta.numerics
        assert numerics is not None
        f.attrs[PREFIX + "numerics"] = json.dumps(numerics.to_dict())
        f.attrs[PREFIX + "source"] = graph.meta.source
        f.attrs[PREFIX + "output"] = json.dumps(
            {"name": plan.output_name, "readout": plan.output.readout, "scale": plan.output.scale}
        )
        sim = f.create_group("simulation")
        sim.create_dataset("Ts", data=np.int64(1))
        sim.create_dataset("tSample", data=np.int64(graph.meta.steps))
        layers = f.create_group("layer")
        _write_input(layers.create_group("0"), graph, plan)
        index = 1
        for layer in plan.layers:
            if layer.flatten_before:
                flat = layers.create_group(str(index))
                _kind(flat, "flatten")
                flat.create_dataset("shape", data=np.array([int(np.prod(layer.syn.weight.shape[1])), 1, 1]))
                index += 1
            _write_layer(layers.create_group(str(index)), layer)
            index += 1


def _kind(group: Any, kind: str) -> None:
    group.create_dataset("type", data=np.array([kind.encode("ascii")], dtype="S10"))


def _write_input(group: Any, graph: Graph, plan: _Plan) -> None:
    op = plan.input_op
    _kind(group, "input")
    group.create_dataset("shape", data=np.array(op.shape, dtype=np.int64))
    group.attrs[PREFIX + "input"] = plan.input_name
    group.attrs[PREFIX + "bits"] = op.bits
    group.attrs[PREFIX + "signed"] = op.signed
    group.attrs[PREFIX + "input_scale"] = op.scale
    for key in ("weight", "bias"):  # the input transform netx keeps but does not apply
        noted = graph.meta.note(f"netx_input_{key}")
        if noted is not None:
            group.create_dataset(key, data=np.asarray(json.loads(noted), dtype=np.float32))
    if plan.input_neuron is not None:
        drive, name, lif = plan.input_neuron
        group.attrs[PREFIX + "name"] = name
        group.attrs[PREFIX + "synapse"] = drive
        group.attrs[PREFIX + "scale"] = lif.scale
        _write_neuron(group.create_group("neuron"), lif)


def _write_layer(group: Any, layer: _Layer) -> None:
    syn, lif = layer.syn, layer.lif
    group.attrs[PREFIX + "name"] = layer.name
    group.attrs[PREFIX + "synapse"] = layer.syn_name
    group.attrs[PREFIX + "weight_exp"] = syn.weight_exp
    group.attrs[PREFIX + "scale"] = lif.scale
    if NETX[syn] is CONV:
        _kind(group, "conv")
        c_out, c_in_g, kh, kw = syn.weight.shape
        group.create_dataset("shape", data=np.array(lif.shape, dtype=np.int64))
        group.create_dataset("inChannels", data=np.int64(c_in_g * syn.groups))
        group.create_dataset("outChannels", data=np.int64(c_out))
        group.create_dataset("kernelSize", data=np.array([kh, kw], dtype=np.int64))
        for key, value in (("stride", syn.stride), ("padding", syn.padding), ("dilation", syn.dilation)):
            group.create_dataset(key, data=np.array(value, dtype=np.int64))  # (y, x), netx's file order
        group.create_dataset("groups", data=np.int64(syn.groups))
    else:
        _kind(group, "dense")
        group.create_dataset("shape", data=np.array([lif.shape[0], 1, 1], dtype=np.int64))
        group.create_dataset("inFeatures", data=np.int64(syn.weight.shape[1]))
        group.create_dataset("outFeatures", data=np.int64(syn.weight.shape[0]))
    group.create_dataset("weight", data=layer.weight.astype(np.float32))  # integers below 2^24 are exact
    if layer.delay is not None:  # the full (out, in) matrix: netx reads a vector as per-output first
        group.attrs[PREFIX + "delay"] = layer.delay[0]
        group.create_dataset("delay", data=np.broadcast_to(layer.delay[1], layer.weight.shape).astype(np.int64))
    bias = (lif.bias_mant.array.astype(np.int64) << lif.bias_exp.array.astype(np.int64)) >> BIAS_EXP
    group.create_dataset("bias", data=_bias_layout(bias).astype(np.float32))
    if np.any(lif.bias_exp.array != BIAS_EXP):
        group.create_dataset(PREFIX + "bias_exp", data=lif.bias_exp.array.astype(np.int8))
    _write_neuron(group.create_group("neuron"), lif)


def _bias_layout(bias: np.ndarray) -> np.ndarray:
    """netx's bias layout: per channel when constant over each map, else per neuron in Lava's (x, y, c) order."""
    if bias.ndim != 3:
        return bias
    per_channel = bias[:, :1, :1]
    if np.all(bias == per_channel):
        return per_channel.reshape(-1)
    return bias.transpose(2, 1, 0)


def _write_neuron(group: Any, lif: IntLIF) -> None:
    import h5py

    group.create_dataset("type", data="CUBA", dtype=h5py.string_dtype())
    group.create_dataset("iDecay", data=np.int64(lif.du + 1))  # netx: du = iDecay − 1
    group.create_dataset("vDecay", data=np.int64(lif.dv))
    group.create_dataset("vThMant", data=np.int64(lif.vth if lif.spiking else NEVER_FIRES_VTH))
    group.create_dataset("refDelay", data=np.int64(REF_DELAY))
    group.create_dataset("wgtExp", data=np.int64(0))  # netx ignores it; the weights carry the exponent
    group.create_dataset("gradedSpike", data=False)
