"""The bundled example, compiled with --netx-compatible, exports to netx and reads back as the same
integer network, which runs identically; the constrained quantization keeps its accuracy."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pytest

from snncc.backends import Record, get_backend
from snncc.cli import main
from snncc.importers.netx import read_netx
from snncc.ir import IntConv2d, IntDense, IntLIF, load
from snncc.passes.quantize import quantize_inputs

pytestmark = pytest.mark.slow  # compiles the trained example end to end

REPO = Path(__file__).resolve().parents[2]
ALL = Record(spikes=True, v=True, u=True)


def test_bundled_example_exports_to_netx_and_reads_back_identically(tmp_path):
    art, net = tmp_path / "art", tmp_path / "digits.net"
    model = str(REPO / "examples/digits/model.pt")
    assert main(["compile", model, "--target", "loihi2", "--netx-compatible", "--out", str(art), "-q"]) == 0
    assert main(["export", str(art), "--netx", str(net), "-q"]) == 0
    graph = load(art, stem="graph")
    assert all(op.weight_exp == 0 for _, op in graph.of_type(IntDense, IntConv2d))
    assert all((op.bias_exp.array == 6).all() for _, op in graph.of_type(IntLIF))
    with h5py.File(net, "r") as f:
        kinds = [f["layer"][str(i)]["type"][0].decode() for i in range(len(f["layer"]))]
    assert kinds[0] == "input" and "conv" in kinds and "dense" in kinds

    back = read_netx(net)
    assert back.nodes == graph.nodes and back.edges == graph.edges
    x = np.load(REPO / "examples/digits/test_data.npz")["x"][:32]
    values = quantize_inputs(graph, {"input": x})
    a, b = get_backend("refsim").run(graph, values, record=ALL), get_backend("refsim").run(back, values, record=ALL)
    for var in ("spikes", "v", "u"):
        for layer, trace in getattr(a, var).items():
            np.testing.assert_array_equal(trace, getattr(b, var)[layer], err_msg=f"{var} {layer}")

    v = json.loads((art / "report.json").read_text())["verification"]
    assert v["deployed_accuracy"] >= v["float_accuracy"] - 0.01
