"""The float ANN that conversion starts from: a chain of linear IR ops and ReLUs.

Linear layers are float IR ops (Dense, Conv2d, AvgPool2d, Flatten) with their per-sample shapes
set, so the SNN reuses them unchanged; a ReLU is a marker that conversion turns into a spiking
layer.  Names are the node names of the user's model (ONNX node names).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from snncc.backends.floatsim import steps
from snncc.ir import Op, Shape


@dataclass(frozen=True)
class Relu:
    """max(x, 0); not an IR op: conversion makes it a layer of IF neurons."""

    shape: Shape


Layer = Op | Relu


@dataclass(frozen=True)
class Ann:
    source: str  # the model file
    input_name: str  # the model's input (an ONNX graph input)
    input_shape: Shape  # one sample, without the batch axis
    layers: tuple[tuple[str, Layer], ...]  # (node name, layer) in forward order
    notes: tuple[str, ...] = ()  # what the import folded or bypassed, for the report

    @property
    def relus(self) -> tuple[str, ...]:
        return tuple(name for name, layer in self.layers if isinstance(layer, Relu))


def forward(ann: Ann, x: np.ndarray, *, keep: tuple[str, ...] = ()) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The ANN's output on a batch x (B, *input_shape), float64, and the outputs of the ``keep`` layers."""
    value = np.asarray(x, dtype=np.float64)
    kept: dict[str, np.ndarray] = {}
    for name, layer in ann.layers:
        value = np.maximum(value, 0.0) if isinstance(layer, Relu) else steps.apply(layer, value)
        if name in keep:
            kept[name] = value
    return value, kept
