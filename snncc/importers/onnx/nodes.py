"""One ONNX node as one node of the float ANN (snncc/ann.py): a table of converters, one per operator.

A converter gets the builder (ann_builder.py: constants, the nodes so far, their shapes), the ONNX
node, its name, the ANN node it reads and that node's sample shape (None: unknown after an earlier
problem).  It returns the layer to append, None when the node folds into the layer before it
(BatchNormalization, a constant Add) or changes nothing, or the name of the ANN node it appended
itself.  It raises Unsupported for what snncc cannot convert (IMT102 a setting, IMT105 a weight
computed at run time).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np

from snncc.ann import Add, Layer, Relu
from snncc.ir import AvgPool2d, Const, Conv2d, Dense, Flatten, Op, Shape
from snncc.passes.approximate import MAXPOOL_AS_AVGPOOL  # one name for it, in SNN imports and conversion

from .ann_builder import PROBE_BATCH, AnnBuilder, Unsupported

SUPPORTED = (
    "Conv, Gemm, MatMul (+ Add bias), BatchNormalization after Conv/Gemm/MatMul, Relu, AveragePool, "
    "GlobalAveragePool, ReduceMean over height and width, Flatten, Reshape to one vector per sample or of the input, "
    "Dropout, Identity, Add/Sum of branches "
    "followed by Relu"
)
BYPASSED = ("Dropout", "Identity")
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


NodeConverter = Callable[[AnnBuilder, Any, str, str, Shape | None], Layer | str | None]


def join(builder: AnnBuilder, node: Any, srcs: list[str]) -> Add:
    """Add/Sum of branches computed at run time (a residual connection): summed by the neuron after it."""
    constants = [t for t in node.input if t and t not in builder.producer]
    if constants:
        raise Unsupported("IMT102", f"{node.op_type} of branches and the constant(s) {constants}")
    shapes = {tuple(s) for s in (builder.shapes.get(src) for src in srcs) if s is not None}
    if len(shapes) > 1:
        raise Unsupported(
            "IMT102",
            f"{node.op_type} of branches of shapes {sorted(shapes)}: snncc sums branches of equal shape only "
            "(no broadcasting)",
            "give the skip path a projection (1x1 conv) to the main path's shape",
        )
    return Add(())


def conv(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op:
    a = _attrs(node)
    weight = builder.const(node, 1, "weight")
    bias = builder.const(node, 2, "bias")
    if weight is None or weight.ndim != 4:
        raise Unsupported("IMT102", "only 2-D convolutions (4-D weights) are supported")
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


def gemm(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op:
    a = _attrs(node)
    if a.get("transA", 0):
        raise Unsupported("IMT102", "Gemm with transA=1 (the data must be the first operand, untransposed)")
    if node.input[0] not in builder.producer:
        raise Unsupported("IMT102", "Gemm whose first operand is a constant (the data must come first)")
    b = builder.const(node, 1, "weight")
    if b is None or b.ndim != 2:
        raise Unsupported("IMT102", "Gemm needs a 2-D constant weight")
    weight = float(a.get("alpha", 1.0)) * (b if a.get("transB", 0) else b.T)
    c = builder.const(node, 2, "bias")
    bias = None if c is None else _vector(c * float(a.get("beta", 1.0)), weight.shape[0], "Gemm bias C")
    _check_flat(shape, "Gemm")
    return Dense(shape=(), weight=Const(weight), bias=None if bias is None else Const(bias))


def matmul(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op:
    if node.input[0] not in builder.producer:
        raise Unsupported("IMT102", "MatMul with a constant first operand (the data must come first)")
    b = builder.const(node, 1, "weight")
    if b is None or b.ndim != 2:
        raise Unsupported("IMT102", "MatMul needs a 2-D constant weight (K, N)")
    _check_flat(shape, "MatMul")
    return Dense(shape=(), weight=Const(b.T))


def add(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> None:
    """x + constant right after a Conv/Gemm/MatMul: that layer's bias (e.g. MatMul + Add)."""
    other = next(t for t in node.input if t not in builder.producer)
    if other not in builder.consts:
        raise Unsupported("IMT105", f"Add of {other!r}, which is computed at run time")
    prev = builder.fold_target(node, src, "Add of a constant")
    if prev is None:
        return None
    op = prev.layer
    channels = op.weight.shape[0]
    value = builder.consts[other]
    if op.is_conv:
        if value.size not in (1, channels) or (value.ndim >= 2 and value.shape[-2:] != (1, 1)):
            raise Unsupported("IMT102", f"Add of a {value.shape} constant to a conv output is not a per-channel bias")
        value = np.broadcast_to(value.reshape(-1), (channels,))
    else:
        value = _vector(value, channels, "Add constant")
    old = op.bias.array if op.bias is not None else 0.0
    builder.nodes[src] = replace(prev, layer=replace(op, bias=Const(old + value)))
    builder.notes.append(f"Add {name!r} folded into the bias of {src!r}")
    return None


def batchnorm(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> None:
    """Fold into the layer before: w' = w·γ/σ per output channel, b' = (b − mean)·γ/σ + β (exact)."""
    a = _attrs(node)
    if a.get("training_mode", 0) or a.get("spatial", 1) != 1:
        raise Unsupported("IMT102", "BatchNormalization in training mode or with spatial=0")
    gamma, beta, mean, var = (builder.const(node, i, what) for i, what in enumerate(("scale", "B", "mean", "var"), 1))
    prev = builder.fold_target(node, src, "BatchNormalization")
    if prev is None:
        return None
    op = prev.layer
    scale = gamma / np.sqrt(var + float(a.get("epsilon", 1e-5)))
    weight = op.weight.array * scale.reshape((-1,) + (1,) * (op.weight.array.ndim - 1))
    bias = ((op.bias.array if op.bias is not None else 0.0) - mean) * scale + beta
    builder.nodes[src] = replace(prev, layer=replace(op, weight=Const(weight), bias=Const(bias)))
    builder.notes.append(f"BatchNormalization {name!r} folded into {src!r}")
    return None


def relu(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Layer:
    return Relu(shape or ())


def avgpool(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op:
    pool = _pool_window(node, shape)
    if any(pool.padding) and not _attrs(node).get("count_include_pad", 0):
        raise Unsupported(
            "IMT102",
            "AveragePool with padding and count_include_pad=0 (the IR averages padded zeros too)",
            "use AvgPool2d(count_include_pad=True) or no padding",
        )
    return pool


def global_avgpool(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
    if shape is None:
        return None
    if len(shape) != 3:
        raise Unsupported("IMT102", f"Global{node.op_type[6:]} of a {shape} input (expected channels, height, width)")
    return AvgPool2d(shape=(), kernel=shape[1:], stride=shape[1:])


def reduce_mean(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op | str | None:
    """The mean over height and width: global average pooling, as torch's dynamo exporter writes
    nn.AdaptiveAvgPool2d(1) and x.mean((2, 3)); keepdims=0 adds the flatten it implies."""
    a = _attrs(node)
    axes = a.get("axes")  # an attribute before opset 18, an input from 18 on
    if axes is None and len(node.input) > 1 and node.input[1]:
        axes = builder.const(node, 1, "axes")
    if shape is None:
        return None
    if axes is None or len(shape) != 3 or sorted(int(x) % 4 for x in np.ravel(axes)) != [2, 3]:
        over = "all axes" if axes is None else f"axes {[int(x) for x in np.ravel(axes)]}"
        raise Unsupported(
            "IMT102",
            f"ReduceMean over {over} of a {shape} sample: only the mean over height and width "
            "(global average pooling) converts",
            "pool with nn.AdaptiveAvgPool2d(1) or x.mean((2, 3))",
        )
    pool = AvgPool2d(shape=(), kernel=shape[1:], stride=shape[1:])
    if a.get("keepdims", 1):
        return pool
    return builder.append(name, Flatten(shape=()), [builder.append(f"{name}.pool", pool, [src])])


def maxpool(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
    """Refused (WHY_NOT), or with --approximate maxpool-as-avgpool: the mean over the same window."""
    if MAXPOOL_AS_AVGPOOL not in builder.approximations:
        raise Unsupported("IMT101", *WHY_NOT[node.op_type])
    if len(node.output) > 1 and node.output[1]:
        raise Unsupported("IMT102", "MaxPool with an Indices output")
    if node.op_type == "GlobalMaxPool":
        pool = global_avgpool(builder, node, name, src, shape)
    else:
        pool = _pool_window(node, shape)
    builder.approximated.append((MAXPOOL_AS_AVGPOOL, name))
    builder.notes.append(
        f"{node.op_type} {name!r} replaced by average pooling of the same window ({MAXPOOL_AS_AVGPOOL})"
    )
    return pool


def flatten(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
    axis = int(_attrs(node).get("axis", 1))
    rank = None if shape is None else len(shape) + 1
    if axis != 1 and (rank is None or axis != 1 - rank):
        raise Unsupported("IMT102", f"Flatten(axis={axis}) mixes the batch axis with the sample", "use axis=1")
    return None if shape is not None and len(shape) == 1 else Flatten(shape=())


def reshape(builder: AnnBuilder, node: Any, name: str, src: str, shape: Shape | None) -> Op | None:
    target = _reshape_target(builder, node)
    if shape is None:
        return None
    size = int(np.prod(shape))
    if target is not None and len(target) == len(shape) + 1 and tuple(target[1:]) == tuple(shape):
        return None  # reshape to the same sample shape
    # (batch, size): the batch kept as 0 (copy), inferred (-1, None) or the model's fixed batch size
    flat = target is not None and len(target) == 2 and target[0] in (0, -1, None, builder.batch)
    if flat and (target[1] == size or (target[1] == -1 and target[0] != -1)):
        return None if len(shape) == 1 else Flatten(shape=())
    if src == builder.input_name and builder.readers[src] == 1 and (reshaped := _sample_shape(builder, target, size)):
        builder.shapes[src] = reshaped  # the SNN takes the reshaped samples; data of either shape is accepted
        builder.notes.append(f"Reshape {name!r} of the model's input {shape} to samples of shape {reshaped}")
        return None
    raise Unsupported(
        "IMT102",
        f"Reshape of a {shape} sample to {target}: only flattening each sample, or reshaping the model's "
        "input before any layer, is supported",
        "flatten with nn.Flatten() / torch.flatten(x, 1); reshape images only at the start of forward",
    )


def _sample_shape(builder: AnnBuilder, target: list[int | None] | None, size: int) -> Shape | None:
    """The sample shape a Reshape to ``target`` (batch axis first) gives a sample of ``size`` values."""
    if not target or len(target) < 2 or target[0] not in (0, -1, None, builder.batch):
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


def _reshape_target(builder: AnnBuilder, node: Any) -> list[int | None] | None:
    """The target shape: a constant, or else what ONNX shape inference derives for the output."""
    if node.input[1] in builder.consts:
        return [int(v) for v in builder.consts[node.input[1]].reshape(-1)]
    inferred = builder.inferred_shapes().get(node.output[0])
    if inferred and inferred[0] == PROBE_BATCH:
        return [0, *inferred[1:]]  # the batch axis kept
    return inferred


CONVERTERS: dict[str, NodeConverter] = {
    "Conv": conv,
    "Gemm": gemm,
    "MatMul": matmul,
    "Add": add,
    "BatchNormalization": batchnorm,
    "Relu": relu,
    "AveragePool": avgpool,
    "GlobalAveragePool": global_avgpool,
    "ReduceMean": reduce_mean,
    "MaxPool": maxpool,
    "GlobalMaxPool": maxpool,
    "Flatten": flatten,
    "Reshape": reshape,
}


# --- helpers ----------------------------------------------------------------------------------


def _pool_window(node: Any, shape: Shape | None) -> AvgPool2d:
    """Average pooling over the window of a 2-D AveragePool or MaxPool node (zero padding counted)."""
    a = _attrs(node)
    kind = node.op_type
    kernel = tuple(a.get("kernel_shape", ()))
    if len(kernel) != 2:
        raise Unsupported("IMT102", f"only 2-D pooling is supported ({kind} with kernel {list(kernel)})")
    strides = tuple(a.get("strides", (1, 1)))
    if tuple(a.get("dilations", (1, 1))) != (1, 1):
        raise Unsupported("IMT102", f"{kind} with dilations")
    padding = _padding(a, kernel, strides, (1, 1), kind)
    if a.get("ceil_mode", 0) and shape is not None and _ceil_changes(shape, kernel, strides, padding):
        raise Unsupported("IMT102", f"{kind} with ceil_mode=1 that adds partial windows", "use ceil_mode=0")
    return AvgPool2d(shape=(), kernel=kernel, stride=strides, padding=padding)


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
            raise Unsupported("IMT102", f"{kind} auto_pad={auto} pads asymmetrically here", "use explicit pads")
        return (spans[0] // 2, spans[1] // 2)
    pads = tuple(int(p) for p in a.get("pads", (0, 0, 0, 0)))
    if len(pads) != 4 or pads[:2] != pads[2:]:
        raise Unsupported("IMT102", f"{kind} with asymmetric pads {list(pads)}", "use symmetric padding")
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
        raise Unsupported("IMT102", f"{what} of shape {value.shape} is not one value per output ({n})")
    return value.reshape(n)


def _check_flat(shape: Shape | None, kind: str) -> None:
    if shape is not None and len(shape) != 1:
        raise Unsupported(
            "IMT102",
            f"{kind} applied to a {shape} sample acts on its last axis; snncc's dense layer needs a flat input",
            "flatten before the linear layer",
        )
