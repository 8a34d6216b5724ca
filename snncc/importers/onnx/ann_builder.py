"""The ANN an ONNX import builds node by node, and what the node converters (nodes.py) read and
fold into while they build it: the model's constants, the nodes so far and their sample shapes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from snncc.ann import Add, Layer, Node, Relu
from snncc.errors import Diagnostic, ModelLoadError
from snncc.ir import Shape

PROBE_BATCH = 3  # batch size used to evaluate shape computations (a prime, to tell batch from sample axes)


class Unsupported(Exception):
    """One node snncc cannot convert; the import collects them and reports all at once."""

    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


@dataclass
class AnnBuilder:
    model: Any
    source: str
    approximations: tuple[str, ...]
    # who reads each tensor (a fold into a layer needs it to be the only reader)
    readers: Counter[str]

    def __post_init__(self) -> None:
        from onnx import numpy_helper

        self.graph = self.model.graph
        self.consts: dict[str, np.ndarray] = {}
        for t in self.graph.initializer:
            try:
                self.consts[t.name] = numpy_helper.to_array(t).astype(np.float64)
            except (ValueError, TypeError) as exc:  # e.g. data that does not fit the declared dims
                raise ModelLoadError(
                    f"initializer {t.name!r} cannot be read: {exc}", code="LOD101", source=self.source
                ) from exc
        self.nodes: dict[str, Node] = {}  # the ANN so far, in ONNX (topological) order
        self.producer: dict[str, str] = {}  # data tensor -> the ANN node (or the input) that computes it
        self.shapes: dict[str, Shape | None] = {}  # ANN node -> sample shape; None: unknown after a problem
        self.problems: list[Diagnostic] = []
        self.notes: list[str] = []
        self.approximated: list[tuple[str, str]] = []
        self.input_name = ""
        self.batch: int | None = None  # the model's fixed batch size (e.g. 1), or None when dynamic
        self._inferred: dict[str, list[int | None]] | None = None

    def append(self, name: str, layer: Layer, srcs: list[str]) -> str:
        """Add an ANN node with its shape inferred from its first input's (None when that is unknown)."""
        shape = self.shapes.get(srcs[0])
        if shape is not None:
            layer = (
                type(layer)(shape)
                if isinstance(layer, (Relu, Add))
                else replace(layer, shape=layer.infer_shape([shape], name))
            )
        self.nodes[name] = Node(name, layer, tuple(srcs))
        self.shapes[name] = None if shape is None else layer.shape
        return name

    def fold_target(self, node: Any, src: str, what: str) -> Node | None:
        """The Conv/Gemm/MatMul node ``src`` that a BatchNormalization or constant Add folds into
        (None: unknown after an earlier problem)."""
        if src not in self.nodes and self.shapes.get(src) is None:
            return None  # a node that failed to convert: reported already
        prev = self.nodes.get(src)
        if prev is None or not getattr(prev.layer, "IS_SYNAPSE", False):  # Relu, Add: not ops
            raise Unsupported(
                "IMT102",
                f"{what} that does not directly follow a Conv, Gemm or MatMul cannot be folded",
                "place it right after a convolution or linear layer",
            )
        readers = sum(self.readers[t] for t, p in self.producer.items() if p == src)
        if readers > 1:
            raise Unsupported(
                "IMT102",
                f"{what} of {src!r}, whose output other nodes read too, cannot be folded into it",
                "apply it on one branch only, or fold it into the layer before exporting",
            )
        return prev

    def const(self, node: Any, index: int, what: str) -> np.ndarray | None:
        if len(node.input) <= index or not node.input[index]:
            return None
        tensor = node.input[index]
        if tensor not in self.consts:
            raise Unsupported(
                "IMT105",
                f"the {what} {tensor!r} is computed at run time, not stored in the model",
                "export with constant folding (torch.onnx.export do_constant_folding=True)",
            )
        return self.consts[tensor]

    def inferred_shapes(self) -> dict[str, list[int | None]]:
        """Shapes ONNX shape inference finds with the batch size set to PROBE_BATCH, so that shape
        computations (Shape -> Gather -> Concat -> Reshape) evaluate to numbers."""
        if self._inferred is None:
            import onnx

            probe = onnx.ModelProto()
            probe.CopyFrom(self.model)
            for tensor in probe.graph.input:
                dims = tensor.type.tensor_type.shape.dim
                if tensor.name not in self.consts and dims and not dims[0].HasField("dim_value"):
                    dims[0].dim_value = PROBE_BATCH
            try:
                graph = onnx.shape_inference.infer_shapes(probe, data_prop=True).graph
            except Exception:  # inference is best effort; without it a computed Reshape is refused
                graph = self.graph
            self._inferred = {
                v.name: [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim]
                for v in (*graph.value_info, *graph.output)
            }
        return self._inferred

    def problem(self, code: str, node: str | None, message: str, hint: str | None = None) -> None:
        self.problems.append(Diagnostic("error", code, message, node=node, hint=hint))
