"""Read an ONNX ANN into a float ANN description (snncc/ann.py): the model's nodes in order, each
converted by its operator's converter (nodes.py), all problems reported at once."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from snncc.ann import Add, Ann, Node
from snncc.errors import ImportFailed, InvalidGraph
from snncc.ir import Shape

from .ann_builder import AnnBuilder, Unsupported
from .load import load_onnx
from .nodes import (
    ADD_HINT,
    ADD_NOT_BEFORE_RELU,
    APPROXIMATIONS,
    BYPASSED,
    CONVERTERS,
    RESIDUAL_HINT,
    SUPPORTED,
    WHY_NOT,
    join,
)


def check_approximations(names: tuple[str, ...]) -> None:
    unknown = sorted(set(names) - set(APPROXIMATIONS))
    if unknown:
        raise ImportFailed(
            f"unknown approximation(s) for conversion: {', '.join(unknown)}",
            code="IMT030",
            hint=f"available: {', '.join(APPROXIMATIONS)}",
        )


def import_onnx(path: str | Path, approximations: tuple[str, ...] = ()) -> Ann:
    """The ANN in ``path`` as a DAG of float IR ops, ReLUs and sums; every unsupported node reported at once.

    ``approximations``: names from APPROXIMATIONS the user accepts (e.g. maxpool-as-avgpool).
    """
    check_approximations(approximations)
    path = Path(path)
    model = load_onnx(path)
    try:
        return _walk(AnnBuilder(model, str(path), tuple(approximations), _readers(model.graph)))
    except (ImportFailed, InvalidGraph) as err:
        raise err.located(str(path)) from err.__cause__


def _readers(graph: Any) -> Counter[str]:
    """How many nodes (and outputs) read each tensor: Shape reads no values, and a bypassed node's
    output stands for its input (its readers count there)."""
    readers = Counter(t for n in graph.node if n.op_type not in ("Shape", *BYPASSED) for t in n.input)
    readers.update(o.name for o in graph.output)
    return readers


def _walk(builder: AnnBuilder) -> Ann:
    input_name, input_shape = _input(builder)
    builder.input_name = input_name
    builder.producer[input_name] = input_name
    builder.shapes[input_name] = input_shape
    for index, node in enumerate(builder.graph.node):
        name = node.name or f"{node.op_type}_{index}"
        data = [t for t in node.input if t in builder.producer]
        if not data:
            _constant_node(builder, node)
            continue
        if node.op_type == "Shape":  # reads only the shape: feeds Reshape's target shape
            continue
        srcs = [builder.producer[t] for t in data]
        try:
            builder.producer[node.output[0]] = _add_node(builder, node, name, srcs)
        except Unsupported as exc:
            builder.problem(exc.code, name, exc.message, exc.hint)
            builder.producer[node.output[0]], builder.shapes[name] = name, None  # unknown downstream
        except InvalidGraph as exc:
            builder.problems.extend(exc.diagnostics)
            builder.producer[node.output[0]], builder.shapes[name] = name, None
    _check_output(builder)
    if builder.problems:
        raise ImportFailed(diagnostics=builder.problems)
    if not any(getattr(n.layer, "IS_SYNAPSE", False) for n in builder.nodes.values()):  # Relu, Add: not ops
        raise ImportFailed("the model has no Conv, Gemm or MatMul layer to convert", code="IMT101")
    reshaped = builder.shapes[input_name]  # the model's own reshape of its input (x.view(-1, 1, 8, 8))
    return Ann(
        builder.source,
        input_name,
        reshaped or input_shape,
        tuple(builder.nodes.values()),
        tuple(builder.notes),
        tuple(builder.approximated),
        file_input_shape=input_shape if reshaped != input_shape else None,
    )


def _input(builder: AnnBuilder) -> tuple[str, Shape]:
    inputs = [i for i in builder.graph.input if i.name not in builder.consts]
    if len(inputs) != 1:
        raise ImportFailed(
            f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs) or 'none'}); conversion "
            "needs exactly one",
            code="IMT104",
            hint="export a model with one input tensor (batch, *sample_shape)",
        )
    dims = inputs[0].type.tensor_type.shape.dim
    sizes = [d.dim_value if d.HasField("dim_value") else None for d in dims]
    builder.batch = sizes[0] if sizes else None
    if len(sizes) < 2 or any(s is None or s < 1 for s in sizes[1:]):
        raise ImportFailed(
            f"input {inputs[0].name!r} has shape {[s if s else '?' for s in sizes]}; the sizes of one sample "
            "must be fixed",
            code="IMT104",
            hint="export with a fixed sample shape (only the batch axis may be dynamic)",
        )
    return inputs[0].name, tuple(int(s) for s in sizes[1:])


def _constant_node(builder: AnnBuilder, node: Any) -> None:
    """Nodes that do not touch the data: Constant (and Identity of a constant) give weights."""
    from onnx import numpy_helper

    if node.op_type == "Constant":
        attr = {a.name: a for a in node.attribute}
        if "value" in attr:
            builder.consts[node.output[0]] = numpy_helper.to_array(attr["value"].t).astype(np.float64)
    elif node.op_type == "Identity" and node.input[0] in builder.consts:
        builder.consts[node.output[0]] = builder.consts[node.input[0]]
    # anything else computes shapes (Shape -> Gather -> Concat): only Reshape may use it


def _check_output(builder: AnnBuilder) -> None:
    outputs = [o.name for o in builder.graph.output]
    if len(outputs) != 1:
        builder.problem("IMT104", None, f"the model has {len(outputs)} outputs; conversion needs exactly one")
        return
    if builder.problems or outputs[0] not in builder.producer:
        return
    last = builder.producer[outputs[0]]
    if last in builder.nodes and isinstance(builder.nodes[last].layer, Add):
        builder.problem("IMT103", last, ADD_NOT_BEFORE_RELU.format(what="the model's output"), ADD_HINT)
    used = _ancestors(builder.nodes, last)
    for name in builder.nodes:
        if name not in used:
            builder.problem("IMT104", name, f"the result of this node never reaches the model's output {outputs[0]!r}")


def _add_node(builder: AnnBuilder, node: Any, name: str, srcs: list[str]) -> str:
    """Convert one ONNX node reading the ANN nodes ``srcs``; returns the ANN node computing its output."""
    if node.domain not in ("", "ai.onnx"):
        raise Unsupported("IMT101", f"operator {node.domain}.{node.op_type} of a custom domain")
    kind = node.op_type
    if len(srcs) > 1:
        if kind not in ("Add", "Sum"):
            raise Unsupported(
                "IMT103",
                f"{kind} of several branches ({', '.join(repr(s) for s in srcs)}): only Add/Sum may join branches",
                RESIDUAL_HINT,
            )
        return builder.append(name, join(builder, node, srcs), srcs)
    src, shape = srcs[0], builder.shapes.get(srcs[0])
    if kind in BYPASSED:
        builder.notes.append(f"{kind} {name!r} bypassed (inference)")
        return src
    if src in builder.nodes and isinstance(builder.nodes[src].layer, Add) and kind != "Relu":
        raise Unsupported("IMT103", ADD_NOT_BEFORE_RELU.format(what=kind), ADD_HINT)
    convert = CONVERTERS.get(kind)
    if convert is None:
        message, hint = WHY_NOT.get(kind, (f"unsupported ONNX operator {kind}", f"snncc converts {SUPPORTED}"))
        raise Unsupported("IMT101", message, hint)
    layer = convert(builder, node, name, src, shape)
    if isinstance(layer, str):
        return layer  # the converter appended its own nodes
    return src if layer is None else builder.append(name, layer, srcs)


def _ancestors(nodes: dict[str, Node], name: str) -> set[str]:
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in nodes and current not in found:
            found.add(current)
            todo += nodes[current].inputs
    return found
