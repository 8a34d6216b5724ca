"""Read an ONNX ANN into a float ANN description (ann.Ann): a DAG of linear IR ops, ReLUs and sums.

Supported nodes: Conv (2-D, symmetric padding), Gemm, MatMul (+ Add of a constant bias),
BatchNormalization (folded into the Conv/Gemm/MatMul before it, exactly), Relu, AveragePool,
GlobalAveragePool (and ReduceMean over height and width, as torch's dynamo exporter writes it),
Flatten and Reshape to one vector per sample, a Reshape of the model's input (the SNN then takes
the reshaped samples; data of either shape is accepted), Dropout and Identity (bypassed:
inference semantics), and Add/Sum of branches (residual connections, with or without a
Conv+BatchNormalization projection on the skip path) followed by a Relu.  MaxPool/GlobalMaxPool
only as the named approximation ``maxpool-as-avgpool``.  Weights come from initializers (or
Constant nodes); shapes from the model's input.  Everything else (MaxPool by default, Softmax, ...)
is reported with its ONNX node name, all problems at once.

Codes: LOD003 no such file, LOD101 not a readable ONNX model, LOD102 its external weights file is
missing, LOD103 its external weights would be read from outside its folder, IMT101 unsupported node, IMT102 unsupported setting of a supported node, IMT103 a join snncc
cannot sum (not Add, or a sum not followed by a Relu), IMT104 inputs/outputs of the model, IMT105 a weight is computed at run
time, IMT030 an unknown approximation.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from snncc.errors import Diagnostic, ImportFailed, InvalidGraph, ModelLoadError, SnnccError
from snncc.ir import AvgPool2d, Const, Conv2d, Dense, Flatten, Op, Shape
from snncc.limits import check_elements
from snncc.passes.approximate import MAXPOOL_AS_AVGPOOL  # one name for it, in SNN imports and conversion

from .ann import Add, Ann, Layer, Node, Relu

SUPPORTED = (
    "Conv, Gemm, MatMul (+ Add bias), BatchNormalization after Conv/Gemm/MatMul, Relu, AveragePool, "
    "GlobalAveragePool, ReduceMean over height and width, Flatten, Reshape to one vector per sample or of the input, "
    "Dropout, Identity, Add/Sum of branches "
    "followed by Relu"
)
BYPASSED = ("Dropout", "Identity")
PROBE_BATCH = 3  # batch size used to evaluate shape computations (a prime, to tell batch from sample axes)
APPROXIMATIONS = {
    MAXPOOL_AS_AVGPOOL: "each MaxPool/GlobalMaxPool replaced by average pooling over the same window "
    "(zero padding counted); the ANN accuracy is still that of the real MaxPool (onnxruntime)",
}
WHY_NOT = {
    "MaxPool": (
        "MaxPool cannot be converted exactly: the max of spike trains is not the max of their rates",
        "train the ANN with average pooling (nn.AvgPool2d) instead of MaxPool, as conversion methods do, or "
        f"accept average pooling of the same window with --approximate {MAXPOOL_AS_AVGPOOL} (the report "
        "compares it with the real ANN)",
    ),
    "GlobalMaxPool": (
        "GlobalMaxPool cannot be converted exactly: the max of spike trains is not the max of their rates",
        f"train the ANN with global average pooling instead, or accept it with --approximate {MAXPOOL_AS_AVGPOOL}",
    ),
    "Softmax": (
        "Softmax has no spiking form",
        "export the logits: remove the final Softmax (it does not change the predicted class)",
    ),
    "LogSoftmax": (
        "LogSoftmax has no spiking form",
        "export the logits: remove the final LogSoftmax (it does not change the predicted class)",
    ),
}
RESIDUAL_HINT = (
    "snncc sums branches in the neuron layer after them: join branches with Add (or Sum) followed by a ReLU, "
    "as residual blocks do; concatenation and products of branches have no spiking form here"
)
ADD_NOT_BEFORE_RELU = (
    "a sum of branches feeds {what}; snncc sums branches only in a neuron layer, so a residual Add must be "
    "followed by a Relu"
)
ADD_HINT = "apply the ReLU right after the residual Add (out = relu(main + skip)), as ResNet blocks do"


class _Unsupported(Exception):
    def __init__(self, code: str, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.hint = code, message, hint


def load_onnx(path: Path) -> Any:
    """The onnx ModelProto of ``path``, checked; a clear error for a missing or unreadable file."""
    import onnx  # imported only when converting

    if not path.is_file():
        raise ModelLoadError("model file not found", code="LOD003", source=str(path))
    try:
        model = onnx.load(str(path), load_external_data=False)
        _check_external_data(model, path)
        onnx.external_data_helper.load_external_data_for_model(model, str(path.parent))
        onnx.checker.check_model(model)
    except SnnccError:  # our own refusals (LOD102, LOD103, LIM001)
        raise
    except Exception as exc:  # protobuf decode errors, checker failures: all mean "not a usable ONNX file"
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelLoadError(
            f"not a readable ONNX model ({first})",
            code="LOD101",
            source=str(path),
            hint="export the ANN with torch.onnx.export (or another ONNX exporter) and pass the .onnx file",
        ) from exc
    return model


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
        return _Walker(model, str(path), tuple(approximations)).run()
    except (ImportFailed, InvalidGraph) as err:
        raise err.located(str(path)) from err.__cause__


@dataclass
class _Walker:
    model: Any
    source: str
    approximations: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from onnx import numpy_helper

        self.graph = self.model.graph
        self.consts: dict[str, np.ndarray] = {
            t.name: numpy_helper.to_array(t).astype(np.float64) for t in self.graph.initializer
        }
        self.nodes: dict[str, Node] = {}  # the ANN so far, in ONNX (topological) order
        self.producer: dict[str, str] = {}  # data tensor -> the ANN node (or the input) that computes it
        self.shapes: dict[str, Shape | None] = {}  # ANN node -> sample shape; None: unknown after a problem
        # who reads each tensor (a fold into a layer needs it to be the only reader); Shape reads no values,
        # and a bypassed node's output stands for its input (its readers count there)
        self.readers = Counter(t for n in self.graph.node if n.op_type not in ("Shape", *BYPASSED) for t in n.input)
        self.readers.update(o.name for o in self.graph.output)
        self.problems: list[Diagnostic] = []
        self.notes: list[str] = []
        self.approximated: list[tuple[str, str]] = []
        self._inferred: dict[str, list[int | None]] | None = None

    # --- walk ---------------------------------------------------------------------------------
    def run(self) -> Ann:
        input_name, input_shape = self._input()
        self.input_name = input_name
        self.producer[input_name] = input_name
        self.shapes[input_name] = input_shape
        for index, node in enumerate(self.graph.node):
            name = node.name or f"{node.op_type}_{index}"
            data = [t for t in node.input if t in self.producer]
            if not data:
                self._constant_node(node)
                continue
            if node.op_type == "Shape":  # reads only the shape: feeds Reshape's target shape
                continue
            srcs = [self.producer[t] for t in data]
            try:
                self.producer[node.output[0]] = self._add_node(node, name, srcs)
            except _Unsupported as exc:
                self._problem(exc.code, name, exc.message, exc.hint)
                self.producer[node.output[0]], self.shapes[name] = name, None  # unknown downstream
            except InvalidGraph as exc:
                self.problems.extend(exc.diagnostics)
                self.producer[node.output[0]], self.shapes[name] = name, None
        self._check_output()
        if self.problems:
            raise ImportFailed(diagnostics=self.problems)
        if not any(isinstance(n.layer, (Dense, Conv2d)) for n in self.nodes.values()):
            raise ImportFailed("the model has no Conv, Gemm or MatMul layer to convert", code="IMT101")
        reshaped = self.shapes[input_name]  # the model's own reshape of its input (x.view(-1, 1, 8, 8))
        return Ann(
            self.source,
            input_name,
            reshaped or input_shape,
            tuple(self.nodes.values()),
            tuple(self.notes),
            tuple(self.approximated),
            file_input_shape=input_shape if reshaped != input_shape else None,
        )

    def _input(self) -> tuple[str, Shape]:
        inputs = [i for i in self.graph.input if i.name not in self.consts]
        if len(inputs) != 1:
            raise ImportFailed(
                f"the model has {len(inputs)} inputs ({', '.join(i.name for i in inputs) or 'none'}); conversion "
                "needs exactly one",
                code="IMT104",
                hint="export a model with one input tensor (batch, *sample_shape)",
            )
        dims = inputs[0].type.tensor_type.shape.dim
        sizes = [d.dim_value if d.HasField("dim_value") else None for d in dims]
        self.batch = sizes[0] if sizes else None  # a fixed batch size (e.g. 1), or None when dynamic
        if len(sizes) < 2 or any(s is None or s < 1 for s in sizes[1:]):
            raise ImportFailed(
                f"input {inputs[0].name!r} has shape {[s if s else '?' for s in sizes]}; the sizes of one sample "
                "must be fixed",
                code="IMT104",
                hint="export with a fixed sample shape (only the batch axis may be dynamic)",
            )
        return inputs[0].name, tuple(int(s) for s in sizes[1:])

    def _constant_node(self, node: Any) -> None:
        """Nodes that do not touch the data: Constant (and Identity of a constant) give weights."""
        from onnx import numpy_helper

        if node.op_type == "Constant":
            attr = {a.name: a for a in node.attribute}
            if "value" in attr:
                self.consts[node.output[0]] = numpy_helper.to_array(attr["value"].t).astype(np.float64)
        elif node.op_type == "Identity" and node.input[0] in self.consts:
            self.consts[node.output[0]] = self.consts[node.input[0]]
        # anything else computes shapes (Shape -> Gather -> Concat): only Reshape may use it

    def _check_output(self) -> None:
        outputs = [o.name for o in self.graph.output]
        if len(outputs) != 1:
            self._problem("IMT104", None, f"the model has {len(outputs)} outputs; conversion needs exactly one")
            return
        if self.problems or outputs[0] not in self.producer:
            return
        last = self.producer[outputs[0]]
        if last in self.nodes and isinstance(self.nodes[last].layer, Add):
            self._problem("IMT103", last, ADD_NOT_BEFORE_RELU.format(what="the model's output"), ADD_HINT)
        used = _ancestors(self.nodes, last)
        for name in self.nodes:
            if name not in used:
                self._problem(
                    "IMT104", name, f"the result of this node never reaches the model's output {outputs[0]!r}"
                )

    def _problem(self, code: str, node: str | None, message: str, hint: str | None = None) -> None:
        self.problems.append(Diagnostic("error", code, message, node=node, hint=hint))

    # --- nodes --------------------------------------------------------------------------------
    def _add_node(self, node: Any, name: str, srcs: list[str]) -> str:
        """Convert one ONNX node reading the ANN nodes ``srcs``; returns the ANN node computing its output."""
        if node.domain not in ("", "ai.onnx"):
            raise _Unsupported("IMT101", f"operator {node.domain}.{node.op_type} of a custom domain")
        kind = node.op_type
        if len(srcs) > 1:
            if kind not in ("Add", "Sum"):
                raise _Unsupported(
                    "IMT103",
                    f"{kind} of several branches ({', '.join(repr(s) for s in srcs)}): only Add/Sum may join branches",
                    RESIDUAL_HINT,
                )
            return self._append(name, self._join(node, srcs), srcs)
        src, shape = srcs[0], self.shapes.get(srcs[0])
        if kind in BYPASSED:
            self.notes.append(f"{kind} {name!r} bypassed (inference)")
            return src
        if src in self.nodes and isinstance(self.nodes[src].layer, Add) and kind != "Relu":
            raise _Unsupported("IMT103", ADD_NOT_BEFORE_RELU.format(what=kind), ADD_HINT)
        handler = {
            "Conv": self._conv,
            "Gemm": self._gemm,
            "MatMul": self._matmul,
            "Add": self._add,
            "BatchNormalization": self._batchnorm,
            "Relu": self._relu,
            "AveragePool": self._avgpool,
            "GlobalAveragePool": self._global_avgpool,
            "ReduceMean": self._reduce_mean,
            "MaxPool": self._maxpool,
            "GlobalMaxPool": self._maxpool,
            "Flatten": self._flatten,
            "Reshape": self._reshape,
        }.get(kind)
        if handler is None:
            message, hint = WHY_NOT.get(kind, (f"unsupported ONNX operator {kind}", f"snncc converts {SUPPORTED}"))
            raise _Unsupported("IMT101", message, hint)
        layer = handler(node, name, src, shape)
        if isinstance(layer, str):
            return layer  # the handler appended its own nodes
        return src if layer is None else self._append(name, layer, srcs)

    def _append(self, name: str, layer: Layer, srcs: list[str]) -> str:
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

    def _join(self, node: Any, srcs: list[str]) -> Add:
        """Add/Sum of branches computed at run time (a residual connection): summed by the neuron after it."""
        constants = [t for t in node.input if t and t not in self.producer]
        if constants:
            raise _Unsupported("IMT102", f"{node.op_type} of branches and the constant(s) {constants}")
        shapes = {tuple(s) for s in (self.shapes.get(src) for src in srcs) if s is not None}
        if len(shapes) > 1:
            raise _Unsupported(
                "IMT102",
                f"{node.op_type} of branches of shapes {sorted(shapes)}: snncc sums branches of equal shape only "
                "(no broadcasting)",
                "give the skip path a projection (1x1 conv) to the main path's shape",
            )
        return Add(())

    def _fold_target(self, node: Any, src: str, what: str) -> Node | None:
        """The Conv/Gemm/MatMul node ``src`` that a BatchNormalization or constant Add folds into
        (None: unknown after an earlier problem)."""
        if src not in self.nodes and self.shapes.get(src) is None:
            return None  # a node that failed to convert: reported already
        prev = self.nodes.get(src)
        if prev is None or not isinstance(prev.layer, (Dense, Conv2d)):
            raise _Unsupported(
                "IMT102",
                f"{what} that does not directly follow a Conv, Gemm or MatMul cannot be folded",
                "place it right after a convolution or linear layer",
            )
        readers = sum(self.readers[t] for t, p in self.producer.items() if p == src)
        if readers > 1:
            raise _Unsupported(
                "IMT102",
                f"{what} of {src!r}, whose output other nodes read too, cannot be folded into it",
                "apply it on one branch only, or fold it into the layer before exporting",
            )
        return prev

    def _const(self, node: Any, index: int, what: str) -> np.ndarray | None:
        if len(node.input) <= index or not node.input[index]:
            return None
        tensor = node.input[index]
        if tensor not in self.consts:
            raise _Unsupported(
                "IMT105",
                f"the {what} {tensor!r} is computed at run time, not stored in the model",
                "export with constant folding (torch.onnx.export do_constant_folding=True)",
            )
        return self.consts[tensor]

    def _conv(self, node: Any, name: str, src: str, shape: Shape | None) -> Op:
        a = _attrs(node)
        weight = self._const(node, 1, "weight")
        bias = self._const(node, 2, "bias")
        if weight is None or weight.ndim != 4:
            raise _Unsupported("IMT102", "only 2-D convolutions (4-D weights) are supported")
        kernel = tuple(weight.shape[2:])
        strides = tuple(a.get("strides", (1, 1)))
        dilations = tuple(a.get("dilations", (1, 1)))
        padding = _padding(a, kernel, strides, dilations, "Conv")
        return Conv2d(
            shape=(),
            weight=Const(weight),
            bias=None if bias is None else Const(bias.reshape(-1)),
            stride=strides,
            padding=padding,
            dilation=dilations,
            groups=int(a.get("group", 1)),
        )

    def _gemm(self, node: Any, name: str, src: str, shape: Shape | None) -> Op:
        a = _attrs(node)
        if a.get("transA", 0):
            raise _Unsupported("IMT102", "Gemm with transA=1 (the data must be the first operand, untransposed)")
        if node.input[0] not in self.producer:
            raise _Unsupported("IMT102", "Gemm whose first operand is a constant (the data must come first)")
        b = self._const(node, 1, "weight")
        if b is None or b.ndim != 2:
            raise _Unsupported("IMT102", "Gemm needs a 2-D constant weight")
        weight = float(a.get("alpha", 1.0)) * (b if a.get("transB", 0) else b.T)
        c = self._const(node, 2, "bias")
        bias = None if c is None else _vector(c * float(a.get("beta", 1.0)), weight.shape[0], "Gemm bias C")
        _check_flat(shape, "Gemm")
        return Dense(shape=(), weight=Const(weight), bias=None if bias is None else Const(bias))

    def _matmul(self, node: Any, name: str, src: str, shape: Shape | None) -> Op:
        if node.input[0] not in self.producer:
            raise _Unsupported("IMT102", "MatMul with a constant first operand (the data must come first)")
        b = self._const(node, 1, "weight")
        if b is None or b.ndim != 2:
            raise _Unsupported("IMT102", "MatMul needs a 2-D constant weight (K, N)")
        _check_flat(shape, "MatMul")
        return Dense(shape=(), weight=Const(b.T))

    def _add(self, node: Any, name: str, src: str, shape: Shape | None) -> None:
        """x + constant right after a Conv/Gemm/MatMul: that layer's bias (e.g. MatMul + Add)."""
        other = next(t for t in node.input if t not in self.producer)
        if other not in self.consts:
            raise _Unsupported("IMT105", f"Add of {other!r}, which is computed at run time")
        prev = self._fold_target(node, src, "Add of a constant")
        if prev is None:
            return None
        op = prev.layer
        channels = op.weight.shape[0]
        value = self.consts[other]
        if isinstance(op, Conv2d):
            if value.size not in (1, channels) or (value.ndim >= 2 and value.shape[-2:] != (1, 1)):
                raise _Unsupported(
                    "IMT102", f"Add of a {value.shape} constant to a conv output is not a per-channel bias"
                )
            value = np.broadcast_to(value.reshape(-1), (channels,))
        else:
            value = _vector(value, channels, "Add constant")
        old = op.bias.array if op.bias is not None else 0.0
        self.nodes[src] = replace(prev, layer=replace(op, bias=Const(old + value)))
        self.notes.append(f"Add {name!r} folded into the bias of {src!r}")
        return None

    def _batchnorm(self, node: Any, name: str, src: str, shape: Shape | None) -> None:
        """Fold into the layer before: w' = w·γ/σ per output channel, b' = (b − mean)·γ/σ + β (exact)."""
        a = _attrs(node)
        if a.get("training_mode", 0) or a.get("spatial", 1) != 1:
            raise _Unsupported("IMT102", "BatchNormalization in training mode or with spatial=0")
        gamma, beta, mean, var = (self._const(node, i, what) for i, what in enumerate(("scale", "B", "mean", "var"), 1))
        prev = self._fold_target(node, src, "BatchNormalization")
        if prev is None:
            return None
        op = prev.layer
        scale = gamma / np.sqrt(var + float(a.get("epsilon", 1e-5)))
        weight = op.weight.array * scale.reshape((-1,) + (1,) * (op.weight.array.ndim - 1))
        bias = ((op.bias.array if op.bias is not None else 0.0) - mean) * scale + beta
        self.nodes[src] = replace(prev, layer=replace(op, weight=Const(weight), bias=Const(bias)))
        self.notes.append(f"BatchNormalization {name!r} folded into {src!r}")
        return None

    def _relu(self, node: Any, name: str, src: str, shape: Shape | None) -> Layer:
        return Relu(shape or ())

    def _avgpool(self, node: Any, name: str, src: str, shape: Shape | None) -> Op:
        pool = _pool_window(node, shape)
        if any(pool.padding) and not _attrs(node).get("count_include_pad", 0):
            raise _Unsupported(
                "IMT102",
                "AveragePool with padding and count_include_pad=0 (the IR averages padded zeros too)",
                "use AvgPool2d(count_include_pad=True) or no padding",
            )
        return pool

    def _global_avgpool(self, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
        if shape is None:
            return None
        if len(shape) != 3:
            raise _Unsupported(
                "IMT102", f"Global{node.op_type[6:]} of a {shape} input (expected channels, height, width)"
            )
        return AvgPool2d(shape=(), kernel=shape[1:], stride=shape[1:])

    def _reduce_mean(self, node: Any, name: str, src: str, shape: Shape | None) -> Op | str | None:
        """The mean over height and width: global average pooling, as torch's dynamo exporter writes
        nn.AdaptiveAvgPool2d(1) and x.mean((2, 3)); keepdims=0 adds the flatten it implies."""
        a = _attrs(node)
        axes = a.get("axes")  # an attribute before opset 18, an input from 18 on
        if axes is None and len(node.input) > 1 and node.input[1]:
            axes = self._const(node, 1, "axes")
        if shape is None:
            return None
        if axes is None or len(shape) != 3 or sorted(int(x) % 4 for x in np.ravel(axes)) != [2, 3]:
            over = "all axes" if axes is None else f"axes {[int(x) for x in np.ravel(axes)]}"
            raise _Unsupported(
                "IMT102",
                f"ReduceMean over {over} of a {shape} sample: only the mean over height and width "
                "(global average pooling) converts",
                "pool with nn.AdaptiveAvgPool2d(1) or x.mean((2, 3))",
            )
        pool = AvgPool2d(shape=(), kernel=shape[1:], stride=shape[1:])
        if a.get("keepdims", 1):
            return pool
        return self._append(name, Flatten(shape=()), [self._append(f"{name}.pool", pool, [src])])

    def _maxpool(self, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
        """Refused (WHY_NOT), or with --approximate maxpool-as-avgpool: the mean over the same window."""
        if MAXPOOL_AS_AVGPOOL not in self.approximations:
            raise _Unsupported("IMT101", *WHY_NOT[node.op_type])
        if len(node.output) > 1 and node.output[1]:
            raise _Unsupported("IMT102", "MaxPool with an Indices output")
        if node.op_type == "GlobalMaxPool":
            pool = self._global_avgpool(node, name, src, shape)
        else:
            pool = _pool_window(node, shape)
        self.approximated.append((MAXPOOL_AS_AVGPOOL, name))
        self.notes.append(
            f"{node.op_type} {name!r} replaced by average pooling of the same window ({MAXPOOL_AS_AVGPOOL})"
        )
        return pool

    def _flatten(self, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
        axis = int(_attrs(node).get("axis", 1))
        rank = None if shape is None else len(shape) + 1
        if axis != 1 and (rank is None or axis != 1 - rank):
            raise _Unsupported("IMT102", f"Flatten(axis={axis}) mixes the batch axis with the sample", "use axis=1")
        return None if shape is not None and len(shape) == 1 else Flatten(shape=())

    def _reshape(self, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
        target = self._reshape_target(node)
        if shape is None:
            return None
        size = int(np.prod(shape))
        if target is not None and len(target) == len(shape) + 1 and tuple(target[1:]) == tuple(shape):
            return None  # reshape to the same sample shape
        # (batch, size): the batch kept as 0 (copy), inferred (-1, None) or the model's fixed batch size
        flat = target is not None and len(target) == 2 and target[0] in (0, -1, None, self.batch)
        if flat and (target[1] == size or (target[1] == -1 and target[0] != -1)):
            return None if len(shape) == 1 else Flatten(shape=())
        if src == self.input_name and self.readers[src] == 1 and (reshaped := self._sample_shape(target, size)):
            self.shapes[src] = reshaped  # the SNN takes the reshaped samples; data of either shape is accepted
            self.notes.append(f"Reshape {name!r} of the model's input {shape} to samples of shape {reshaped}")
            return None
        raise _Unsupported(
            "IMT102",
            f"Reshape of a {shape} sample to {target}: only flattening each sample, or reshaping the model's "
            "input before any layer, is supported",
            "flatten with nn.Flatten() / torch.flatten(x, 1); reshape images only at the start of forward",
        )

    def _sample_shape(self, target: list[int | None] | None, size: int) -> Shape | None:
        """The sample shape a Reshape to ``target`` (batch axis first) gives a sample of ``size`` values."""
        if not target or len(target) < 2 or target[0] not in (0, -1, None, self.batch):
            return None
        rest = list(target[1:])
        if any(s is None or s == 0 or s < -1 for s in rest) or rest.count(-1) > (0 if target[0] == -1 else 1):
            return None
        known = int(np.prod([s for s in rest if s != -1]))
        if -1 in rest:
            if known == 0 or size % known:
                return None
            rest[rest.index(-1)] = size // known
        return tuple(int(s) for s in rest) if int(np.prod(rest)) == size else None

    def _reshape_target(self, node: Any) -> list[int | None] | None:
        """The target shape: a constant, or else what ONNX shape inference derives for the output."""
        if node.input[1] in self.consts:
            return [int(v) for v in self.consts[node.input[1]].reshape(-1)]
        inferred = self._inferred_shapes().get(node.output[0])
        if inferred and inferred[0] == PROBE_BATCH:
            return [0, *inferred[1:]]  # the batch axis kept
        return inferred

    def _inferred_shapes(self) -> dict[str, list[int | None]]:
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


# --- helpers ----------------------------------------------------------------------------------


def _check_external_data(model: Any, path: Path) -> None:
    """Weights kept in files beside the model (torch's default exporter writes NAME.onnx.data) must be there."""
    from onnx.external_data_helper import ExternalDataInfo, uses_external_data

    for tensor in model.graph.initializer:  # declared sizes, before any data is read or converted
        check_elements(math.prod(tensor.dims), f"initializer {tensor.name!r}", source=str(path))
    places = {ExternalDataInfo(t).location for t in model.graph.initializer if uses_external_data(t)}
    folder = path.parent.resolve()
    outside = sorted(p for p in places if not _plain_file_inside(folder, p))
    if outside:  # onnx >= 1.16 refuses these too; snncc does not rely on the version
        raise ModelLoadError(
            f"the model's weights would be read from {', '.join(outside)}, outside the model's folder "
            "(an absolute path, '..' or a symbolic link)",
            code="LOD103",
            source=str(path),
            hint="keep the weights file (NAME.onnx.data) as a plain file beside the .onnx file",
        )
    missing = sorted(p for p in places if not (path.parent / p).is_file())
    if missing:
        raise ModelLoadError(
            f"the model keeps its weights in {', '.join(missing)}, which is not beside it",
            code="LOD102",
            source=str(path),
            hint="copy that file next to the .onnx file (torch.onnx.export writes both), or re-export with "
            "torch.onnx.export(..., external_data=False)",
        )


def _plain_file_inside(folder: Path, location: str) -> bool:
    """``location`` names a file in ``folder`` itself or below, reached without symbolic links."""
    candidate = folder / location
    if Path(location).is_absolute() or ".." in Path(location).parts or candidate.is_symlink():
        return False
    return candidate.resolve().is_relative_to(folder)


def _pool_window(node: Any, shape: Shape | None) -> AvgPool2d:
    """Average pooling over the window of a 2-D AveragePool or MaxPool node (zero padding counted)."""
    a = _attrs(node)
    kind = node.op_type
    kernel = tuple(a.get("kernel_shape", ()))
    if len(kernel) != 2:
        raise _Unsupported("IMT102", f"only 2-D pooling is supported ({kind} with kernel {list(kernel)})")
    strides = tuple(a.get("strides", (1, 1)))
    if tuple(a.get("dilations", (1, 1))) != (1, 1):
        raise _Unsupported("IMT102", f"{kind} with dilations")
    padding = _padding(a, kernel, strides, (1, 1), kind)
    if a.get("ceil_mode", 0) and shape is not None and _ceil_changes(shape, kernel, strides, padding):
        raise _Unsupported("IMT102", f"{kind} with ceil_mode=1 that adds partial windows", "use ceil_mode=0")
    return AvgPool2d(shape=(), kernel=kernel, stride=strides, padding=padding)


def _ancestors(nodes: dict[str, Node], name: str) -> set[str]:
    found, todo = set(), [name]
    while todo:
        current = todo.pop()
        if current in nodes and current not in found:
            found.add(current)
            todo += nodes[current].inputs
    return found


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper

    return {a.name: helper.get_attribute_value(a) for a in node.attribute}


def _padding(
    a: dict[str, Any], kernel: tuple[int, ...], strides: tuple[int, ...], dilations: tuple[int, ...], kind: str
) -> tuple[int, int]:
    """Symmetric (pad_h, pad_w) from ONNX pads / auto_pad; asymmetric padding is refused."""
    auto = a.get("auto_pad", b"NOTSET")
    auto = auto.decode() if isinstance(auto, bytes) else str(auto)
    if auto == "VALID":
        return (0, 0)
    if auto in ("SAME_UPPER", "SAME_LOWER"):
        spans = [d * (k - 1) for d, k in zip(dilations, kernel, strict=True)]
        if any(s != 1 for s in strides) or any(span % 2 for span in spans):
            raise _Unsupported("IMT102", f"{kind} auto_pad={auto} pads asymmetrically here", "use explicit pads")
        return (spans[0] // 2, spans[1] // 2)
    pads = tuple(int(p) for p in a.get("pads", (0, 0, 0, 0)))
    if len(pads) != 4 or pads[:2] != pads[2:]:
        raise _Unsupported("IMT102", f"{kind} with asymmetric pads {list(pads)}", "use symmetric padding")
    return (pads[0], pads[1])


def _ceil_changes(shape: Shape, kernel: tuple[int, ...], strides: tuple[int, ...], padding: tuple[int, int]) -> bool:
    for size, k, s, p in zip(shape[1:], kernel, strides, padding, strict=False):
        span = size + 2 * p - k
        if span % s:
            return True
    return False


def _vector(value: np.ndarray, n: int, what: str) -> np.ndarray:
    if value.size == 1:
        return np.full(n, float(value.reshape(-1)[0]))
    if value.size != n or (value.ndim == 2 and value.shape[0] != 1) or value.ndim > 2:
        raise _Unsupported("IMT102", f"{what} of shape {value.shape} is not one value per output ({n})")
    return value.reshape(n)


def _check_flat(shape: Shape | None, kind: str) -> None:
    if shape is not None and len(shape) != 1:
        raise _Unsupported(
            "IMT102",
            f"{kind} applied to a {shape} sample acts on its last axis; snncc's dense layer needs a flat input",
            "flatten before the linear layer",
        )
