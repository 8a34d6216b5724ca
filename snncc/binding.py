"""Binding data to a model: the input shape in which the model takes the samples, and the samples
in that shape.  The model is read once (snncc.importers.torch.read_torch); each candidate shape
only builds its graph from that reading (``graph_for``), so a model is never imported again per
shape.  Readings of samples x[i] of shape S: one input presented at every step (input shape S),
or one input per step, S = (T, *input shape); without --data, the bundled digits as (1, 8, 8) or
(64,)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from snncc.data import BUNDLED_DIGIT_SHAPES, Dataset, verification_data
from snncc.errors import DataError, InvalidGraph
from snncc.ir import Graph, Input, Output

GraphFor = Callable[[tuple[int, ...]], Graph]  # input shape -> the model's FLOAT graph (InvalidGraph if it cannot)


def bind(graph_for: GraphFor, dataset: Dataset | None) -> tuple[Dataset, Graph]:
    """The data (``dataset``, or the bundled digits when None) in the model's input shape, and the
    model's graph for that shape."""
    if dataset is not None:
        graph = bind_samples(graph_for, dataset)
        return shaped_for(dataset, graph), graph
    mismatch = None
    for shape in BUNDLED_DIGIT_SHAPES:
        try:
            graph = graph_for(shape)
        except InvalidGraph as err:
            if not is_shape_error(err):
                raise  # a real problem of the model, not of the data's shape
            mismatch = mismatch or err
            continue
        digits = verification_data(None, input_shape=shape, classes=output_classes(graph))
        return shaped_for(digits, graph), graph
    raise DataError(
        "the model's input does not match the bundled 8x8 digits data, and no --data was given"
        + (f" ({mismatch.diagnostics[0].message})" if mismatch else ""),
        code="DAT011",
        node=mismatch.diagnostics[0].node if mismatch else None,
        hint="pass --data FILE.npz with x of shape (N, *input_shape) and optional labels y",
    )


def bind_samples(graph_for: GraphFor, dataset: Dataset) -> Graph:
    """The graph of a model whose input shape only its data tells.  A reading is kept when the model
    takes that input shape (and, per step, runs T steps); when both readings fit, the data is
    refused as ambiguous rather than guessed."""
    sample = tuple(dataset.x.shape[1:])
    readings = [(sample, False), *([(sample[1:], True)] if len(sample) >= 2 else [])]
    fits: list[tuple[tuple[int, ...], Graph]] = []
    problems: list[tuple[InvalidGraph | None, str]] = []
    for shape, per_step in readings:
        try:
            graph = graph_for(shape)
        except InvalidGraph as err:
            if not is_shape_error(err):
                raise
            problems.append((err, f"as one input of shape {shape}: {err.diagnostics[0].message}"))
            continue
        if per_step and graph.meta.steps != sample[0]:
            problems.append(
                (None, f"as {sample[0]} steps of {shape}: the model runs {graph.meta.steps} steps, not {sample[0]}")
            )
            continue
        fits.append((shape, graph))
    if len(fits) == 1:
        return fits[0][1]
    if fits:
        raise DataError(
            f"samples of shape {sample} fit the model both as one input presented at every step and as "
            f"{sample[0]} steps of one input of shape {sample[1:]}, each",
            code="DAT030",
            source=str(dataset.path),
            hint="snncc cannot tell which you mean: for direct input give x of shape (N, *input_shape); for "
            f"per-step input give x of shape (N, T, *input_shape) with T different from {sample[0]}, or run "
            "the model with another --steps",
        )
    first = next((err for err, _ in problems if err is not None), None)
    raise DataError(
        f"the model cannot take samples of shape {sample}: " + "; ".join(why for _, why in problems),
        code="DAT008",
        source=str(dataset.path),
        node=first.diagnostics[0].node if first else None,
        hint="give x of shape (N, *input_shape) (the same input at every step) or (N, T, *input_shape) "
        "(one input per step, T = the model's steps; pass --steps T for a model that does not fix it)",
    )


def shaped_for(dataset: Dataset, graph: Graph) -> Dataset:
    """The data in the shape of the graph's input, where the model reshaped its input (same sizes)."""
    shape = graph.of_type(Input)[0][1].shape
    if tuple(dataset.x.shape[1:]) == tuple(shape) or int(np.prod(dataset.x.shape[1:])) != int(np.prod(shape)):
        return dataset
    return Dataset(dataset.path, dataset.x.reshape(len(dataset.x), *shape), dataset.y)


def output_classes(graph: Graph) -> int:
    """The number of classes the model's output scores (predict() takes the argmax over them; the
    output op's shape is one step's, per-step readouts add the steps axis only in traces)."""
    _, op = graph.of_type(Output)[0]
    return int(np.prod(op.shape))


def is_shape_error(err: InvalidGraph) -> bool:
    return all(d.code == "GRF004" for d in err.diagnostics)
