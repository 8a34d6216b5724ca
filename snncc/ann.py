"""The float ANN that conversion starts from: a DAG of linear IR ops, ReLUs and residual sums.

Linear layers are float IR ops (Dense, Conv2d, AvgPool2d, Flatten) with their per-sample shapes
set, so the SNN reuses them unchanged; a ReLU is a marker that conversion turns into a spiking
layer; an Add sums branches (a residual connection) and feeds ReLUs only, so that the neuron
layer made of the ReLU does the sum.  Names are the node names of the user's model (ONNX node
names).  Nodes are in topological order; the last one is the model's output.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from snncc.ir import Op, Shape
from snncc.ir import float_steps as steps


@dataclass(frozen=True)
class Relu:
    """max(x, 0); not an IR op: conversion makes it a layer of IF neurons."""

    shape: Shape


@dataclass(frozen=True)
class Add:
    """The sum of two or more branches (a residual connection); not an IR op: the neuron layer
    it feeds sums its synapse inputs."""

    shape: Shape


Layer = Op | Relu | Add


@dataclass(frozen=True)
class Node:
    name: str
    layer: Layer
    inputs: tuple[str, ...]  # names of earlier nodes or of the model's input


@dataclass(frozen=True)
class Ann:
    source: str  # the model file
    input_name: str  # the model's input (an ONNX graph input)
    input_shape: Shape  # one sample, without the batch axis
    nodes: tuple[Node, ...]  # in topological order; the last is the output
    notes: tuple[str, ...] = ()  # what the import folded, bypassed or approximated, for the report
    approximated: tuple[tuple[str, str], ...] = ()  # (approximation, ONNX node) pairs the user accepted
    file_input_shape: Shape | None = None  # the file's sample shape where the model reshapes its input first

    @property
    def layers(self) -> tuple[tuple[str, Layer], ...]:
        return tuple((n.name, n.layer) for n in self.nodes)

    @property
    def relus(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes if isinstance(n.layer, Relu))

    @property
    def output(self) -> str:
        return self.nodes[-1].name

    @cached_property
    def _by_name(self) -> dict[str, Node]:
        return {n.name: n for n in self.nodes}

    def node(self, name: str) -> Node:
        return self._by_name[name]

    def summands(self, inputs: tuple[str, ...]) -> tuple[str, ...]:
        """``inputs`` with every Add replaced by what it adds (recursively): what a neuron layer sums."""
        out: list[str] = []
        for name in inputs:
            node = None if name == self.input_name else self.node(name)
            out += self.summands(node.inputs) if node is not None and isinstance(node.layer, Add) else [name]
        return tuple(out)

    def ancestors(self, name: str) -> set[str]:
        """``name`` and every node it depends on."""
        found, todo = set(), [name]
        while todo:
            current = todo.pop()
            if current in found or current == self.input_name:
                continue
            found.add(current)
            todo += self.node(current).inputs
        return found


def forward(ann: Ann, x: np.ndarray, *, keep: tuple[str, ...] = ()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ANN's output on a batch x (B, *input_shape), float64, and the outputs of the ``keep`` layers."""
    values = {ann.input_name: np.asarray(x, dtype=np.float64)}
    for node in ann.nodes:
        args = [values[i] for i in node.inputs]
        if isinstance(node.layer, Relu):
            values[node.name] = np.maximum(args[0], 0.0)
        elif isinstance(node.layer, Add):
            values[node.name] = sum(args[1:], args[0])
        else:
            values[node.name] = steps.apply(node.layer, args[0])
    return values[ann.output], {name: values[name] for name in keep}
