"""Import a NIR graph (nir 1.0.x, tested with 1.0.8) into a FLOAT-stage snncc graph.

NIR carries no time step: the user gives it (``--dt``, seconds) together with the steps per
sample and the readout, and the neurons are discretized by forward Euler (nir_nodes.py); the
graph's meta records dt and the rule.  A file written by snncc's own exporter records dt, steps
and readout in its metadata, which then serve as defaults.  Files whose exporter departs from
NIR's equations (norse 1.1.0) are read in that exporter's meaning (``exporter``, --nir-from;
nir_conventions.py).  Node names are NIR's.

Structure: one Input, one Output; a neuron layer may feed its own spikes back to itself through
synapse nodes (NIR's recurrent ``lif -> w_rec -> lif``, as snntorch's RLeaky/RSynaptic export and
the NIR paper's braille RNN have it: the spikes of the previous step, SPEC.md §1.1); a node with
several inputs sums them, which the IR does in neuron layers only.  Branches may meet over paths
through different numbers of neuron layers (skip connections): compilation delays the shorter ones
with relay layers (passes/align_depths.py, SPEC.md §1.1), except a branch straight from the Input,
which it refuses.  Every unsupported node is reported at once.  Codes: LOD003 no file, LOD210
unreadable file, IMT005 dt/steps/readout, IMT210 unsupported node, IMT211 unsupported setting,
IMT212 graph structure; warning IMT213: IF neurons with r = 1 at dt != 1 (how per-step tools
write v += x).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from snncc.data import Dataset, load_dataset, verification_data
from snncc.errors import DataError, Diagnostic, ImportFailed, InvalidGraph, ModelLoadError, SnnccError
from snncc.ir import Graph, GraphBuilder, GraphMeta, Input, Op, Output, Shape, Stage, verify
from snncc.ir.graph import recurrent_edges_of

from .hdf5_guard import check_hdf5
from .nir_conventions import EXPORTERS, NOTES, as_nir, per_step_if_warning
from .nir_nodes import DISCRETIZATION, Unsupported, convert, ir_input_shape, snncc_metadata
from .readout import READOUTS, add_readout

SUPPORTED_NIR = "1.0.x (tested with nir 1.0.8)"
# node kinds for the recurrence rule (SPEC.md §1): a cycle passes one neuron layer and a synapse op
NEURON_NODES = frozenset({"LIF", "CubaLIF", "IF", "LI", "CubaLI", "I", "Threshold"})
SYNAPSE_NODES = frozenset({"Affine", "Linear", "Scale", "Conv1d", "Conv2d"})


def read_nir(path: Path) -> Any:
    """The NIRGraph in ``path``; a clear error for files this version of nir cannot read."""
    import nir

    if not path.is_file():
        raise ModelLoadError("model file not found", code="LOD003", source=str(path))
    try:
        check_hdf5(path)  # nothing outside the file, nothing larger than the limits, before nir reads it
        return nir.read(str(path))
    except SnnccError:
        raise
    except Exception as exc:  # h5py and nir raise many kinds; all mean "not a NIR file nir reads"
        raise ModelLoadError(
            f"cannot read the file as a NIR graph{_written_by(path)} with nir {nir.__version__}"
            f" ({type(exc).__name__}: {exc})",
            code="LOD210",
            source=str(path),
            hint=f"snncc reads NIR {SUPPORTED_NIR}; re-export the model with that version of nir",
        ) from exc


def _written_by(path: Path) -> str:
    """' written by nir X' from the file's version field, where it has one."""
    from nir.serialization import read_version

    try:
        return f" written by nir {read_version(str(path))}"
    except Exception:  # no HDF5 file or no version field: say nothing
        return ""


def import_nir_file(
    path: Path,
    *,
    dt: float | None = None,
    steps: int | None = None,
    readout: str | None = None,
    exporter: str | None = None,
    data: Path | None = None,
    warn: Callable[[Diagnostic], None] | None = None,
) -> tuple[Dataset, Graph]:
    """`snncc compile model.nir`: the graph (``dt``, ``steps``, ``readout``, ``exporter``: see
    import_nir) and the data it is verified on (snncc.data.verification_data: ``data``, else the
    bundled digits when the graph takes (1, 8, 8) or (64,) samples).  ``warn`` gets the import's
    warnings."""
    file = read_nir(path)
    graph = import_nir(
        file, dt=dt, steps=steps, readout=readout, source=f"nir:{path}", exporter=exporter or "nir", warn=warn
    )
    shape = graph.of_type(Input)[0][1].shape
    file_shape = _input_shape(_the_input(file), "input")
    classes = int(np.prod(graph.of_type(Output)[0][1].shape))
    try:
        given = verification_data(data, input_shape=file_shape, steps=graph.meta.steps, classes=classes)
    except DataError as err:  # flat rows of a model whose forward reshaped them (snncc finetune writes such models)
        given = _rows_reshaped(data, file_shape, err)
    if file_shape != shape:  # a Conv1d graph's (C, L) samples, held as (C, 1, L); also one per step
        lead = given.x.shape[: given.x.ndim - len(file_shape)]
        given = Dataset(given.path, given.x.reshape(*lead, *shape), given.y)
    return given, graph


def _rows_reshaped(data: Path | None, shape: tuple[int, ...], err: DataError) -> Dataset:
    """``data``'s samples in ``shape`` where they hold as many values per sample, else ``err``."""
    if data is None:
        raise err
    rows = load_dataset(data)
    if rows.x.ndim < 2 or int(np.prod(rows.x.shape[1:])) != int(np.prod(shape)):
        raise err
    return Dataset(rows.path, rows.x.reshape(len(rows.x), *shape), rows.y)


def _the_input(graph: Any) -> Any:
    return next(node for node in graph.nodes.values() if type(node).__name__ == "Input")


def import_nir(
    graph: Any,
    *,
    dt: float | None,
    steps: int | None,
    readout: str | None,
    input_shape: tuple[int, ...] | None = None,
    source: str = "nir",
    exporter: str = "nir",
    warn: Callable[[Diagnostic], None] | None = None,
) -> Graph:
    """A FLOAT graph computing what the NIR ``graph`` computes, discretized with time step ``dt`` (s).

    dt, steps and the readout default to what snncc's exporter stored in the file's metadata.
    ``input_shape``: the sample shape the caller has data for (InvalidGraph GRF004 if it differs).
    ``exporter``: the tool that wrote the file where it departs from NIR's equations (nir_conventions.py).
    ``warn`` gets warnings (IF neurons that look written for per-step integration).
    """
    saved = snncc_metadata(graph)
    nodes: dict[str, Any] = dict(graph.nodes)
    kinds = {name: type(node).__name__ for name, node in nodes.items()}
    inputs = [n for n in nodes if kinds[n] == "Input"]
    outputs = [n for n in nodes if kinds[n] == "Output"]
    saved_readout = snncc_metadata(nodes[outputs[0]]) if len(outputs) == 1 else {}
    dt = saved.get("dt") if dt is None else dt
    steps = saved.get("steps") if steps is None else steps
    readout = readout or ("saved" if "readout" in saved_readout else None)
    _check_run_settings(dt, steps, readout)
    if exporter not in EXPORTERS:
        raise ImportFailed(f"--nir-from must be one of {', '.join(EXPORTERS)}, got {exporter!r}", code="IMT005")
    nodes = {name: as_nir(node, float(dt), exporter) for name, node in nodes.items()}
    if warn is not None and "dt" not in saved and exporter == "nir":
        found = per_step_if_warning(nodes, float(dt))
        if found:
            warn(found)
    order, feedback = _order(nodes, graph.edges)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ImportFailed(
            f"snncc imports graphs with one Input and one Output node; this one has {len(inputs)} and {len(outputs)}",
            code="IMT212",
            hint="split the graph into single-input, single-output graphs",
        )
    # preds: the edges the order follows; feedback: a recurrent layer's spikes coming back to it
    preds = {n: [a for a, b in graph.edges if b == n and a not in feedback.get(n, ())] for n in nodes}
    shape = _input_shape(nodes[inputs[0]], inputs[0])
    if input_shape is not None and tuple(input_shape) != shape:
        raise InvalidGraph(
            f"the NIR graph's input takes samples of shape {shape}, not {tuple(input_shape)}",
            code="GRF004",
            node=inputs[0],
        )
    shape = ir_input_shape(shape, kinds.values())
    _check_connected(order, graph.edges, inputs[0], outputs[0])

    builder = GraphBuilder()
    builder.add(inputs[0], Input(shape=shape))
    ops: dict[str, Op | None] = {inputs[0]: Input(shape=shape)}  # None: not converted (reported)
    shapes: dict[str, Shape | None] = {inputs[0]: shape}  # None: unknown after an earlier problem
    problems: list[Diagnostic] = []
    for name in order:
        if name in (inputs[0], outputs[0]):
            continue
        src_shapes = [shapes[p] for p in preds[name]]
        known = None if any(s is None for s in src_shapes) else src_shapes
        ops[name], shapes[name] = None, None
        try:
            op = convert(name, nodes[name], known[0] if known else None, float(dt))
        except Unsupported as exc:
            problems.append(exc.diagnostic)
            continue
        if len(src_shapes) > 1 and not op.IS_NEURON:
            problems.append(
                Diagnostic(
                    "error",
                    "IMT212",
                    f"{kinds[name]} node sums {len(src_shapes)} inputs; snncc's IR sums inputs only into neuron layers",
                    node=name,
                    hint="sum the branches in a neuron node, or merge the synapses into one",
                )
            )
            continue
        ops[name] = op
        if known:
            ops[name] = _shaped(op, known, name)
            shapes[name] = ops[name].shape
            builder.add(name, ops[name], [*preds[name], *feedback.get(name, ())])
    if problems:
        raise ImportFailed(diagnostics=problems)
    _add_output(builder, nodes, preds, ops, outputs[0], readout, steps, saved_readout)
    meta = GraphMeta(
        stage=Stage.FLOAT,
        steps=int(steps),
        dt=float(dt),
        discretization="euler",
        source=source,
        notes=(("discretization", DISCRETIZATION), ("importer", "nir"))
        + ((("nir_from", NOTES[exporter]),) if exporter in NOTES else ()),
    )
    return verify(builder.build(meta))


def _check_run_settings(dt: Any, steps: Any, readout: str | None) -> None:
    missing = []
    if dt is None:
        missing.append("--dt SECONDS (NIR's neurons are continuous-time; snncc steps them by forward Euler)")
    if steps is None:
        missing.append("--steps N")
    if readout is None:
        missing.append(f"--readout ({', '.join(r for r in READOUTS if r != 'steps')})")
    if missing:
        raise ImportFailed(
            "a NIR graph does not say how it is run", code="IMT005", hint="pass " + " and ".join(missing)
        )
    if isinstance(dt, bool) or not isinstance(dt, (int, float)) or not np.isfinite(dt) or dt <= 0:
        raise ImportFailed(f"--dt must be a positive time in seconds, got {dt!r}", code="IMT005")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ImportFailed(f"--steps must be a positive integer, got {steps!r}", code="IMT005")
    if readout not in (*READOUTS, "saved"):
        raise ImportFailed(f"--readout must be one of {', '.join(READOUTS)}, got {readout!r}", code="IMT005")


def _order(nodes: dict[str, Any], edges: list[tuple[str, str]]) -> tuple[list[str], dict[str, list[str]]]:
    """Nodes in topological order (ties: the file's order) and, per recurrent layer, the nodes that
    feed its spikes back to it; the order ignores those edges, so a layer comes before its recurrent
    synapse.  Recurrence the IR cannot run (SPEC.md §1) is an error naming its nodes."""
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    unknown = sorted({n for e in edges for n in e} - set(nodes))
    if unknown:
        raise ImportFailed(f"edges name nodes the graph does not have: {unknown}", code="IMT212")
    g.add_edges_from(edges)
    kinds = {n: type(node).__name__ for n, node in nodes.items()}
    try:
        back = recurrent_edges_of(
            g, {n for n, k in kinds.items() if k in NEURON_NODES}, {n for n, k in kinds.items() if k in SYNAPSE_NODES}
        )
    except InvalidGraph as err:
        d = err.diagnostics[0]
        raise ImportFailed(d.message, code="IMT212", node=d.node, hint=d.hint) from err
    feedback: dict[str, list[str]] = {}
    for layer in dict.fromkeys(src for src, _ in back):
        loop = nx.descendants(g, layer) & nx.ancestors(g, layer)
        feedback[layer] = [p for p in g.predecessors(layer) if p in loop]
    nested = [n for n, node in nodes.items() if type(node).__name__ == "NIRGraph" and _has_cycle(node)]
    if nested:
        raise ImportFailed(
            diagnostics=[
                Diagnostic(
                    "error",
                    "IMT212",
                    "recurrent subgraph (an older snntorch export of RLeaky/RSynaptic): snncc reads recurrence "
                    "written into the main graph",
                    node=n,
                    hint="re-export the model with nirtorch 2 (snntorch's export_to_nir writes a flat graph), or "
                    "flatten the subgraph into the main graph",
                )
                for n in nested
            ]
        )
    index = {n: i for i, n in enumerate(nodes)}
    forward = g.copy()
    forward.remove_edges_from((p, layer) for layer, ps in feedback.items() for p in ps)
    return list(nx.lexicographical_topological_sort(forward, key=index.__getitem__)), feedback


def _has_cycle(graph: Any) -> bool:
    g = nx.DiGraph(list(graph.edges))
    return next(iter(nx.simple_cycles(g)), None) is not None


def _check_connected(order: list[str], edges: list[tuple[str, str]], first: str, last: str) -> None:
    """Every node lies on a path from the Input to the Output (the IR has no dangling layers)."""
    g = nx.DiGraph(list(edges))
    g.add_nodes_from(order)
    stray = [n for n in order if n not in (first, last) and not (nx.has_path(g, first, n) and nx.has_path(g, n, last))]
    if stray:
        raise ImportFailed(
            diagnostics=[
                Diagnostic("error", "IMT212", "node is not on a path from the Input to the Output", node=n)
                for n in stray
            ]
        )


def _input_shape(node: Any, name: str) -> tuple[int, ...]:
    shape = np.asarray(next(iter(node.input_type.values())), dtype=np.int64).reshape(-1)
    if shape.size == 0 or (shape < 1).any():
        raise ImportFailed(f"the Input node has no usable shape ({shape.tolist()})", code="IMT212", node=name)
    return tuple(int(s) for s in shape)


def _shaped(op: Op, srcs: list[Shape], name: str) -> Op:
    if op.IS_NEURON:  # a neuron layer has its (first) input's shape
        op = dataclasses.replace(op, shape=srcs[0])
    return dataclasses.replace(op, shape=op.infer_shape(srcs, name))


def _add_output(
    builder: GraphBuilder,
    nodes: dict[str, Any],
    preds: dict[str, list[str]],
    ops: dict[str, Op | None],
    output: str,
    readout: str,
    steps: int,
    saved: dict[str, Any],
) -> None:
    if len(preds[output]) != 1:
        raise ImportFailed(
            f"the Output node reads {len(preds[output])} nodes; snncc reads one", code="IMT212", node=output
        )
    last = preds[output][0]
    if ops[last] is not None and ops[last].IS_INPUT:
        raise ImportFailed("the graph has no layers between its Input and Output", code="IMT212", node=output)
    if readout == "saved":  # snncc's own export: its readout neurons are in the graph already
        op = ops[last]
        builder.add(output, Output(shape=op.shape, readout=saved["readout"], scale=float(saved["scale"])), [last])
        return
    path = [last]  # the path from the input to the output, through first inputs where it branches
    while preds[path[-1]]:
        path.append(preds[path[-1]][0])
    add_readout(builder, [(n, ops[n]) for n in reversed(path[:-1])], readout, steps)
