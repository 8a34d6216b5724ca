"""Max pooling of spikes (a sum pool into an OR neuron layer) runs bit-identically in Lava."""

from __future__ import annotations

import torch
from lava_compare import assert_bit_exact
from torch import nn

import snncc.nn as snn
from snncc.compile import CompileOptions, preflight
from snncc.passes.quantize import quantize_inputs


def test_spike_max_pooling_is_bit_exact_in_lava(tmp_path):
    torch.manual_seed(2)
    body = nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), snn.LIF(tau=2.0), nn.MaxPool2d(3, stride=2, padding=1),
        nn.Flatten(), nn.Linear(4 * 4 * 4, 10), snn.LIF(tau=2.0),
    )  # fmt: skip
    nn.init.uniform_(body[0].weight, -0.5, 1.5)
    nn.init.uniform_(body[4].weight, -0.1, 0.4)
    torch.save(snn.SNN(body, steps=6, readout="sum"), tmp_path / "pool.pt")
    d = preflight(tmp_path / "pool.pt", CompileOptions(target="loihi"))
    x = quantize_inputs(d.int_graph, {d.input_name: d.dataset.x[:3]})
    ref, _ = assert_bit_exact(d.int_graph, x)
    pooled = ref.spike_counts["body.2.or"]
    assert (pooled > 0).any() and (pooled == 0).any() and ref.spike_counts["body.5"].sum() > 0
