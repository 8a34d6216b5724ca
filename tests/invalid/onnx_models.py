"""A small ONNX ANN (Conv -> Relu -> Flatten -> Gemm on 1x6x6 inputs) that the hostile-input tests
mutate or build with bad settings."""

from __future__ import annotations

from pathlib import Path

import numpy as np


def onnx_conv(path: Path, strides: tuple[int, int] = (1, 1), conv_weight: float = 0.2) -> Path:
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    weights = [
        numpy_helper.from_array(np.full((2, 1, 3, 3), conv_weight, np.float32), "w"),
        numpy_helper.from_array(np.full((4, 72), 0.1, np.float32), "w2"),
    ]
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], strides=list(strides), pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"]),
        helper.make_node("Flatten", ["r"], ["f"]),
        helper.make_node("Gemm", ["f", "w2"], ["y"], transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 6, 6])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])],
        weights,
    )
    onnx.save(helper.make_model(graph, ir_version=8, opset_imports=[helper.make_opsetid("", 13)]), path)
    return path
