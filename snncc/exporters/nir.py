"""Write a FLOAT-stage snncc graph as a NIR graph (nir 1.0.x): the inverse of importers/nir_nodes.py.

Neurons become NIR's continuous-time nodes under the same forward-Euler convention at the graph's
time step dt (``meta.dt``; DEFAULT_DT for models from discrete-time frameworks, which have none):
tau = dt/(1 - beta), tau_syn = dt/(1 - alpha), v_leak = bias/(1 - beta), and r (and w_in) such
that (dt/tau) r (dt/tau_syn) w_in = gain; beta = 1 gives IF / I with r = gain/dt.  dt, steps and
the discretization are written to the graph's metadata and dt to every neuron node's, each under
"snncc"; the Output node's holds the readout, so `snncc compile exported.nir` needs no flags.
What NIR cannot express (soft reset, fire on ">=", floor, initial potential, spike amplitude) also
rides in the neuron's "snncc" metadata: snncc reads it back, other NIR tools do not, and
``caveats`` lists it.  Batch norm is folded into the layer before it; CLIF has no NIR node.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import Diagnostic, OutputError
from snncc.importers.nir_nodes import DISCRETIZATION
from snncc.ir import (
    CLIF,
    INT_OPS,
    LIF,
    AvgPool2d,
    BatchNorm,
    Conv2d,
    Delay,
    Dense,
    Flatten,
    Graph,
    Input,
    MaxPool2d,
    Op,
    Output,
    SumPool2d,
)
from snncc.ir.lowering import LoweringTable, Refusal, refuse

DEFAULT_DT = 1e-4  # s; snntorch's and spikingjelly's NIR export default


def _to_stderr(message: str) -> None:
    print(f"snncc: warning: {message}", file=sys.stderr)


def write_nir(graph: Graph, path: Path, *, warn: Callable[[str], None] = _to_stderr) -> Path:
    """Write ``graph`` to ``path``; ``warn`` gets each caveat (what other NIR tools will not honour)."""
    import nir

    dt = graph.meta.dt or DEFAULT_DT
    ops = _fold_batchnorm(graph)
    nodes: dict[str, Any] = {}
    problems: list[Diagnostic] = []
    for name, op in ops.items():
        src = graph.predecessors(name)
        refusal = TABLE.refusal(op)
        if refusal is not None:
            problems.append(refusal.diagnostic(name))
            continue
        try:
            nodes[name] = TABLE[op](nir, op, graph[src[0]].shape if src else None, dt)
        except _Refused as exc:
            problems.append(Diagnostic("error", "OUT301", f"NIR cannot hold this layer: {exc}", node=name))
    if problems:
        raise OutputError(diagnostics=problems).located(str(path))
    edges = [(_skip_folded(graph, ops, e.src), e.dst) for e in graph.edges if e.dst in ops]
    meta = {
        "snncc": {
            "dt": np.array([dt]),
            "steps": np.array([graph.meta.steps]),
            "discretization": np.array([DISCRETIZATION.encode()]),
        }
    }
    try:
        # built in memory, then written in one go: HDF5 crashes (SIGSEGV) on a full disk, Python's write raises
        buffer = io.BytesIO()
        nir.write(buffer, nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta, type_check=False))
        Path(path).write_bytes(buffer.getvalue())
    except OSError as exc:
        raise OutputError(f"cannot write the NIR file ({exc})", code="OUT303", source=str(path)) from exc
    for caveat in caveats(graph):
        warn(f"{caveat}; other NIR tools ignore it")
    return path


def caveats(graph: Graph) -> list[str]:
    """What other NIR tools will not see in the export (it rides in 'snncc' metadata)."""
    out = []
    for name, op in graph:
        if TABLE.lookup(op) is not _neuron:
            continue
        extra = _extra(op)
        said = {
            "fire": f"spikes on v >= {op.threshold:g} (NIR: v > threshold)",
            "reset": "soft reset v -= threshold (NIR: v = v_reset)",
            "v_floor": f"a floor v >= {op.v_floor}",
            "v_init": "an initial potential",
            "amplitude": f"spike amplitude {op.amplitude:g}",
        }
        found = [text for key, text in said.items() if key in extra]
        if found:
            out.append(f"layer '{name}': {', '.join(found)} (kept in its 'snncc' metadata)")
    return out


class _Refused(Exception):
    pass


def _input(nir: Any, op: Input, src: tuple[int, ...] | None, dt: float) -> Any:
    return nir.Input(input_type={"input": np.array(op.shape)})


def _output(nir: Any, op: Output, src: tuple[int, ...] | None, dt: float) -> Any:
    meta = {"snncc": {"readout": np.array([op.readout.encode()]), "scale": np.array([op.scale])}}
    return nir.Output(output_type={"output": np.array(op.shape)}, metadata=meta)


def _dense(nir: Any, op: Dense, src: tuple[int, ...] | None, dt: float) -> Any:
    w = op.weight.array.astype(np.float64)
    return nir.Affine(weight=w, bias=op.bias.array.astype(np.float64)) if op.bias is not None else nir.Linear(w)


def _conv2d(nir: Any, op: Conv2d, src: tuple[int, ...] | None, dt: float) -> Any:
    w = op.weight.array.astype(np.float64)
    bias = op.bias.array.astype(np.float64) if op.bias is not None else np.zeros(w.shape[0])
    return nir.Conv2d(
        input_shape=tuple(src[1:]) if src else None,
        weight=w,
        stride=op.stride,
        padding=op.padding,
        dilation=op.dilation,
        groups=op.groups,
        bias=bias,
    )


def _pool(kind: str):
    def node(nir: Any, op: AvgPool2d | SumPool2d, src: tuple[int, ...] | None, dt: float) -> Any:
        return getattr(nir, kind)(
            kernel_size=np.array(op.kernel), stride=np.array(op.stride), padding=np.array(op.padding)
        )

    return node


def _delay(nir: Any, op: Delay, src: tuple[int, ...] | None, dt: float) -> Any:
    """y(t) = x(t − τ), τ in seconds: the steps times dt (the importer divides by it again)."""
    return nir.Delay(delay=np.broadcast_to(op.delay.array.astype(np.float64) * dt, op.shape).copy())


def _flatten(nir: Any, op: Flatten, src: tuple[int, ...] | None, dt: float) -> Any:
    return nir.Flatten(input_type={"input": np.array(src)}, start_dim=0, end_dim=-1)


def _neuron(nir: Any, op: LIF, src: tuple[int, ...] | None, dt: float) -> Any:
    def full(value: float) -> np.ndarray:  # NIR infers a neuron node's type from its parameters' shape
        return np.full(op.shape, float(value))

    bias = np.zeros(op.shape) if op.bias is None else np.broadcast_to(op.bias.array, op.shape).astype(np.float64)
    meta = {"snncc": {"dt": np.array([dt]), **_extra(op)}}  # dt: the step the time constants assume
    if not 0.0 <= op.beta <= 1.0 or not 0.0 <= op.alpha < 1.0:
        raise _Refused(f"decays beta {op.beta:g}, alpha {op.alpha:g} have no NIR time constants")
    if op.beta == 1.0:  # no leak: IF / I, which have no v_leak
        if bias.any() or op.alpha:
            raise _Refused(
                "a neuron without leak (IF) but with a bias or a synaptic current has no NIR node "
                "(NIR's IF and I have neither)"
            )
        if op.spiking:
            return nir.IF(r=full(op.gain / dt), v_threshold=full(op.threshold), v_reset=full(op.v_reset), metadata=meta)
        return nir.I(r=full(op.gain / dt), metadata=meta)
    k = 1.0 - op.beta  # dt / tau
    common = {"r": full(1.0), "v_leak": bias / k}
    if op.alpha:
        ks = 1.0 - op.alpha
        common |= {"tau_syn": full(dt / ks), "tau_mem": full(dt / k), "w_in": full(op.gain / (k * ks))}
        if op.spiking:
            return nir.CubaLIF(v_threshold=full(op.threshold), v_reset=full(op.v_reset), metadata=meta, **common)
        return nir.CubaLI(metadata=meta, **common)
    common |= {"tau": full(dt / k), "r": full(op.gain / k)}
    if op.spiking:
        return nir.LIF(v_threshold=full(op.threshold), v_reset=full(op.v_reset), metadata=meta, **common)
    return nir.LI(metadata=meta, **common)


def _extra(op: LIF) -> dict[str, Any]:
    """The lif's fields NIR has no place for, as metadata values (importers/nir_nodes.py reads them back)."""
    # one-element arrays: nir's HDF5 writer compresses every dataset, which scalars cannot be
    extra: dict[str, Any] = {}
    if op.spiking and op.fire != ">":
        extra["fire"] = np.array([op.fire.encode()])
    if op.spiking and op.reset != "zero":
        extra["reset"] = np.array([op.reset.encode()])
    if op.v_floor is not None:
        extra["v_floor"] = np.array([op.v_floor])
    if op.v_init is not None:
        extra["v_init"] = np.asarray(op.v_init.array, dtype=np.float64).reshape(-1)
        extra["v_init_shape"] = np.array(op.v_init.array.shape or (0,), dtype=np.int64)
    if op.amplitude != 1.0:
        extra["amplitude"] = np.array([op.amplitude])
    return extra


def _fold_batchnorm(graph: Graph) -> dict[str, Op]:
    """The graph's ops with every batch norm folded into the dense/conv layer feeding it."""
    import dataclasses

    from snncc.ir import Const

    ops = dict(graph.nodes)
    for name, op in graph.nodes:
        if TABLE.lookup(op) is not FOLDED:
            continue
        (src,) = graph.predecessors(name)
        prev = ops[src]
        if not prev.IS_SYNAPSE or len(graph.successors(src)) != 1:
            raise OutputError(
                f"batch norm after {type(prev).__name__}: NIR has no batch norm", code="OUT302", node=name
            )
        s = op.weight.array / np.sqrt(op.var.array + op.eps)
        shape = (-1,) + (1,) * (prev.weight.array.ndim - 1)
        bias = prev.bias.array if prev.bias is not None else 0.0
        ops[src] = dataclasses.replace(
            prev,
            weight=Const(prev.weight.array * s.reshape(shape)),
            bias=Const((bias - op.mean.array) * s + op.bias.array),
        )
        del ops[name]
    return ops


def _skip_folded(graph: Graph, ops: dict[str, Op], name: str) -> str:
    while name not in ops:  # a folded batch norm: its input takes its place
        (name,) = graph.predecessors(name)
    return name


FOLDED = "folded"  # a batch norm: folded into the dense or conv layer before it (_fold_batchnorm)

# op class -> its NIR node (nir, op, source shape, dt) -> node
TABLE: LoweringTable[Any] = LoweringTable(
    "NIR export",
    {
        Input: _input,
        Output: _output,
        Dense: _dense,
        Conv2d: _conv2d,
        AvgPool2d: _pool("AvgPool2d"),
        SumPool2d: _pool("SumPool2d"),
        Flatten: _flatten,
        Delay: _delay,
        BatchNorm: FOLDED,
        LIF: _neuron,
        CLIF: Refusal("OUT301", "NIR cannot hold this layer: NIR has no complementary LIF (CLIF)"),
        MaxPool2d: Refusal("OUT301", "NIR cannot hold this layer: no NIR node for maxpool2d"),
        **refuse(INT_OPS, Refusal("OUT301", "NIR export writes float graphs: an integer op has no NIR node")),
    },
)
